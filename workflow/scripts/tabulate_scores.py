"""The cross-validation scores of every stage and fold, as an HTML table (identities: and the baselines)."""

from pathlib import Path

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    scores = {Path(path).stem: artifacts.read_json(path) for path in snakemake.input.scores}
    if snakemake.input.baselines:
        scores |= plots.baseline_scores(artifacts.read_json(snakemake.input.baselines[0]))
    plots.save_html(plots.html_table(plots.scores_table(scores), "cross-validation scores"), snakemake.output.table)
