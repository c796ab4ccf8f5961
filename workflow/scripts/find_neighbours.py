"""Every test sample's nearest train or kept external sample in the groups embedding (the folds'
similarities averaged), and every training row's nearest among the rows its fold model trained on,
and its nearest of another group (what a sample of a group missing from train would find)."""

import pandas as pd

from foldwise import artifacts, manifest, neighbours, retrieval, thresholds

with artifacts.script_log(snakemake.log[0]) as log:
    table, read = artifacts.read_table(snakemake.input.manifest), artifacts.read_table
    kept = read(snakemake.input.external_kept).id if snakemake.input.external_kept else []
    gallery = [*table.id[table.split == "train"], *kept]
    itself = pd.Series(table.id.to_numpy(), index=table.id.to_numpy())  # each sample its own "individual"
    k, train_embeddings = snakemake.params.neighbours, [read(path) for path in snakemake.input.train]
    test = neighbours.nearest(
        retrieval.test_ranking([read(p) for p in snakemake.input.test], train_embeddings, itself, gallery, k, k)
    )
    group = table.set_index("id").group
    deep = max(k, int(group[gallery].value_counts().max()) + 1)  # deep enough to reach another group
    ranked, _ = retrieval.oof_ranking(train_embeddings, itself, read(snakemake.input.folds), kept, deep, deep)
    oof = neighbours.nearest(ranked)
    other = neighbours.outside_group(ranked, group).set_index("id")
    oof["other_neighbour"] = oof.id.map(other.neighbour)
    oof["other_similarity"] = oof.id.map(other.similarity)
    labels = pd.concat([manifest.label_table(table, "train"), manifest.label_table(table, "external")]).set_index("id")
    for part in (test, oof):
        part["group"] = group[part.neighbour].to_numpy()
        part["labels"] = thresholds.as_indices(labels.loc[part.neighbour].to_numpy() >= 0.5)
    score = neighbours.group_top1(read(snakemake.input.folds), oof.set_index("id").group, group, kept)
    log.info(
        "groups embedding: top-1 group of the nearest sample %.4f out of fold; test mean similarity %.3f",
        score["top1"],
        test.similarity.mean(),
    )
    artifacts.write_table(test, snakemake.output.neighbours)
    artifacts.write_table(oof, snakemake.output.oof)
    artifacts.write_json({"metric": "top1_group", **score}, snakemake.output.score)
