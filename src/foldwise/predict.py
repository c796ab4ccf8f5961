"""Batched inference over cached images: normalisation on the device, TTA, activation."""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from foldwise import models, progress, tta

log = logging.getLogger(__name__)


class Normalize(nn.Module):
    """uint8 NCHW -> float, (x / 255 - mean) / std per channel, on the model's device."""

    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255.0 - self.mean) / self.std


def activation(task: str):
    """Scores from logits: softmax over classes (single-label) or a sigmoid per class (multi-label);
    identity: the L2-normalised embedding, so that inner products are cosine similarities."""
    if task == "identity":
        return lambda embeddings: nn.functional.normalize(embeddings, dim=-1)
    return torch.sigmoid if task == "multilabel" else (lambda logits: logits.softmax(dim=-1))


def precision_context(device: torch.device, precision: str = "auto"):
    """(autocast context, dtype): bf16 on GPUs that have it, else fp16; full precision on CPU."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext(), torch.float32
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype), dtype


def to_batch(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W, C) uint8 array -> (N, C, H, W) uint8 tensor on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def crop_boxes(image_size: tuple[int, int], crop: dict | None, seed: int = 0) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each TTA crop: the whole image, or ``crop["count"]`` seeded
    random crops of ``crop["size"]``, the same for every image (so predictions are reproducible)."""
    h, w = image_size
    if not crop:
        return [(0, 0, h, w)]
    ch, cw = min(crop["size"][0], h), min(crop["size"][1], w)
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw) for _ in range(crop["count"])]


@torch.no_grad()
def predict(
    model: nn.Module,
    normalize: Normalize,
    images: np.ndarray,
    rows: np.ndarray,
    task: str,
    device: torch.device,
    transforms: list[str] = ("identity",),
    reduce: str = "mean",
    batch_size: int = 128,
    precision: str = "auto",
    channels_last: bool = True,
    crop: dict | None = None,
    seed: int = 0,
    desc: str | None = "predict",
    activate: bool = True,
) -> np.ndarray:
    """Class scores (len(rows), classes) of ``model`` on cache ``rows`` (identity: L2-normalised embeddings
    (len(rows), embedding size)), reduced over the TTA views:
    every dihedral transform in ``transforms`` of every crop (see ``crop_boxes``). ``desc`` names
    the progress bar in the log; None draws none (validation inside training). ``activate=False``
    returns the model's raw outputs (logits, unnormalised embeddings) for a loss."""
    tta.check(list(transforms), reduce)
    boxes = crop_boxes(images.shape[1:3], crop, seed)
    model.eval()
    autocast, _ = precision_context(device, precision)
    score = activation(task) if activate else (lambda outputs: outputs)
    out = []
    starts = range(0, len(rows), batch_size)
    for start in starts if desc is None else progress.bar(starts, desc, unit="batch"):
        x = normalize(to_batch(images[rows[start : start + batch_size]], device))
        scores = []
        for (top, left, h, w), name in ((box, name) for box in boxes for name in transforms):
            view = tta.apply(x[:, :, top : top + h, left : left + w], name)
            if channels_last:
                view = view.contiguous(memory_format=torch.channels_last)
            with autocast:
                scores.append(score(model(view).float()))
        # embeddings are averaged whatever `reduce` says: a max over unit vectors is no embedding
        reduced = tta.reduce(torch.stack(scores), "mean" if task == "identity" else reduce)
        out.append((score(reduced) if task == "identity" else reduced).cpu())  # a mean of unit vectors, made unit again
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def view_count(settings: dict) -> int:
    """How many TTA views the ``predict:`` settings make of each image."""
    return len(settings["tta"]) * (settings["crop"]["count"] if settings["crop"] else 1)


def embedding_columns(size: int) -> list[str]:
    """Column names of an embedding table: e000, e001, ..."""
    return [f"e{i:03d}" for i in range(size)]


def predict_saved(
    model_path,
    images: np.ndarray,
    ids: np.ndarray,
    rows: np.ndarray,
    settings: dict,
    device: torch.device,
    seed: int = 0,
) -> pd.DataFrame:
    """The saved model's scores on cache ``rows`` with the ``predict:`` settings (TTA views, crops,
    reduction): a table of ``ids`` and one column per class. Test rows and out-of-fold rows go
    through this same function, so thresholds fitted on the one fit the other."""
    model, meta = models.load(model_path, device)
    normalize = Normalize(meta["mean"], meta["std"]).to(device)
    scores = predict(
        model,
        normalize,
        images,
        rows,
        meta["task"],
        device,
        settings["tta"],
        settings["reduce"],
        settings["batch_size"],
        precision=meta.get("precision", "auto"),
        channels_last=meta.get("channels_last", True),
        crop=settings["crop"],
        seed=seed,
    )
    log.info("%d images x %d TTA views (%s)", len(rows), view_count(settings), settings["reduce"])
    columns = embedding_columns(scores.shape[1]) if meta["task"] == "identity" else meta["classes"]
    table = pd.DataFrame(scores, columns=columns)
    table.insert(0, "id", np.asarray(ids))
    return table
