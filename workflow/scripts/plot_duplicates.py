"""Galleries of the dedup stage: the closest near-duplicate pairs, and the external images dropped."""

import pandas as pd

from foldwise import artifacts, cache, manifest, plots

with artifacts.script_log(snakemake.log[0]):
    duplicates = pd.read_csv(snakemake.input.duplicates, dtype={"external_id": str, "match_id": str})
    channels = manifest.channels(artifacts.read_table(snakemake.input.manifest))
    inputs = zip(snakemake.input.images, snakemake.input.index)
    caches = [(cache.load(images), artifacts.read_table(index)) for images, index in inputs]
    image_of = plots.image_lookup(caches, channels)
    limit = snakemake.params.limit
    pairs = plots.duplicate_pairs(duplicates, image_of, limit)
    plots.save_figure(
        plots.image_grid(pairs, 4, "closest near-duplicate pairs (phash distance per channel)"), snakemake.output.pairs
    )
    dropped = plots.dropped_external(duplicates, image_of, limit)
    plots.save_figure(plots.image_grid(dropped, 6, "dropped external images"), snakemake.output.dropped)
