"""The image cache: every sample decoded and resized once into an N x H x W x C uint8 memmap.

Epochs then read arrays instead of decoding JPEGs, so the GPU does not wait for the CPU.
Row i of the cache is row i of the manifest; ``index.parquet`` records (id, split) per row.
A sample with a detector box (``boxes``) is cropped to it before the resize.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from foldwise import FoldwiseError, artifacts, images, progress
from foldwise import boxes as boxes_module
from foldwise import manifest as manifest_module

RESIZE = ("stretch", "pad", "crop")  # cache.resize


def fit(
    image: np.ndarray, size: tuple[int, int], transpose_portrait: bool = False, resize: str = "stretch"
) -> np.ndarray:
    """Resize an HxWxC image to ``size`` (h, w); portrait images are transposed first if asked.

    ``resize``: ``stretch`` to the size whatever the aspect; ``pad`` scales the whole image to fit
    inside and centres it on black (letterbox: nothing lost, nothing distorted); ``crop`` cuts the
    centre of the image's aspect to the size's first (nothing distorted, the edges lost).
    """
    check_resize(resize)
    if transpose_portrait and image.shape[0] > image.shape[1]:
        image = image.transpose(1, 0, 2)
    h, w = size
    if resize == "crop":
        scale = min(image.shape[0] / h, image.shape[1] / w)  # the largest window of the size's aspect
        ch, cw = max(round(h * scale), 1), max(round(w * scale), 1)
        top, left = (image.shape[0] - ch) // 2, (image.shape[1] - cw) // 2
        image = image[top : top + ch, left : left + cw]
    inner = (h, w)
    if resize == "pad":
        scale = min(h / image.shape[0], w / image.shape[1])
        inner = (min(max(round(image.shape[0] * scale), 1), h), min(max(round(image.shape[1] * scale), 1), w))
    shrink = image.shape[0] >= inner[0] and image.shape[1] >= inner[1]
    resized = cv2.resize(image, inner[::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    resized = resized.reshape(*inner, image.shape[2])
    if inner == (h, w):
        return resized
    out = np.zeros((h, w, image.shape[2]), image.dtype)
    top, left = (h - inner[0]) // 2, (w - inner[1]) // 2
    out[top : top + inner[0], left : left + inner[1]] = resized
    return out


def check_resize(resize: str) -> None:
    if resize not in RESIZE:
        raise FoldwiseError(f"cache.resize must be one of {', '.join(RESIZE)}, got {resize!r}")


def _fill(args) -> None:
    path, start, samples, channels, size, transpose_portrait, resize, crops, depth = args
    cache = np.load(path, mmap_mode="r+")
    for offset, paths in enumerate(samples):
        # ask the JPEG decoder for at least twice the target size: faster, still antialiased
        draft = (size[0] * 2, size[1] * 2)
        image = images.read_sample(paths, channels, draft, depth)
        if crops is not None and not np.isnan(crops["box"][offset, 0]):
            image = _crop(image, paths[0], crops, offset)
        cache[start + offset] = fit(image, size, transpose_portrait, resize)
    cache.flush()


def _crop(image: np.ndarray, path: str, crops: dict, offset: int) -> np.ndarray:
    """``image`` (decoded, maybe draft-scaled) cut to the box of sample ``offset`` of the chunk."""
    box = crops["box"][offset]
    _, (height, width) = images.header_channels(path)  # the box is in pixels of the original
    if box[2] > width or box[3] > height:
        raise FoldwiseError(
            f"{crops['file']} line {crops['line'][offset]} (id {crops['id'][offset]!r}): box "
            f"x0,y0,x1,y1 = {','.join(f'{v:g}' for v in box)} reaches outside the image {path} "
            f"(width {width}, height {height})"
        )
    rows, cols = boxes_module.crop_window(box, (height, width), image.shape[:2], crops["margin"])
    return image[rows, cols]


def build(
    manifest: pd.DataFrame,
    channels: int,
    size: tuple[int, int],
    images_path: str | Path,
    index_path: str | Path,
    threads: int = 1,
    transpose_portrait: bool = False,
    resize: str = "stretch",
    chunk: int = 64,
    boxes: pd.DataFrame | None = None,
    margin: float = 0.0,
) -> None:
    """Decode every manifest row into ``images_path`` (.npy memmap) and write ``index_path``.

    Args:
        manifest: rows to cache (id, split, path:* columns); row i becomes cache row i.
        channels: channels per sample.
        size: (height, width) every sample is resized to.
        images_path, index_path: the (N, H, W, C) uint8 .npy and its (id, split) index.
        threads: decoding processes.
        transpose_portrait: transpose portrait images to landscape before the resize.
        resize: stretch, pad or crop to ``size`` (``fit``).
        chunk: samples per job.
        boxes: optional detector boxes (``boxes.read``: id, x0, y0, x1, y1, line; ``attrs["file"]``
            names the CSV): a sample with a box is cropped to it, one without is cached whole.
        margin: the box grows by margin x its width (height) on each side, clipped to the image.
    """
    if margin < 0:
        raise FoldwiseError(f"the box margin must be at least 0, got {margin} (cache.box_margin)")
    check_resize(resize)  # before any decoding
    samples = manifest_module.paths(manifest)
    crops = None
    if boxes is not None:
        by_id = boxes.set_index("id").reindex(manifest.id.to_numpy())
        crops = {  # plain arrays, sliced per job: what the worker processes receive
            "box": by_id[boxes_module.COORDINATES].to_numpy(np.float64),
            "line": by_id.line.fillna(-1).to_numpy(np.int64),
            "id": manifest.id.astype(str).tolist(),
            "file": boxes.attrs.get("file", "dataset.boxes"),
            "margin": float(margin),
        }
    images_path = Path(images_path)
    partial = images_path.with_name(f".{images_path.name}.part.npy")  # renamed into place when full
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(samples), *size, channels)).flush()
        depth = manifest_module.bit_depth(manifest)
        jobs = [
            (
                partial,
                s,
                samples[s : s + chunk],
                channels,
                tuple(size),
                transpose_portrait,
                resize,
                _slice(crops, s, chunk),
                depth,
            )
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


def _slice(crops: dict | None, start: int, chunk: int) -> dict | None:
    """The boxes of one job's samples (None: no boxes anywhere)."""
    if crops is None:
        return None
    part = slice(start, start + chunk)
    return {**crops, "box": crops["box"][part], "line": crops["line"][part], "id": crops["id"][part]}


