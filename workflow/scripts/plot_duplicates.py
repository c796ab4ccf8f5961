"""Galleries of the dedup stage: the closest near-duplicate pairs, and the external images dropped."""

import pandas as pd

from foldwise import artifacts, cache, manifest, plots

with artifacts.script_log(snakemake.log[0]):
    duplicates = pd.read_csv(snakemake.input.duplicates, dtype={"external_id": str, "match_id": str})
    channels = manifest.channels(artifacts.read_table(snakemake.input.manifest))
    # external and train rows sit in the train split's cache, test rows in the test split's
    caches = [
        (cache.load(images), artifacts.read_table(index))
        for images, index in zip(snakemake.input.images, snakemake.input.index)
    ]

    def image_of(sample_id):
        images, index = next((images, index) for images, index in caches if sample_id in set(index.id))
        return plots.to_rgb(plots.pick(images, index, [sample_id])[0], channels)

    limit = snakemake.params.limit
    pairs = plots.duplicate_pairs(duplicates, image_of, limit)
    plots.save_figure(
        plots.image_grid(pairs, 4, "closest near-duplicate pairs (phash distance per channel)"), snakemake.output.pairs
    )
    dropped = plots.dropped_external(duplicates, image_of, limit)
    plots.save_figure(plots.image_grid(dropped, 6, "dropped external images"), snakemake.output.dropped)
