"""A figure of out-of-fold predictions against the labels: ROC curves, or the confusion matrix."""

from foldwise import artifacts, manifest, plots

FIGURES = {"plot_roc": (plots.roc_curves, "ROC curves"), "plot_confusion": (plots.confusion_matrix, "confusion matrix")}

with artifacts.script_log(snakemake.log[0]):
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    _, truth, scores, classes = plots.oof_with_labels(artifacts.read_table(snakemake.input.oof), hard)
    draw, name = FIGURES[snakemake.rule]
    plots.save_figure(
        draw(truth, scores, classes, f"{snakemake.wildcards.oof}: {name} (out-of-fold)"), snakemake.output.figure
    )
