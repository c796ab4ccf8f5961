"""The first rows of a submission, as an HTML table."""

from pathlib import Path

import pandas as pd

from foldwise import artifacts, plots

with artifacts.script_log(snakemake.log[0]):
    submission = pd.read_csv(snakemake.input.submission, dtype=str)
    rows = snakemake.params.rows
    title = f"{Path(snakemake.input.submission).name}: first {min(rows, len(submission))} of {len(submission)} rows"
    plots.save_html(plots.html_table(submission.head(rows), title), snakemake.output.table)
