"""Losses by name. Each maps (logits, target) to a scalar; targets may be soft."""

from __future__ import annotations

from timm.loss import SoftTargetCrossEntropy
from torch import nn

LOSSES = {
    "soft_ce": SoftTargetCrossEntropy,  # single-label; soft targets for distillation
    "bce": nn.BCEWithLogitsLoss,  # multi-label, one sigmoid per class
}


def create(name: str) -> nn.Module:
    """The loss called ``name``; an unknown name raises ValueError listing the known ones."""
    try:
        return LOSSES[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}") from None
