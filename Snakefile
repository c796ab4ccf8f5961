# foldwise: the winning Kaggle image-classification recipe as cached stages.
#   snakemake results/submission_mix.csv --cores 8 --resources gpu=2
#   snakemake plots --cores 8 --resources gpu=2 --report results/report.html --report-after-run
# (targets first: --resources takes several values and would swallow a target after it)

import os

from snakemake.utils import min_version

min_version("9.0")


# the default run; --configfile files are laid over it (also when run with --directory elsewhere)
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/folds.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/identity.smk"
include: "workflow/rules/ensemble.smk"
include: "workflow/rules/neighbours.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


# cheap table operations and the report's plots run on the submitting host, not as cluster jobs
localrules:
    all,
    fetch_weights,
    split_folds,
    collect_oof,
    make_soft_labels,
    write_submission,
    mix_submissions,
    format_submission,
    mix_oof,
    write_labels,
    plots,
    tabulate_scores,
    plot_training_curves,
    plot_roc,
    plot_confusion,
    plot_thresholds,
    plot_worst_samples,
    plot_duplicates,
    plot_identity_thresholds,
    plot_worst_queries,
    tabulate_submission,


rule all:
    input:
        final_outputs(),


# the report's plots (results/plots/); --report collects those of the jobs of its target
rule plots:
    input:
        report_plots(),
