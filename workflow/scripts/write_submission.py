"""One stage's submission: the mean over folds, in the competition's format (id, one column per class)."""

from foldwise import artifacts, ensemble

with artifacts.script_log(snakemake.log[0]):
    folds = [artifacts.read_table(path) for path in snakemake.input.predictions]
    submission = ensemble.mix(folds, id_col="id", method="mean").rename(columns={"id": snakemake.params.id_column})
    artifacts.write_csv(submission, snakemake.output.submission)
