"""Out-of-fold predictions of one fold model on its validation rows, made exactly as the test
predictions are (same TTA views, crops and reduction)."""

import torch

from foldwise import artifacts, cache, devices, predict

with artifacts.script_log(snakemake.log[0]) as log:
    fold = int(snakemake.wildcards.fold)
    index, folds = artifacts.read_table(snakemake.input.index[0]), artifacts.read_table(snakemake.input.folds)
    ids = folds.id[folds.fold == fold].to_numpy()
    rows = index.reset_index().set_index("id").loc[ids, "index"].to_numpy()
    images = cache.load(snakemake.input.images[0])
    # batch_size comes from the config, not params: changing it must not rerun the predictions
    settings = snakemake.params.predict | {"batch_size": snakemake.config["predict"]["batch_size"]}
    torch.set_num_threads(snakemake.threads)
    with devices.acquire(snakemake.params.lock_dir) as device:
        table = predict.predict_saved(snakemake.input.model, images, ids, rows, settings, device, snakemake.params.seed)
    table.insert(1, "fold", fold)
    artifacts.write_table(table, snakemake.output.oof)
