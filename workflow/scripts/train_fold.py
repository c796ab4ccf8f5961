"""Train one fold of one stage on a free device: base (hard labels), distill (soft labels), a
nested teacher (nested{f}: the base recipe without fold f), or pseudo (identities: the training
rows and the pseudo-labelled test rows)."""

import pandas as pd
import torch

from foldwise import artifacts, cache, devices, distill, train

with artifacts.script_log(snakemake.log[0]) as log:
    stage, fold = snakemake.wildcards.stage, int(snakemake.wildcards.fold)
    read, inputs = artifacts.read_table, snakemake.input
    images, index = cache.load(inputs.images[0]), read(inputs.index[0])
    if stage == "pseudo":  # the test rows follow the training rows
        images = cache.Stacked(images, cache.load(inputs.test_images))
        index = pd.concat([index, read(inputs.test_index)], ignore_index=True)
    table = read(inputs.manifest)
    if stage == "groups":  # the embedding of dataset.group_column: the group is the identity
        table = table.assign(identity=table["group"])
    data = train.prepare_fold(
        table,
        index,
        distill.teacher_folds(read(inputs.get("group_folds", inputs.folds)), stage),
        fold,
        soft_labels=read(inputs.soft_labels) if stage in ("distill", "pseudo") else None,
        external_kept=read(inputs.external_kept) if inputs.external_kept else None,
    )
    log.info(
        "%s fold %d: %d training rows (%d external or pseudo-labelled), %d validation rows, %d classes",
        *(stage, fold, len(data.train_rows), data.external, len(data.val_rows), len(data.classes)),
    )
    # system settings come from the config, not params: changing them must not retrain
    system = {k: snakemake.config["train"][k] for k in train.SYSTEM_SETTINGS}
    pretrained = {"pretrained": inputs.get("weights")}  # true -> the stored file
    cfg = train.TrainConfig(**snakemake.params.train | system | pretrained)
    stats, task = artifacts.read_json(inputs.stats), snakemake.params.task
    torch.set_num_threads(snakemake.threads)
    with devices.acquire(snakemake.params.lock_dir) as device:
        result = train.train_fold(
            *(cfg, data, images, stats, task, device, snakemake.params.checkpoint),
            seed=snakemake.params.seed + fold,
            name=f"{stage} fold {fold}",
            code=snakemake.params.code,
        )
    log.info(
        "%s fold %d: kept %s %.4f of epoch %d", stage, fold, cfg.metric, result["best_metric"], result["best_epoch"]
    )
    meta = train.model_meta(cfg, data, images, stats, task)
    train.save_result(result, data, meta, snakemake.output.model, snakemake.output.history, snakemake.params.checkpoint)
