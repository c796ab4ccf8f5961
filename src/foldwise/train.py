"""Training one fold: read top to bottom, nanoGPT style.

seed and device -> precision -> data -> model -> optimizer and LR schedule (timm) ->
resume -> epoch loop (train, validate, keep the best epoch, checkpoint) -> result.

The resume checkpoint lives outside the rule's outputs (Snakemake deletes those when a job
fails) and is written atomically after every epoch. Each epoch draws its order and one
augmentation seed per sample from (seed, epoch), and reseeds dropout from them: a sample's
augmentation does not depend on which DataLoader worker draws it, how many workers there are,
or whether the run was resumed, so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from timm.optim import create_optimizer_v2, param_groups_weight_decay
from timm.scheduler import CosineLRScheduler, MultiStepLRScheduler
from timm.scheduler.scheduler import Scheduler
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from foldwise import (
    FoldwiseError,
    artifacts,
    augment,
    batch_augment,
    losses,
    manifest,
    metrics,
    models,
    predict,
    progress,
)

log = logging.getLogger(__name__)

# settings that cannot change a model's weights: not part of the resume fingerprint (and the
# workflow keeps them out of the rule's params, so changing them retrains nothing)
SYSTEM_SETTINGS = ("num_workers", "eval_batch_size")


@dataclass(frozen=True)
class TrainConfig:
    """The ``train:`` section of the config."""

    # model
    model: str = "resnet18"
    pretrained: str | None = None  # local weights file; never downloaded
    global_pool: str = "avg"
    head: str = "linear"  # linear | hpa | bn_l2 | embedding (see models.HEADS)
    drop_rate: float = 0.0
    drop_path_rate: float = 0.0  # stochastic depth (timm's drop_path_rate), for backbones that have it
    embedding: dict = field(default_factory=dict)  # identity: {size, neck, dolg} of the embedding head
    arcface: dict = field(default_factory=dict)  # identity: {margin (radians), scale, sub_centers}
    # data
    epochs: int = 10
    select: str = "last"  # last: the schedule's end; best: the best validation epoch (an optimistic CV); ema
    ema: dict | None = None  # timm ModelEmaV3: {decay, warmup}; validated beside the model, kept with select ema
    mixup: dict | None = None  # timm Mixup: {mixup_alpha, cutmix_alpha, prob, switch_prob, ...}
    label_smoothing: float = 0.0
    select_by: str = "metric"  # with select best: val_loss, or a measure of validate (metric: train.metric)
    batch_size: int = 32
    augment: list = field(default_factory=list)
    # optimizer and LR schedule
    optimizer: dict = field(default_factory=lambda: {"name": "adam", "lr": 1e-3, "weight_decay": 0.0})
    scheduler: dict = field(default_factory=lambda: {"name": "cosine"})
    accumulate: int = 1  # batches per optimizer update (a larger effective batch on a small GPU)
    clip_grad_norm: float | None = None  # max global gradient norm; None = no clipping
    loss: str = "auto"  # auto: soft_ce single-label, bce multi-label; or focal, lovasz, sums "focal+lovasz"
    focal_gamma: float = 2.0
    metric: str = "roc_auc"
    # system
    precision: str = "auto"  # auto: bf16 where the GPU has it, else fp16; fp32 on CPU
    channels_last: bool = True
    compile: bool = False
    # system: cannot change the weights (SYSTEM_SETTINGS)
    num_workers: int | None = 0  # None: the job's threads - 1 on a GPU (the main process feeds it), 0 on CPU
    eval_batch_size: int = 128


@dataclass
class FoldData:
    """What one fold trains and validates on: rows of the image cache and their targets."""

    train_rows: np.ndarray
    train_targets: np.ndarray  # (n, classes) float32, possibly soft; identity: (n,) int64 individual index
    val_rows: np.ndarray
    val_targets: np.ndarray  # (m, classes) hard labels: the metric's ground truth; identity: (m,), -1 = new
    classes: list[str]  # identity: the individuals that train in this fold
    fold: int
    external: int = 0  # kept external rows among the training rows


def fold_data(
    index: pd.DataFrame, folds: pd.DataFrame, targets: pd.DataFrame, hard: pd.DataFrame, fold: int, external_ids=()
) -> FoldData:
    """Split training ids into this fold's train and validation rows; kept external ids always train.

    ``targets`` and ``hard`` hold an ``id`` column and one column per class; rows are joined
    on id, so their order does not matter.
    """
    rows = pd.Series(np.arange(len(index)), index=index.id.to_numpy())
    classes = [c for c in hard.columns if c != "id"]
    train_ids = np.concatenate([folds.id[folds.fold != fold].to_numpy(), np.asarray(external_ids, dtype=object)])
    val_ids = folds.id[folds.fold == fold].to_numpy()
    if len(val_ids) == 0:
        raise FoldwiseError(f"fold {fold} has no validation rows (folds.k too large?)")
    by_id = targets.set_index("id")[classes]
    hard_by_id = hard.set_index("id")[classes]
    return FoldData(
        train_rows=rows[train_ids].to_numpy(),
        train_targets=by_id.loc[train_ids].to_numpy(np.float32),
        val_rows=rows[val_ids].to_numpy(),
        val_targets=hard_by_id.loc[val_ids].to_numpy(np.float32),
        classes=classes,
        fold=fold,
        external=len(external_ids),
    )


def identity_fold_data(
    index: pd.DataFrame, folds: pd.DataFrame, identities: pd.DataFrame, fold: int, extra_ids=()
) -> FoldData:
    """An identity fold: the individuals of its training rows (the other folds, plus ``extra_ids``:
    kept external rows and pseudo-labelled test rows) are its classes; a validation row of an
    individual that does not train here (a new individual) gets target -1.

    ``identities`` holds ``id`` and ``identity`` for every training, external and extra row;
    ``index`` maps ids to rows of the image cache.
    """
    rows = pd.Series(np.arange(len(index)), index=index.id.to_numpy())
    train_ids = np.concatenate([folds.id[folds.fold != fold].to_numpy(), np.asarray(extra_ids, dtype=object)])
    val_ids = folds.id[folds.fold == fold].to_numpy()
    if len(val_ids) == 0:
        raise FoldwiseError(f"fold {fold} has no validation rows (folds.k too large?)")
    identity = identities.set_index("id").identity
    classes = sorted(identity[train_ids].unique())
    number = pd.Series(np.arange(len(classes)), index=classes)
    return FoldData(
        train_rows=rows[train_ids].to_numpy(),
        train_targets=number[identity[train_ids]].to_numpy(np.int64),
        val_rows=rows[val_ids].to_numpy(),
        val_targets=identity[val_ids].map(number).fillna(-1).to_numpy(np.int64),
        classes=classes,
        fold=fold,
        external=len(extra_ids),
    )


def prepare_fold(
    table: pd.DataFrame,
    index: pd.DataFrame,
    folds: pd.DataFrame,
    fold: int,
    soft_labels: pd.DataFrame | None = None,
    external_kept: pd.DataFrame | None = None,
) -> FoldData:
    """FoldData from the stage artifacts: manifest, cache index, folds, and optionally the soft
    labels (distillation; external rows keep their hard labels) and the kept external ids. Identity
    data: ``soft_labels`` are the pseudo-labels (id, identity) of test rows, which ``index`` then holds
    after the training rows."""
    if "identity" in table.columns:
        identities = manifest.identities(table, "train")
        extra = [] if external_kept is None else [external_kept.id.to_numpy()]
        external = manifest.identities(table, "external")
        if soft_labels is not None:
            extra.append(soft_labels.id.to_numpy())
        identities = pd.concat([identities, external, soft_labels], ignore_index=True)
        extra_ids = np.concatenate(extra) if extra else np.array([], dtype=object)
        return identity_fold_data(index, folds, identities[["id", "identity"]], fold, extra_ids)
    hard = manifest.label_table(table, "train")
    targets = hard if soft_labels is None else soft_labels
    external_ids = []
    if external_kept is not None:
        external = manifest.label_table(table, "external")
        external = external[external.id.isin(external_kept.id)]
        targets = pd.concat([targets, external], ignore_index=True)
        external_ids = external.id.to_numpy()
    return fold_data(index, folds, targets, hard, fold, external_ids)


class CachedImages(Dataset):
    """Rows of the uint8 cache with their targets, augmented; tensors stay uint8 (CHW).

    Indexed by ``(i, augmentation seed)`` pairs from ``EpochSampler``: the transform is reseeded
    per sample, so the result is the same in whichever worker process it is drawn.
    """

    def __init__(self, images: np.ndarray, rows: np.ndarray, targets: np.ndarray, transform=None):
        self.images, self.rows, self.transform = images, rows, transform
        self.targets = np.array(targets)  # a writable copy (torch.from_numpy shares it): float labels or int ids

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int]):
        i, seed = key
        image = np.array(self.images[self.rows[i]])  # a writable copy of the memmap row
        if self.transform is not None:
            augment.reseed(self.transform, seed)
            image = self.transform(image=image)["image"]
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), torch.as_tensor(self.targets[i])


class EpochSampler(Sampler):
    """The samples of ``epochs`` in one stream: per epoch, the first ``per_epoch`` (default all)
    of a permutation of ``n`` samples, each paired with its own augmentation seed, both drawn
    from (seed, epoch).

    One stream over all epochs lets the DataLoader workers prefetch the next epoch's first
    batches while this epoch ends and validation runs, instead of starting cold every epoch.
    """

    def __init__(self, n: int, seed: int, epochs: range = range(1), per_epoch: int | None = None):
        self.n, self.seed, self.epochs = n, seed, epochs
        self.per_epoch = n if per_epoch is None else per_epoch

    def __len__(self) -> int:
        return len(self.epochs) * self.per_epoch

    def __iter__(self):
        for epoch in self.epochs:
            rng = np.random.default_rng([self.seed, epoch])
            order, seeds = rng.permutation(self.n), rng.integers(0, 2**32, self.n)
            yield from zip(order[: self.per_epoch].tolist(), seeds[: self.per_epoch].tolist())


def make_loader(
    dataset: Dataset, sampler: Sampler, batch_size: int, num_workers: int, device: torch.device
) -> DataLoader:
    """The training DataLoader: workers prefetching, pinned memory on a GPU.

    No OpenCV thread setting in the workers: ``cv2.setNumThreads`` in a forked worker, after the
    parent has used OpenCV's thread pool, waits forever for the parent's pool threads
    (tests/test_augment.py reproduces it).
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if num_workers > 0 else None,
    )


