"""Train one fold of one stage on a free device: base (hard labels), distill (soft labels) or a
nested teacher (nested{f}: the base recipe without fold f)."""

import torch

from foldwise import artifacts, cache, devices, distill, train

with artifacts.script_log(snakemake.log[0]) as log:
    stage, fold = snakemake.wildcards.stage, int(snakemake.wildcards.fold)
    read = artifacts.read_table
    data = train.prepare_fold(
        read(snakemake.input.manifest),
        read(snakemake.input.index[0]),
        distill.teacher_folds(read(snakemake.input.folds), stage),
        fold,
        soft_labels=read(snakemake.input.soft_labels) if stage == "distill" else None,
        external_kept=read(snakemake.input.external_kept) if snakemake.input.external_kept else None,
    )
    log.info(
        "%s fold %d: %d training rows (%d external), %d validation rows",
        stage,
        fold,
        len(data.train_rows),
        data.external,
        len(data.val_rows),
    )
    # system settings come from the config, not params: changing them must not retrain
    system = {k: snakemake.config["train"][k] for k in train.SYSTEM_SETTINGS}
    pretrained = {"pretrained": snakemake.input.get("weights")}  # true -> the stored file
    cfg = train.TrainConfig(**snakemake.params.train | system | pretrained)
    images = cache.load(snakemake.input.images[0])
    stats = artifacts.read_json(snakemake.input.stats)
    torch.set_num_threads(snakemake.threads)
    with devices.acquire(snakemake.params.lock_dir) as device:
        result = train.train_fold(
            cfg,
            data,
            images,
            stats,
            snakemake.params.task,
            device,
            snakemake.params.checkpoint,
            seed=snakemake.params.seed + fold,
            name=f"{stage} fold {fold}",
            code=snakemake.params.code,
        )
    log.info(
        "%s fold %d: best %s %.4f at epoch %d", stage, fold, cfg.metric, result["best_metric"], result["best_epoch"]
    )
    meta = {
        "model": cfg.model,
        "num_classes": len(data.classes),
        "in_chans": images.shape[-1],
        "global_pool": cfg.global_pool,
        "head": cfg.head,
        "task": snakemake.params.task,
        "image_size": list(images.shape[1:3]),
        "mean": stats["mean"],
        "std": stats["std"],
    }
    train.save_result(result, data, meta, snakemake.output.model, snakemake.output.history, snakemake.params.checkpoint)
