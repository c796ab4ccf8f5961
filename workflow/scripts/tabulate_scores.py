"""The cross-validation scores of every stage and fold, as an HTML table (identities: and the baselines;
label replacement: the mix with the nearest samples' labels)."""

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    # rows named by the workflow: stages, experiment/stage, the blend, label replacement
    scores = {name: artifacts.read_json(path) for name, path in zip(snakemake.params.names, snakemake.input.scores)}
    if snakemake.input.thresholds:  # multi-label: the F1 the submission's labels are decided at
        scores["mix, fitted thresholds"] = plots.fitted_thresholds_score(
            artifacts.read_json(snakemake.input.thresholds[0])
        )
    if snakemake.input.baselines:
        scores |= plots.baseline_scores(artifacts.read_json(snakemake.input.baselines[0]))
    plots.save_html(plots.html_table(plots.scores_table(scores), "cross-validation scores"), snakemake.output.table)