def resolve_workers(num_workers: int | None, device: torch.device) -> int:
    """``None`` (auto): all but one of the job's CPU threads on a GPU, none on the CPU, where
    workers would take cores from the model itself."""
    if num_workers is not None:
        return num_workers
    return max(torch.get_num_threads() - 1, 0) if device.type == "cuda" else 0


class PiecewiseLRScheduler(Scheduler):
    """Explicit learning rates between milestones: ``lrs[k]`` from update ``boundaries[k-1]`` on
    (HPA 2018: 3e-4, 1.5e-4, 7.5e-5, 3e-5, 1e-5)."""

    def __init__(self, optimizer, boundaries: list[int], lrs: list[float]):
        self.boundaries, self.lrs = list(boundaries), list(lrs)
        super().__init__(optimizer, "lr", t_in_epochs=False)

    def _get_lr(self, t: int) -> list[float]:
        return [self.lrs[bisect.bisect_right(self.boundaries, t)] for _ in self.base_values]


def create_optimizer(model: nn.Module, criterion: nn.Module, spec: dict, loss_lr_scale: float = 1.0):
    """One timm optimizer over the model and the loss's own weights (ArcFace's class centres), those at
    ``loss_lr_scale`` times the rate: freshly drawn centres must move faster than a pretrained backbone
    (Happywhale 2022's winners: 10x). No weight decay on biases and norms, as timm does."""
    spec = dict(spec)
    name, weight_decay = spec.pop("name", "adam"), spec.pop("weight_decay", 0.0)
    groups = list(param_groups_weight_decay(model, weight_decay))
    if any(True for _ in criterion.parameters()):
        groups.append({"params": list(criterion.parameters()), "lr": spec["lr"] * loss_lr_scale, "weight_decay": 0.0})
    return create_optimizer_v2(groups, opt=name, weight_decay=weight_decay, **spec)


