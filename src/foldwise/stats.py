"""Per-channel mean and standard deviation of the cached pixels, on the 0..1 scale.

Over the training rows by default (``stats.over: train``), so that a new test set leaves
normalisation, and training, alone; HPA 2018 took them over train and test (``train+test``).
The std written (``combine``) is held at least ``STD_FLOOR``: a constant channel (an RGBA alpha of
255 everywhere) would otherwise divide every input by zero.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

# Cache bytes read per step. The peak is about three times this (the uint8 block and its uint16 squares),
# whatever the image size: HPA's 768x768x4 rows and the demo's 64x64x3 rows alike.
CHUNK_BYTES = 64 << 20

# one grey level of the 0..1 scale: the least std a channel is normalised with. A constant channel
# then enters the model as zeros (x - mean = 0), not 0 / 0 = NaN
STD_FLOOR = 1 / 255


def channel_stats(images: np.ndarray, rows: np.ndarray, chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Mean and (population) std per channel over ``rows`` of an (N, H, W, C) uint8 cache.

    Sums of values and of squares are exact integers (uint64 over blocks of about ``chunk_bytes``,
    then Python integers), so memory stays bounded by the block and the result does not depend on
    the block size. Returns ``{"mean": [C], "std": [C], "count": rows}``.
    """
    channels = images.shape[-1]
    rows_per_block = max(1, chunk_bytes // max(1, int(np.prod(images.shape[1:]))))
    total = np.zeros(channels, np.uint64)
    squares = np.zeros(channels, np.uint64)
    rows = np.sort(np.asarray(rows))
    for start in range(0, len(rows), rows_per_block):
        block_total, block_squares = _sums(images[rows[start : start + rows_per_block]])
        total += block_total
        squares += block_squares
    pixels = len(rows) * int(np.prod(images.shape[1:-1]))
    if pixels == 0:
        raise ValueError("no rows to compute channel statistics over")
    mean, std = [], []
    for s, q in zip(map(int, total), map(int, squares)):
        mean.append(s / (255 * pixels))
        std.append(math.sqrt(q * pixels - s * s) / (255 * pixels))  # exact integer variance numerator
    return {"mean": mean, "std": std, "count": len(rows)}


def _sums(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel uint64 sums of values and of squares of a uint8 block (freed on return, before the next)."""
    pixels = block.reshape(-1, block.shape[-1])
    wide = pixels.astype(np.uint16)  # 255**2 fits in 16 bits
    return pixels.sum(axis=0, dtype=np.uint64), np.square(wide, out=wide).sum(axis=0, dtype=np.uint64)


def combine(parts: list[dict], channels: list[str] | None = None, floor: float = STD_FLOOR) -> dict:
    """One ``channel_stats`` result from those of several caches of the same image size (train and
    test), the one to normalise with: a std below ``floor`` is raised to it, with a warning naming the
    channel (``channels``: their names, else "channel <index>")."""
    counts = np.array([part["count"] for part in parts], np.float64)[:, None]
    means = np.array([part["mean"] for part in parts], np.float64)
    squares = np.square(np.array([part["std"] for part in parts], np.float64)) + np.square(means)
    mean = (counts * means).sum(axis=0) / counts.sum()
    std = np.sqrt(np.maximum((counts * squares).sum(axis=0) / counts.sum() - mean**2, 0.0))
    for c in np.flatnonzero(std < floor):
        name = channels[c] if channels else f"channel {c}"
        log.warning(
            "%s is (nearly) constant: std %.3g, mean %.4f; normalised with std %.3g, not divided by zero",
            *(name, std[c], mean[c], floor),
        )
    std = np.maximum(std, floor)
    return {"mean": mean.tolist(), "std": std.tolist(), "count": int(counts.sum())}
