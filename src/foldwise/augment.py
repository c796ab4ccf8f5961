"""Training augmentation: an albumentations pipeline described in the config.

Each entry names an albumentations transform and its arguments; ``OneOf``/``SomeOf``/
``Sequential`` take a ``transforms`` list. Normalisation is not part of it: it runs on the
device, over any number of channels, with the dataset's statistics.

    augment:
      - {name: HorizontalFlip, p: 0.5}
      - {name: OneOf, p: 0.5, transforms: [{name: MotionBlur, blur_limit: 3}, {name: GaussianBlur}]}
"""

from __future__ import annotations

import random

import albumentations as A
import numpy as np

from foldwise import FoldwiseError

CONTAINERS = ("OneOf", "SomeOf", "Sequential")


def _build(entry: dict) -> A.BasicTransform:
    entry = dict(entry)
    name = entry.pop("name", None)
    cls = getattr(A, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, (A.BasicTransform, A.BaseCompose))):
        raise FoldwiseError(f"train.augment: {name!r} is not an albumentations {A.__version__} transform")
    if name in CONTAINERS:
        entry["transforms"] = [_build(child) for child in entry.get("transforms", [])]
    try:
        return cls(**entry)
    except (TypeError, ValueError) as error:
        raise FoldwiseError(f"train.augment: {name}: {error}") from None


def create(entries: list[dict], seed: int | None = None) -> A.Compose:
    """An ``A.Compose`` of the configured transforms, seeded for reproducibility (see ``reseed``)."""
    transform = A.Compose([_build(e) for e in entries])
    if seed is not None:
        reseed(transform, seed)
    return transform


def reseed(transform: A.Compose, seed: int) -> None:
    """Make ``transform``'s next draws a function of ``seed`` alone.

    Every child transform draws from ONE shared pair of generators. albumentations'
    ``set_random_seed`` instead gives each child its own generator with the same seed, so two
    transforms with the same ``p`` (horizontal and vertical flips) always fire together.
    """
    transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
