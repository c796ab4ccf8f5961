"""Seeded fold of every training row: stratified by label, groups and near-duplicate pairs sharing
a fold; for identities, each fold validating known and new individuals in the test's share."""

from foldwise import artifacts, folds, manifest

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    train = table[table.split == "train"]
    duplicates = artifacts.read_table(snakemake.input.duplicates) if snakemake.input.duplicates else None
    k, seed = snakemake.params.k, snakemake.params.seed
    if snakemake.params.task == "identity":
        result = folds.split_identity(train.id, train.identity, k, seed, snakemake.params.new_share, duplicates)
        shares = folds.new_shares(result, train.id, train.identity)
        log.info("share of new individuals in each fold's validation: %s", [round(s, 3) for s in shares])
    else:
        result = folds.split(
            train.id,
            manifest.labels(train),
            k=k,
            seed=seed,
            task=snakemake.params.task,
            groups=train["group"] if "group" in train.columns else None,
            duplicates=duplicates,
            classes=manifest.classes(table),
        )
    log.info("fold sizes: %s", result.fold.value_counts().sort_index().to_dict())
    artifacts.write_table(result, snakemake.output.folds)
