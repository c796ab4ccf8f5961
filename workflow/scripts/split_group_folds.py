"""Folds of the groups embedding, as HPA 2018's write-up validated it: each fold holds out samples of
groups whose other samples train (a group seen once can only validate as new)."""

from foldwise import artifacts, folds

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    train = table[table.split == "train"]
    result = folds.split_identity(train.id, train.group, snakemake.params.k, snakemake.params.seed, new_share=0.0)
    shares = folds.new_shares(result, train.id, train.group)
    log.info("share of validation samples whose group trains in no other fold: %s", [round(s, 3) for s in shares])
    artifacts.write_table(result, snakemake.output.folds)
