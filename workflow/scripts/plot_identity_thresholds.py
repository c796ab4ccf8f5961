"""Identities: out-of-fold MAP@5 against the new_individual threshold, one line per stage and the mix,
each one's fitted threshold marked."""

from pathlib import Path

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    oofs = {Path(path).stem: artifacts.read_table(path) for path in snakemake.input.oof}
    fitted = {Path(path).stem: artifacts.read_json(path)["threshold"] for path in snakemake.input.scores}
    figure = plots.map5_thresholds(oofs, fitted, "MAP@5 against the new_individual threshold")
    plots.save_figure(figure, snakemake.output.figure)
