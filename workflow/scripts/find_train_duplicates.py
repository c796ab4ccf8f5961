"""Near-duplicate pairs among the training rows, which split_folds keeps in one fold."""

from foldwise import artifacts, dedup

with artifacts.script_log(snakemake.log[0]) as log:
    pairs = dedup.train_duplicates(artifacts.read_table(snakemake.input.hashes), threshold=snakemake.params.threshold)
    log.info("threshold %d: %d pair(s) of training rows", snakemake.params.threshold, len(pairs))
    artifacts.write_table(pairs, snakemake.output.duplicates)
