"""Perceptual hashes, one 64-bit phash per channel, and their Hamming distances.

Hashes are stored as uint64 so that distances are one XOR and a popcount
(``np.bitwise_count``) over whole arrays, never a Python loop over pairs.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from foldwise import images, progress
from foldwise import manifest as manifest_module

HASH_SIZE = 8  # 8x8 DCT bits: one uint64 per channel


def to_uint64(h: imagehash.ImageHash) -> np.uint64:
    """The 64 bits of an imagehash, row-major, as one unsigned integer."""
    return np.uint64(int.from_bytes(np.packbits(h.hash.flatten()).tobytes(), "big"))


def hash_channels(image: np.ndarray) -> np.ndarray:
    """phash of each channel of an HxWxC uint8 image: a (C,) uint64 array."""
    return np.array(
        [
            to_uint64(imagehash.phash(Image.fromarray(image[:, :, c]), hash_size=HASH_SIZE))
            for c in range(image.shape[2])
        ],
        dtype=np.uint64,
    )


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances: (n, C) and (m, C) uint64 hashes -> (n, m, C) uint8."""
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :])


def _hash_sample(args: tuple[list[str], int]) -> np.ndarray:
    paths, channels = args
    return hash_channels(images.read_sample(paths, channels))


def hash_manifest(manifest: pd.DataFrame, channels: list[str], threads: int = 1) -> pd.DataFrame:
    """Hash every sample of the manifest: columns id, split, then ``hash:<channel>`` (uint64)."""
    jobs = [(paths, len(channels)) for paths in manifest_module.paths(manifest)]
    if threads > 1:
        with ProcessPoolExecutor(max_workers=threads) as pool:
            hashes = list(progress.bar(pool.map(_hash_sample, jobs, chunksize=16), "phash", len(jobs), "img"))
    else:
        hashes = [_hash_sample(job) for job in progress.bar(jobs, "phash", len(jobs), "img")]
    table = np.stack(hashes) if hashes else np.zeros((0, len(channels)), np.uint64)
    out = manifest[["id", "split"]].reset_index(drop=True)
    for i, channel in enumerate(channels):
        out[f"hash:{channel}"] = table[:, i]
    return out


def hash_columns(hashes: pd.DataFrame) -> list[str]:
    return [c for c in hashes.columns if c.startswith("hash:")]
