"""Test-time-augmented predictions of one fold model on the test rows of the cache."""

import numpy as np
import pandas as pd
import torch

from foldwise import artifacts, cache, devices, models, predict

with artifacts.script_log(snakemake.log[0]) as log:
    index = artifacts.read_table(snakemake.input.index[0])
    rows = np.flatnonzero(index.split == "test")
    images = cache.load(snakemake.input.images[0])
    settings = snakemake.params.predict
    torch.set_num_threads(snakemake.threads)
    with devices.acquire(snakemake.params.lock_dir) as device:
        model, meta = models.load(snakemake.input.model, device)
        normalize = predict.Normalize(meta["mean"], meta["std"]).to(device)
        scores = predict.predict(model, normalize, images, rows, meta["task"], device, settings["tta"],
                                 settings["reduce"], settings["batch_size"], crop=settings["crop"],
                                 seed=snakemake.params.seed)
    views = len(settings["tta"]) * (settings["crop"]["count"] if settings["crop"] else 1)
    log.info("%d test images x %d TTA views (%s)", len(rows), views, settings["reduce"])
    table = pd.DataFrame(scores, columns=meta["classes"])
    table.insert(0, "id", index.id.to_numpy()[rows])
    artifacts.write_table(table, snakemake.output.predictions)