def create_scheduler(optimizer, spec: dict, epochs: int, updates_per_epoch: int):
    """A timm LR scheduler stepped once per update.

    ``cosine``: cosine annealing with warm restarts every ``cycle_epochs`` (default: one cycle
    over all epochs) down to ``min_lr``; ``step``: multiply by ``decay_rate`` at each epoch in
    ``milestones``, or with ``lrs`` use those rates, one more than milestones. Cosine and
    decay steps take ``warmup_epochs``.
    """
    name = spec.get("name", "cosine")
    warmup = int(spec.get("warmup_epochs", 0) * updates_per_epoch)
    min_lr = float(spec.get("min_lr", 1e-6))
    if name == "cosine":
        cycle = int(spec.get("cycle_epochs") or epochs)
        return CosineLRScheduler(
            optimizer,
            t_initial=cycle * updates_per_epoch,
            lr_min=min_lr,
            cycle_limit=math.ceil(epochs / cycle),
            warmup_t=warmup,
            warmup_lr_init=min_lr,
            t_in_epochs=False,
        )
    if name == "step" and spec.get("lrs"):
        milestones, lrs = spec.get("milestones", []), spec["lrs"]
        if len(lrs) != len(milestones) + 1:
            raise FoldwiseError(
                f"train.scheduler: {len(lrs)} lrs need {len(lrs) - 1} milestones, got {len(milestones)}"
            )
        return PiecewiseLRScheduler(optimizer, [int(m * updates_per_epoch) for m in milestones], lrs)
    if name == "step":
        return MultiStepLRScheduler(
            optimizer,
            decay_t=[int(m * updates_per_epoch) for m in spec.get("milestones", [])],
            decay_rate=float(spec.get("decay_rate", 0.1)),
            warmup_t=warmup,
            warmup_lr_init=min_lr,
            t_in_epochs=False,
        )
    raise FoldwiseError(f"train.scheduler.name: unknown scheduler {name!r}; known: ['cosine', 'step']")


