"""Test-time-augmented predictions of one fold model on every row of a test set's cache."""

import numpy as np
import torch

from foldwise import artifacts, cache, devices, predict

with artifacts.script_log(snakemake.log[0]) as log:
    ids = artifacts.read_table(snakemake.input.index[0]).id.to_numpy()
    rows = np.arange(len(ids))
    images = cache.load(snakemake.input.images[0])
    # batch_size comes from the config, not params: changing it must not rerun the predictions
    settings = snakemake.params.predict | {"batch_size": snakemake.config["predict"]["batch_size"]}
    torch.set_num_threads(snakemake.threads)
    with devices.acquire(snakemake.params.lock_dir) as device:
        table = predict.predict_saved(snakemake.input.model, images, ids, rows, settings, device, snakemake.params.seed)
    artifacts.write_table(table, snakemake.output.predictions)
