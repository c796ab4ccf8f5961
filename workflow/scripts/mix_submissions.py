"""The mix of a test set's base and distilled submissions."""

import pandas as pd

from foldwise import artifacts, ensemble

with artifacts.script_log(snakemake.log[0]):
    id_column = snakemake.params.id_column
    method, weights = snakemake.params.ensemble["method"], snakemake.params.ensemble["weights"]
    submissions = [pd.read_csv(path, dtype={id_column: str}) for path in snakemake.input.submissions]
    artifacts.write_csv(ensemble.mix(submissions, id_column, method, weights), snakemake.output.submission)
