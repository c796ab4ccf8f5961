"""The most confidently wrong out-of-fold samples of one stage, with Grad-CAM from each one's fold model."""

import torch

from foldwise import artifacts, cache, gradcam, manifest, plots

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    hard = manifest.label_table(table, "train")
    oof = artifacts.read_table(snakemake.input.oof)
    worst = plots.worst_samples(oof, hard, snakemake.params.task, snakemake.params.limit)
    log.info("%d most confidently wrong of %d OOF samples", len(worst), len(oof))
    pixels = plots.pick(cache.load(snakemake.input.images[0]), artifacts.read_table(snakemake.input.index[0]), worst.id)
    torch.set_num_threads(snakemake.threads)
    maps = gradcam.explain(worst, pixels, snakemake.input.models)
    classes = [c for c in hard.columns if c != "id"]
    cells = gradcam.error_cells(worst, pixels, maps, manifest.channels(table), classes)
    title = f"{snakemake.wildcards.stage}: most confidently wrong out-of-fold samples"
    plots.save_figure(plots.image_grid(cells, 4, title), snakemake.output.gallery)
