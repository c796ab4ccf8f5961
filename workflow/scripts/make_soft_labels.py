"""Soft labels for distillation: alpha * hard + (1 - alpha) * base OOF, joined on the id."""

from foldwise import artifacts, distill, manifest

with artifacts.script_log(snakemake.log[0]) as log:
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    labels = distill.soft_labels(hard, artifacts.read_table(snakemake.input.oof[0]), snakemake.params.alpha)
    log.info("soft labels for %d training rows, alpha %.2f", len(labels), snakemake.params.alpha)
    artifacts.write_table(labels, snakemake.output.labels)