def load(images_path: str | Path) -> np.ndarray:
    """The cache as a read-only memmap (N, H, W, C) uint8."""
    return np.load(images_path, mmap_mode="r")


class Stacked:
    """Several caches of one image size read as one (N1 + N2 + ..., H, W, C), without copying them:
    the identity recipe's pseudo stage trains on training rows and pseudo-labelled test rows."""

    def __init__(self, *arrays: np.ndarray):
        if len({a.shape[1:] for a in arrays}) != 1:
            raise ValueError(f"caches of different image shapes: {[a.shape[1:] for a in arrays]}")
        self.arrays = arrays
        self.starts = np.cumsum([0, *(len(a) for a in arrays)])
        self.shape = (int(self.starts[-1]), *arrays[0].shape[1:])
        self.dtype = arrays[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        """One row (an int) or several (an integer array), as numpy indexing would give them."""
        if np.ndim(rows) == 0:
            part = int(np.searchsorted(self.starts, rows, side="right")) - 1
            return self.arrays[part][int(rows) - self.starts[part]]
        rows = np.asarray(rows)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        parts = np.searchsorted(self.starts, rows, side="right") - 1
        for part in np.unique(parts):
            chosen = parts == part
            out[chosen] = self.arrays[part][rows[chosen] - self.starts[part]]
        return out
