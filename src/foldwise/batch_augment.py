"""Batch-level regularisation on the device, through timm's own implementations: label smoothing,
mixup and cutmix (``timm.data.Mixup``), and random erasing (``timm.data.RandomErasing``, an
entry ``{name: RandomErasing, p: 0.25}`` of ``train.augment``: it erases normalised pixels, as
timm's training does, so it runs after the device-side normalisation, not in albumentations).

Targets are dense (batch, classes) for every classification task (soft labels of distillation
included), so mixup mixes them as timm's multi-label form does: ``lam * y + (1 - lam) * y.flip(0)``.
Smoothing follows timm's conventions: ``eps / classes`` off-value for single-label data, ``eps / 2``
for multi-label. Identities (ArcFace on individual indices) take none of these.

timm draws from the global generators; ``reseed`` fixes them per epoch, so a run
resumed after a kill draws the same batches as one never stopped.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from timm.data import Mixup
from timm.data.random_erasing import RandomErasing

from foldwise import FoldwiseError

ERASING = "RandomErasing"  # its train.augment entry
MIXUP_KEYS = ("mixup_alpha", "cutmix_alpha", "cutmix_minmax", "prob", "switch_prob", "mode", "correct_lam")
ERASING_KEYS = ("p", "min_area", "max_area", "min_aspect", "max_aspect", "mode", "min_count", "max_count")


def split_erasing(entries: list[dict]) -> tuple[list[dict], dict | None]:
    """``train.augment`` without its RandomErasing entry (top level only), and that entry's settings."""
    erasing = [e for e in entries if e.get("name") == ERASING]
    if len(erasing) > 1:
        raise FoldwiseError(f"train.augment: {ERASING} appears {len(erasing)} times; keep one")
    settings = {k: v for k, v in erasing[0].items() if k != "name"} if erasing else None
    return [e for e in entries if e.get("name") != ERASING], settings


class BatchAugment:
    """``(x, y) -> (x, y)`` on a normalised batch and its dense targets; the identity when all is off."""

    def __init__(
        self,
        task: str,
        num_classes: int,
        device: torch.device,
        label_smoothing: float = 0.0,
        mixup: dict | None = None,
        erasing: dict | None = None,
    ):
        if task == "identity" and (label_smoothing or mixup or erasing is not None):
            raise FoldwiseError(
                "train.label_smoothing, train.mixup and RandomErasing are for classes; identities train "
                "ArcFace on individual indices (leave them off, or use albumentations' Erasing in train.augment)"
            )
        if not 0 <= label_smoothing < 1:
            raise FoldwiseError(f"train.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.smoothing = label_smoothing
        self.off_value = label_smoothing / (2 if task == "multilabel" else num_classes)
        self.mixup = self.erasing = None
        if mixup:
            unknown = sorted(set(mixup) - set(MIXUP_KEYS))
            if unknown:
                raise FoldwiseError(f"train.mixup: unknown settings {unknown}; known: {list(MIXUP_KEYS)}")
            # dense targets: the multi-label form mixes any (batch, classes) table; smoothing is ours
            self.mixup = Mixup(**mixup, label_smoothing=0.0, num_classes=num_classes, multi_label=True)
        if erasing is not None:
            unknown = sorted(set(erasing) - set(ERASING_KEYS))
            if unknown:
                raise FoldwiseError(
                    f"train.augment: {ERASING}: unknown settings {unknown}; known: {list(ERASING_KEYS)}"
                )
            settings = {"probability" if k == "p" else k: v for k, v in erasing.items()}
            self.erasing = RandomErasing(**{"mode": "pixel", **settings}, device=device.type)

    @property
    def active(self) -> bool:
        return bool(self.smoothing) or self.mixup is not None or self.erasing is not None

    def reseed(self, seed: int) -> None:
        """Fix the global generators for one epoch: Python's (erasing's boxes), NumPy's (mixup's
        weights) and torch's (erasing's pixels, and the model's dropout)."""
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.erasing is not None:
            x = self.erasing(x)
        if self.smoothing:
            y = y.float() * (1 - self.smoothing) + self.off_value
        if self.mixup is not None:
            if len(x) % 2:
                raise FoldwiseError(f"train.mixup mixes pairs of a batch: train.batch_size must be even, got {len(x)}")
            x, y = self.mixup(x, y.float())
        return x, y