def fingerprint(*parts) -> str:
    """A short hash of everything that shapes a run (arrays by their bytes), to refuse another run's checkpoint."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def load_checkpoint(path: Path, expected: str) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != expected:
        raise FoldwiseError(
            f"{path}: checkpoint of another configuration (model, classes, image size, data "
            "or training settings differ); delete it to train this fold from scratch"
        )
    return state


def save_checkpoint(state: dict, path: Path) -> None:
    with artifacts.atomic_path(path) as tmp:
        torch.save(state, tmp)


def train_fold(
    cfg: TrainConfig,
    data: FoldData,
    images: np.ndarray,
    stats: dict,
    task: str,
    device: torch.device,
    checkpoint: str | Path,
    seed: int,
    name: str = "fold",
    code: str = "",
) -> dict:
    """Train one fold; returns {"state_dict", "history" (DataFrame), "val_scores", "best_epoch", "best_metric"}.

    Args:
        cfg: training settings.
        data: train/validation rows of ``images`` and their targets.
        images: (N, H, W, C) uint8 cache.
        stats: {"mean": [C], "std": [C]} on the 0..1 scale.
        task: "multiclass", "multilabel" or "identity" (an embedding head and ArcFace: the loss holds
            the class weights, trains with the model and is checkpointed with it).
        checkpoint: resume file, written after every epoch, removed once the fold is done.
        name: how the log and errors call this run, e.g. "base fold 2".
        code: a hash of the code that trains (the rule's code hash): a checkpoint of other code
            is refused rather than resumed.
    """
    # -- seed and device ------------------------------------------------------------------
    torch.manual_seed(seed)
    checkpoint = Path(checkpoint)
    num_classes, channels = len(data.classes), images.shape[-1]
    autocast, dtype = predict.precision_context(device, cfg.precision)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    loss_name = losses.for_task(cfg.loss, task)
    select_by = selection_measure(cfg, task)

    # -- data -------------------------------------------------------------------------------
    per_sample, erasing = batch_augment.split_erasing(cfg.augment)
    dataset = CachedImages(images, data.train_rows, data.train_targets, augment.create(per_sample))
    mix = batch_augment.BatchAugment(task, num_classes, device, cfg.label_smoothing, cfg.mixup, erasing)
    if len(dataset) == 0:
        raise FoldwiseError(f"{name}: the training set is empty")
    # whole batches only (a final batch of one breaks BatchNorm), and whole accumulation groups;
    # a training set smaller than a batch is one batch
    batch_size = min(cfg.batch_size, len(dataset))
    accumulate = min(cfg.accumulate, len(dataset) // batch_size)
    updates_per_epoch = len(dataset) // batch_size // accumulate
    steps_per_epoch = updates_per_epoch * accumulate
    normalize = predict.Normalize(stats["mean"], stats["std"]).to(device)

    # -- model, optimizer, schedule ----------------------------------------------------------
    head = embedding_args(cfg)
    model = models.create(
        *(cfg.model, num_classes, channels, cfg.pretrained, cfg.drop_rate, cfg.global_pool, cfg.head),
        drop_path_rate=cfg.drop_path_rate,
        **head,
    ).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = ema_model(model, cfg)
    arcface = dict(cfg.arcface)
    centre_lr_scale = arcface.pop("lr_scale", 1.0)
    criterion = losses.create(loss_name, cfg.focal_gamma, num_classes, head.get("embedding_size"), **arcface)
    criterion = criterion.to(device)
    optimizer = create_optimizer(model, criterion, cfg.optimizer, centre_lr_scale)
    scheduler = create_scheduler(optimizer, cfg.scheduler, cfg.epochs, updates_per_epoch)
    forward = torch.compile(model) if cfg.compile else model  # the checkpoint keeps the plain module

    # -- resume ------------------------------------------------------------------------------
    recipe = {k: v for k, v in asdict(cfg).items() if k not in SYSTEM_SETTINGS}
    run_id = fingerprint(
        recipe,
        num_classes,
        list(images.shape[1:]),
        stats,
        task,
        seed,
        code,
        str(dtype),
        data.train_rows,
        data.train_targets,
        data.val_rows,
    )
    state = load_checkpoint(checkpoint, run_id)
    start_epoch, history, best = 0, [], {"metric": -math.inf, "epoch": -1, "state_dict": None, "val_scores": None}
    if state is not None:
        model.load_state_dict(state["model"])
        criterion.load_state_dict(state["criterion"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None:
            ema.module.load_state_dict(state["ema"])
        start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]
        log.info("%s: resuming from %s after epoch %d", name, checkpoint, state["epoch"] + 1)

    # -- epoch loop --------------------------------------------------------------------------
    sampler = EpochSampler(len(dataset), seed, range(start_epoch, cfg.epochs), steps_per_epoch * batch_size)
    stream = iter(make_loader(dataset, sampler, batch_size, resolve_workers(cfg.num_workers, device), device))
    for epoch in range(start_epoch, cfg.epochs):
        mix.reseed(seed * 100_003 + epoch)  # this epoch's dropout and timm's mixup and erasing draws
        model.train()
        started, seen, update = time.perf_counter(), 0, 0
        loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per step
        optimizer.zero_grad(set_to_none=True)
        for step in progress.bar(range(steps_per_epoch), f"{name} epoch {epoch + 1}/{cfg.epochs}", unit="batch"):
            x, y = next(stream)
            x = normalize(x.to(device, non_blocking=True))
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            if mix.active:
                x, y = mix(x, y)
            with autocast:
                loss = criterion(forward(x).float(), y)
            scaler.scale(loss / accumulate).backward()
            loss_sum += loss.detach() * len(x)
            seen += len(x)
            if (step + 1) % accumulate:
                continue
            if cfg.clip_grad_norm:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            update += 1
            scheduler.step_update(epoch * updates_per_epoch + update)
            if ema is not None:
                ema.update(model, step=epoch * updates_per_epoch + update)
        train_loss = loss_sum.item() / max(seen, 1)
        if not math.isfinite(train_loss):
            raise FoldwiseError(
                f"{name}: training loss is {train_loss} at epoch {epoch + 1}; lower train.optimizer.lr "
                "or check the inputs"
            )
        images_per_s = seen / (time.perf_counter() - started)

        measures, val_scores = validate(model, criterion, normalize, images, data, task, cfg, device)
        if ema is not None:  # the averaged weights, validated beside the model's
            ema_measures, ema_scores = validate(ema.module, criterion, normalize, images, data, task, cfg, device)
            measures |= {f"ema_{key}": value for key, value in ema_measures.items()}
        score, lr = measures[cfg.metric], optimizer.param_groups[0]["lr"]
        # best-epoch selection picks on the very rows the fold's CV is then measured on
        kept = measures[select_by] * (-1 if select_by == "val_loss" else 1)
        if cfg.select in ("last", "ema") or kept > best.get("kept", -math.inf) or best["state_dict"] is None:
            chosen, chosen_scores = (ema.module, ema_scores) if cfg.select == "ema" else (model, val_scores)
            best = {
                "kept": kept,
                "metric": measures[f"ema_{cfg.metric}"] if cfg.select == "ema" else score,
                "epoch": epoch,
                "val_scores": torch.from_numpy(chosen_scores),
                "state_dict": {k: v.detach().cpu().clone() for k, v in chosen.state_dict().items()},
            }
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                **measures,
                "lr": lr,
                "images_per_s": images_per_s,
                "seconds": time.perf_counter() - started,
            }
        )
        log.info(
            "%s: epoch %d/%d train_loss %.4f %s lr %.2e %.0f img/s (kept %s %.4f of epoch %d)",
            name,
            epoch + 1,
            cfg.epochs,
            train_loss,
            " ".join(f"{key} {value:.4f}" for key, value in measures.items()),
            lr,
            images_per_s,
            cfg.metric,
            best["metric"],
            best["epoch"] + 1,
        )
        save_checkpoint(
            {
                "fingerprint": run_id,
                "epoch": epoch,
                "model": model.state_dict(),
                "criterion": criterion.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                **({"ema": ema.module.state_dict()} if ema is not None else {}),
                "history": history,
                "best": best,
            },
            checkpoint,
        )

    return {
        "state_dict": best["state_dict"],
        "history": pd.DataFrame(history),
        "val_scores": best["val_scores"].numpy(),
        "best_epoch": best["epoch"] + 1,
        "best_metric": best["metric"],
    }


def ema_model(model: nn.Module, cfg: TrainConfig) -> ModelEmaV3 | None:
    """timm's ModelEmaV3 of ``model`` (``train.ema``: decay, warmup), or None when off; ``select:
    ema`` without it is an error."""
    if not cfg.ema:
        if cfg.select == "ema":
            raise FoldwiseError("train.select: ema keeps the EMA weights: set train.ema (e.g. {decay: 0.998})")
        return None
    unknown = sorted(set(cfg.ema) - {"decay", "warmup"})
    if unknown:
        raise FoldwiseError(f"train.ema: unknown settings {unknown}; known: ['decay', 'warmup']")
    decay = cfg.ema.get("decay", 0.9998)
    if not 0 <= decay <= 1:
        raise FoldwiseError(f"train.ema.decay must be in [0, 1], got {decay}")
    # warm-up: decay grows from 0 with the step, so that the early average is not the random init
    return ModelEmaV3(model, decay=decay, use_warmup=bool(cfg.ema.get("warmup", True)))


def selection_measure(cfg: TrainConfig, task: str) -> str:
    """What ``select: best`` compares epochs by; a flat-threshold F1 is refused: an under-confident
    multi-label model scores its best F1 at 0.5 when it is barely trained."""
    if cfg.select in ("last", "ema"):
        return "val_loss"  # compared, never chosen by
    measure = cfg.metric if cfg.select_by == "metric" else cfg.select_by
    known = ["val_loss", *validation_measures(cfg.metric, task)]
    if measure == "macro_f1":
        raise FoldwiseError(
            f"train.select_by: macro_f1 at a flat 0.5 is no selection measure; use one of "
            f"{[m for m in known if m != 'macro_f1']} (or train.select: last)"
        )
    if measure not in known:
        raise FoldwiseError(f"train.select_by: unknown measure {measure!r}; known: {known}")
    return measure


def validation_measures(metric: str, task: str) -> list[str]:
    """The measures of each epoch beside the validation loss: the metric, and for multi-label data the
    threshold-free macro ROC AUC and average precision."""
    extra = ["roc_auc", "average_precision"] if task == "multilabel" else []
    return list(dict.fromkeys([metric, *extra]))


@torch.no_grad()
def validate(model, criterion, normalize, images, data: FoldData, task: str, cfg: TrainConfig, device) -> tuple:
    """({"val_loss", measure: value, ...}, the validation scores) of one epoch's model on its fold.

    The loss is the training loss over the whole validation fold (identity: over the images of
    individuals that train in this fold); identity measures score each embedding by its
    similarity to the loss's class centres.
    """
    raw = predict.predict(
        *(model, normalize, images, data.val_rows, task, device),
        batch_size=cfg.eval_batch_size,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        desc=None,
        activate=False,
    )
    outputs, targets = torch.from_numpy(raw).to(device), torch.as_tensor(np.array(data.val_targets), device=device)
    if task == "identity":
        known = targets >= 0
        loss = criterion(outputs[known], targets[known]) if known.any() else torch.tensor(float("nan"))
        scores = losses.class_scores(criterion, outputs).cpu().numpy()
        kept = predict.activation(task)(outputs).cpu().numpy()  # the embeddings
    else:
        loss = criterion(outputs, targets)
        scores = kept = predict.activation(task)(outputs).cpu().numpy()
    measures = {"val_loss": float(loss)}
    for name in validation_measures(cfg.metric, task):
        measures[name] = metrics.create(name)(data.val_targets, scores)
    return measures, kept


def embedding_args(cfg: TrainConfig) -> dict:
    """The embedding head's arguments of models.create (none for a classifier head)."""
    if cfg.head != "embedding":
        return {}
    spec = {"size": 512, "neck": "linear_bn", "dolg": {}} | cfg.embedding
    return {"embedding_size": spec["size"], "neck": spec["neck"], "dolg": spec["dolg"]}


def model_meta(cfg: TrainConfig, data: FoldData, images: np.ndarray, stats: dict, task: str) -> dict:
    """What predict needs to rebuild and feed a trained model."""
    return {
        "model": cfg.model,
        "num_classes": len(data.classes),
        "in_chans": images.shape[-1],
        "global_pool": cfg.global_pool,
        "head": cfg.head,
        **embedding_args(cfg),
        "task": task,
        # predicted as trained: a model trained in fp32 (fp16 overflow) must not be predicted under autocast
        "precision": cfg.precision,
        "channels_last": cfg.channels_last,
        "image_size": list(images.shape[1:3]),
        "mean": stats["mean"],
        "std": stats["std"],
    }


def save_result(result: dict, data: FoldData, meta: dict, model_path, history_path, checkpoint) -> None:
    """Write the fold's artifacts (best weights, history), then drop its resume file. Its out-of-fold
    predictions are made later, with the test's TTA (rule predict_oof)."""
    models.save(model_path, result["state_dict"], {**meta, "classes": data.classes, "best_epoch": result["best_epoch"]})
    artifacts.write_csv(result["history"], history_path)
    Path(checkpoint).unlink(missing_ok=True)
