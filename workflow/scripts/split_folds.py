"""Seeded, stratified fold of every training row; groups and near-duplicate pairs share a fold."""

from foldwise import artifacts, folds, manifest

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    train = table[table.split == "train"]
    groups = train["group"] if "group" in train.columns else None
    duplicates = artifacts.read_table(snakemake.input.duplicates) if snakemake.input.duplicates else None
    result = folds.split(
        train.id,
        manifest.labels(train),
        k=snakemake.params.k,
        seed=snakemake.params.seed,
        task=snakemake.params.task,
        groups=groups,
        duplicates=duplicates,
        classes=manifest.classes(table),
    )
    log.info("fold sizes: %s", result.fold.value_counts().sort_index().to_dict())
    artifacts.write_table(result, snakemake.output.folds)
