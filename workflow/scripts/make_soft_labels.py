"""Soft labels for distillation: alpha * hard + (1 - alpha) * teacher OOF, joined on the id.

Without a fold: the base models' OOF for every training row. With one (nested teachers): the
OOF of the models trained without that fold, for the rows its distilled model trains on.
"""

import pandas as pd

from foldwise import artifacts, distill, manifest

with artifacts.script_log(snakemake.log[0]) as log:
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    if "fold" in snakemake.wildcards.keys():
        folds = distill.teacher_folds(artifacts.read_table(snakemake.input.folds), f"nested{snakemake.wildcards.fold}")
        hard = hard[hard.id.isin(folds.id)]
    oof = pd.concat([artifacts.read_table(path) for path in snakemake.input.oof], ignore_index=True)
    labels = distill.soft_labels(hard, oof, snakemake.params.alpha)
    log.info("soft labels for %d training rows, alpha %.2f", len(labels), snakemake.params.alpha)
    artifacts.write_table(labels, snakemake.output.labels)
