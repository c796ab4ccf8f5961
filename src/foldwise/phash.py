"""Perceptual hashes, one 64-bit phash per channel, and their Hamming distances.

Hashes are stored as uint64; distances are XORs and popcounts (``np.bitwise_count``) over whole
(n, m) blocks, one byte of one channel at a time, never a Python loop over pairs.
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
    """Pairwise Hamming distances: (n, C) and (m, C) uint64 hashes -> (n, m, C) uint8.

    Counted a byte of a channel at a time into uint8, so that the peak is the result and one (n, m)
    uint8 block: (C + 1) n m bytes (an XOR of whole hashes first would hold another 8 C n m).
    """
    a8, b8 = (np.ascontiguousarray(h, np.uint64).view(np.uint8).reshape(len(h), -1, 8) for h in (a, b))
    channels = a8.shape[1]
    out = np.zeros((channels, len(a), len(b)), np.uint8)  # channel-major: each channel is one contiguous block
    block = np.empty((len(a), len(b)), np.uint8)
    for c in range(channels):
        for byte in range(8):  # the popcount of a uint64 is that of its bytes, whatever their order
            np.bitwise_xor(a8[:, None, c, byte], b8[None, :, c, byte], out=block)
            np.add(out[c], np.bitwise_count(block, out=block), out=out[c])
    return np.moveaxis(out, 0, -1)


def _hash_sample(args: tuple[list[str], int, int]) -> np.ndarray:
    paths, channels, depth = args
    return hash_channels(images.read_sample(paths, channels, depth=depth))


def hash_manifest(manifest: pd.DataFrame, channels: list[str], threads: int = 1) -> pd.DataFrame:
    """Hash every sample of the manifest: columns id, split, then ``hash:<channel>`` (uint64)."""
    depth = manifest_module.bit_depth(manifest)
    jobs = [(paths, len(channels), depth) for paths in manifest_module.paths(manifest)]
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
