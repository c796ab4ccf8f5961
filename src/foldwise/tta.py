"""Test-time augmentation: the 8 dihedral transforms of an NCHW batch, and their reduction.

Each transform has an inverse, so spatial outputs could be mapped back; class scores are
invariant and are reduced directly (mean or max over transforms).
"""

from __future__ import annotations

import torch

# name -> (forward, inverse) on the last two (H, W) dimensions
TRANSFORMS = {
    "identity": (lambda x: x, lambda x: x),
    "hflip": (lambda x: x.flip(-1), lambda x: x.flip(-1)),
    "vflip": (lambda x: x.flip(-2), lambda x: x.flip(-2)),
    "rot180": (lambda x: x.flip(-2, -1), lambda x: x.flip(-2, -1)),
    "transpose": (lambda x: x.transpose(-2, -1), lambda x: x.transpose(-2, -1)),
    "rot90": (lambda x: x.rot90(1, (-2, -1)), lambda x: x.rot90(-1, (-2, -1))),
    "rot270": (lambda x: x.rot90(-1, (-2, -1)), lambda x: x.rot90(1, (-2, -1))),
    "antitranspose": (lambda x: x.flip(-2, -1).transpose(-2, -1), lambda x: x.transpose(-2, -1).flip(-2, -1)),
}
REDUCTIONS = ("mean", "max")


def check(names: list[str], reduce: str) -> None:
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown or not names:
        raise ValueError(f"unknown TTA transform(s) {unknown}; known: {list(TRANSFORMS)}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown TTA reduction {reduce!r}; known: {list(REDUCTIONS)}")


def apply(x: torch.Tensor, name: str) -> torch.Tensor:
    return TRANSFORMS[name][0](x)


def invert(x: torch.Tensor, name: str) -> torch.Tensor:
    return TRANSFORMS[name][1](x)


def reduce(scores: torch.Tensor, how: str) -> torch.Tensor:
    """(T, N, C) scores of T transforms -> (N, C)."""
    return scores.amax(dim=0) if how == "max" else scores.mean(dim=0)
