"""The cross-validation scores of every stage and fold, as an HTML table."""

from pathlib import Path

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    scores = {Path(path).stem: artifacts.read_json(path) for path in snakemake.input.scores}
    plots.save_html(plots.html_table(plots.scores_table(scores), "cross-validation scores"), snakemake.output.table)
