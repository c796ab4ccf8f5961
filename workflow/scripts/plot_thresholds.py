"""Multi-label: per-class F1 of the mixed OOF predictions against the threshold, the chosen one marked."""

import numpy as np

from foldwise import artifacts, manifest, plots

with artifacts.script_log(snakemake.log[0]):
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    _, truth, scores, classes = plots.oof_with_labels(artifacts.read_table(snakemake.input.oof), hard)
    fitted = artifacts.read_json(snakemake.input.thresholds)
    chosen = np.array([dict(zip(fitted["classes"], fitted["thresholds"]))[c] for c in classes])
    figure = plots.f1_thresholds(truth, scores, classes, chosen, f"F1 against threshold ({fitted['method']})")
    plots.save_figure(figure, snakemake.output.figure)
