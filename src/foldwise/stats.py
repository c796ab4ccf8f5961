"""Per-channel mean and standard deviation of the cached pixels, on the 0..1 scale."""

from __future__ import annotations

import numpy as np


def channel_stats(images: np.ndarray, rows: np.ndarray, chunk: int = 256) -> dict:
    """Mean and (population) std per channel over ``rows`` of an (N, H, W, C) uint8 cache.

    Accumulates in float64 over chunks, so a cache larger than memory is fine.
    Returns ``{"mean": [C], "std": [C], "count": rows}``.
    """
    channels = images.shape[-1]
    total = np.zeros(channels, np.float64)
    squares = np.zeros(channels, np.float64)
    pixels = 0
    rows = np.sort(np.asarray(rows))
    for start in range(0, len(rows), chunk):
        block = images[rows[start : start + chunk]].reshape(-1, channels).astype(np.float64) / 255.0
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
        pixels += block.shape[0]
    if pixels == 0:
        raise ValueError("no rows to compute channel statistics over")
    mean = total / pixels
    std = np.sqrt(np.maximum(squares / pixels - mean**2, 0.0))
    return {"mean": mean.tolist(), "std": std.tolist(), "count": int(len(rows))}
