"""What the embeddings must beat, on the same folds and gallery: new_individual first for every image,
and a kNN on the raw pixels of the cached crops (16x16, mean-centred)."""

import numpy as np
import pandas as pd

from foldwise import artifacts, cache, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    table, index = artifacts.read_table(snakemake.input.manifest), artifacts.read_table(snakemake.input.index[0])
    folds = artifacts.read_table(snakemake.input.folds)
    kept = artifacts.read_table(snakemake.input.external_kept).id if snakemake.input.external_kept else []
    pixels = retrieval.pixel_embeddings(cache.load(snakemake.input.images[0]), np.arange(len(index)))
    embeddings = pd.concat([index[["id"]], pd.DataFrame(pixels)], axis=1)
    settings = snakemake.params.retrieval
    ranked, truth = retrieval.oof_ranking(
        [embeddings] * len(folds.fold.unique()), table.set_index("id").identity, folds, kept, settings["neighbours"]
    )
    baselines = {
        "metric": "map@5",
        "new_individual_first": retrieval.score(ranked, truth, float("inf"))["cv"],
        "raw_pixels": retrieval.score(ranked, truth, settings["threshold"]),
    }
    log.info(
        "baselines: new_individual first %.4f, raw-pixel kNN %.4f",
        baselines["new_individual_first"],
        baselines["raw_pixels"]["cv"],
    )
    artifacts.write_json(baselines, snakemake.output.score)
