"""Per-channel mean/std over the train and test rows of the cache."""

import numpy as np

from foldwise import artifacts, cache, stats

with artifacts.script_log(snakemake.log[0]) as log:
    index = artifacts.read_table(snakemake.input.index[0])
    rows = np.flatnonzero(index.split.isin(["train", "test"]))
    result = stats.channel_stats(cache.load(snakemake.input.images[0]), rows)
    log.info("mean %s std %s over %d images", result["mean"], result["std"], result["count"])
    artifacts.write_json(result, snakemake.output.stats)
