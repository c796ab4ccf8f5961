"""Reading one sample's pixels: one file with C channels, or one single-channel file per channel.

Pillow decodes (it raises on truncated files, where OpenCV would warn and return garbage);
every failure becomes a ``FoldwiseError`` that names the file. Pixels are as shown, not as stored:
a JPEG's EXIF orientation is applied (phones store portraits sideways and tag them). A file whose
channel count differs from the dataset's is converted where that is lossless in meaning: gray to
RGB by repetition, RGBA to RGB dropping alpha, RGB or RGBA to gray by luminance (ITU-R 601, as
Pillow); the manifest stage decides whether that is allowed (``manifest.convert_channels``).

16-bit files are scaled to 0..255 by the largest value of the dataset's bit depth, decided once
for the whole dataset (``dataset.bit_depth``; ``auto``: ``bit_depth`` over every file, in the
manifest stage). Many cameras and microscopes store 12-bit samples in 16-bit files, and PNG's
sBIT chunk, which would say so, is not read by Pillow: a dataset whose 16-bit values all fit in
12 bits is read as 12-bit data (4095 -> 255). Deciding per file would scale raw 4000 to 249 in
one file and to 16 in a brighter one.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from foldwise import FoldwiseError

# Pillow mode -> channel count; 16-bit and palette modes are converted to these first.
MODE_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}
TWELVE_BIT_MAX = 4095  # 16-bit files whose values fit in 12 bits are 12-bit data (see above)
EIGHT_BIT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK"}  # modes Pillow converts without scaling
TURNED = {5, 6, 7, 8}  # EXIF orientations that swap height and width


def image_path(template: str, sample_id: str) -> Path:
    """The file of ``sample_id`` under ``template`` ('dir/{id}.jpg'); refuses ids that escape 'dir'."""
    if os.path.isabs(sample_id) or sample_id.startswith(("~", "\\")):
        raise FoldwiseError(f"id {sample_id!r} would escape the images folder: ids must be relative names")
    prefix = template.split("{id}")[0]
    root = Path(prefix) if prefix.endswith(("/", os.sep)) else Path(prefix).parent
    path = Path(template.replace("{id}", sample_id))
    # lexical check (symlinked image folders stay allowed)
    if not Path(os.path.abspath(path)).is_relative_to(os.path.abspath(root)):
        raise FoldwiseError(f"id {sample_id!r} would escape the images folder {str(root)!r}")
    return path


def header_channels(path: str | os.PathLike) -> tuple[int, tuple[int, int]]:
    """(channels, (height, width)) from the file header alone, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            turned = img.getexif().get(0x0112) in TURNED  # the orientation tag
            return _channels(img.mode), ((img.width, img.height) if turned else (img.height, img.width))
    except FileNotFoundError:
        raise FoldwiseError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise FoldwiseError(f"{path}: not a readable image ({error})") from None


def convertible(found: int, channels: int) -> bool:
    """Whether ``read_file`` turns a file of ``found`` channels into ``channels``: gray (with or
    without alpha), RGB, RGBA or CMYK into gray or RGB."""
    return found != channels and channels in (1, 3) and found in (1, 2, 3, 4)


def _channels(mode: str) -> int:
    if mode in MODE_CHANNELS:
        return MODE_CHANNELS[mode]
    if mode.startswith("I") or mode == "F" or mode == "1":
        return 1
    if mode in ("P", "PA"):
        return 3
    return len(mode)


def bit_depth(paths, threads: int = 1) -> int:
    """The bit depth of a dataset's files: 8 when none is 16-bit; else 12 when every 16-bit file's
    values fit in 12 bits, 16 otherwise. Reads the pixels of 16-bit files only."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        maxima = [m for m in pool.map(_sixteen_bit_max, paths) if m is not None]
    if not maxima:
        return 8
    return 12 if max(maxima) <= TWELVE_BIT_MAX else 16


def _sixteen_bit_max(path) -> int | None:
    with Image.open(path) as img:
        if not img.mode.startswith("I;16") and img.mode != "I":
            return None
        return int(np.asarray(img).max(initial=0))


def _to_uint8(img: Image.Image, depth: int = 16) -> np.ndarray:
    if img.mode in ("P", "PA"):
        img = img.convert("RGB")
    if img.mode == "1":
        img = img.convert("L")
    array = np.asarray(img)
    if img.mode.startswith("I;16") or array.dtype == np.uint16:
        top = 2**depth - 1  # the dataset's, not this file's: every file scales alike
        array = ((np.minimum(array.astype(np.uint32), top) * 255 + top // 2) // top).astype(np.uint8)  # rounded
    elif array.dtype != np.uint8:
        low, high = float(array.min()), float(array.max())
        array = ((array - low) / max(high - low, 1e-12) * 255).round().astype(np.uint8)
    return array if array.ndim == 3 else array[:, :, None]


def read_file(
    path: str | os.PathLike, channels: int, draft: tuple[int, int] | None = None, depth: int = 16
) -> np.ndarray:
    """Decode one file to an HxWxC uint8 array; ``draft`` (h, w) lets JPEG decode at reduced scale;
    16-bit values are scaled from the dataset's bit ``depth``."""
    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(0x0112, 1)
            if draft is not None and img.format == "JPEG":
                img.draft(img.mode, (draft[0], draft[1]) if orientation in TURNED else (draft[1], draft[0]))
            img.load()
            if orientation != 1:
                img = ImageOps.exif_transpose(img)
            found = _channels(img.mode)
            if found != channels and img.mode in EIGHT_BIT and convertible(found, channels):
                img = img.convert("L" if channels == 1 else "RGB")
            array = _to_uint8(img, depth)
            if array.shape[2] == 1 and channels == 3:  # a 16-bit gray file in an RGB dataset
                array = np.repeat(array, 3, axis=2)
    except FileNotFoundError:
        raise FoldwiseError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise FoldwiseError(f"{path}: cannot decode image ({error})") from None
    if array.shape[2] != channels:
        raise FoldwiseError(
            f"{path}: image has {array.shape[2]} channel(s), the config expects {channels}; set dataset.channels"
        )
    return array


def read_sample(paths: list[str], channels: int, draft: tuple[int, int] | None = None, depth: int = 16) -> np.ndarray:
    """One sample as HxWxC uint8: ``paths`` holds one file of ``channels`` channels, or one file per channel."""
    if len(paths) == 1:
        return read_file(paths[0], channels, draft, depth)
    planes = [read_file(p, 1, draft, depth) for p in paths]
    shapes = {p.shape for p in planes}
    if len(shapes) > 1:
        raise FoldwiseError(f"{paths[0]}: channel files of one sample differ in size: {sorted(shapes)}")
    return np.concatenate(planes, axis=2)
