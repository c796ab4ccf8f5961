"""Training curves of one stage: loss, validation metric and learning rate per epoch, one line per fold."""

import pandas as pd

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    histories = [pd.read_csv(path) for path in snakemake.input.histories]  # in fold order
    figure = plots.training_curves(histories, snakemake.params.metric, f"{snakemake.wildcards.stage}: training curves")
    plots.save_figure(figure, snakemake.output.curves)
