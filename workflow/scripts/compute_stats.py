"""Per-channel mean/std over the train rows (and with stats.over: train+test, the test rows) of the caches."""

import numpy as np

from foldwise import artifacts, cache, stats

with artifacts.script_log(snakemake.log[0]) as log:
    parts = []
    for images, index in zip(snakemake.input.images, snakemake.input.index):
        rows = np.flatnonzero(artifacts.read_table(index).split.isin(["train", "test"]))  # not the external rows
        parts.append(stats.channel_stats(cache.load(images), rows))
    result = stats.combine(parts)
    log.info("mean %s std %s over %d %s images", result["mean"], result["std"], result["count"], snakemake.params.over)
    artifacts.write_json(result, snakemake.output.stats)
