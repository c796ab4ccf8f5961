"""The image cache: every sample decoded and resized once into an N x H x W x C uint8 memmap.

Epochs then read arrays instead of decoding JPEGs, so the GPU does not wait for the CPU.
Row i of the cache is row i of the manifest; ``index.parquet`` records (id, split) per row.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from foldwise import artifacts, images, progress
from foldwise import manifest as manifest_module


def fit(image: np.ndarray, size: tuple[int, int], transpose_portrait: bool = False) -> np.ndarray:
    """Resize an HxWxC image to ``size`` (h, w); portrait images are transposed first if asked."""
    if transpose_portrait and image.shape[0] > image.shape[1]:
        image = image.transpose(1, 0, 2)
    h, w = size
    shrink = image.shape[0] >= h and image.shape[1] >= w
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resized.reshape(h, w, image.shape[2])


def _fill(args) -> None:
    path, start, samples, channels, size, transpose_portrait = args
    cache = np.load(path, mmap_mode="r+")
    for offset, paths in enumerate(samples):
        # ask the JPEG decoder for at least twice the target size: faster, still antialiased
        draft = (size[0] * 2, size[1] * 2)
        cache[start + offset] = fit(images.read_sample(paths, channels, draft), size, transpose_portrait)
    cache.flush()


def build(
    manifest: pd.DataFrame,
    channels: int,
    size: tuple[int, int],
    images_path: str | Path,
    index_path: str | Path,
    threads: int = 1,
    transpose_portrait: bool = False,
    chunk: int = 64,
) -> None:
    """Decode every manifest row into ``images_path`` (.npy memmap) and write ``index_path``."""
    samples = manifest_module.paths(manifest)
    images_path = Path(images_path)
    partial = images_path.with_name(f".{images_path.name}.part.npy")  # renamed into place when full
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(samples), *size, channels)).flush()
        jobs = [
            (partial, s, samples[s : s + chunk], channels, tuple(size), transpose_portrait)
            for s in range(0, len(samples), chunk)
        ]
        desc = f"cache {size[0]}x{size[1]}"
        if threads > 1:
            with ProcessPoolExecutor(max_workers=threads) as pool:
                list(progress.bar(pool.map(_fill, jobs), desc, len(jobs), "chunk"))
        else:
            for job in progress.bar(jobs, desc, len(jobs), "chunk"):
                _fill(job)
        partial.replace(images_path)
    finally:
        partial.unlink(missing_ok=True)
    artifacts.write_table(manifest[["id", "split"]].reset_index(drop=True), index_path)


def load(images_path: str | Path) -> np.ndarray:
    """The cache as a read-only memmap (N, H, W, C) uint8."""
    return np.load(images_path, mmap_mode="r")
