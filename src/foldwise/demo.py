"""The embedded demo datasets, in the Plant Pathology 2020 or the HPA 2018 layout, from a seed.

Leaves on soil: healthy leaves are plain, rust adds orange spots, scab dark patches,
multiple_diseases both, so the classes are learnable from the pixels. A few percent of
training labels are flipped (something for distillation to correct), and an external
labelled set holds planted near-duplicates of train/test images (re-encoded, resized,
cropped or brightened) beside new images; ``external_duplicates.csv`` records the pairs.

The HPA layout draws fields of cells in four channels (red body, green protein, blue nucleus,
yellow ER); each of six classes puts the green protein in its own place (nucleus, cytosol,
nucleoli, membrane, mitochondria, aggregates), and a sample has one to several classes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from foldwise import artifacts

CLASSES = ("healthy", "multiple_diseases", "rust", "scab")
CLASS_WEIGHTS = np.array([6, 1, 6, 6]) / 19
ID_COLUMN = "image_id"


@dataclass(frozen=True)
class DemoSpec:
    train_size: int = 480
    test_size: int = 160
    external_size: int = 120
    external_duplicates: float = 0.5  # share of the external set planted as near-duplicates
    image_size: tuple[int, int] = (192, 256)  # (h, w) of a landscape image, varied per image
    label_noise: float = 0.02
    seed: int = 42
    layout: str = "plant_pathology"  # or "hpa": 4 single-channel PNGs per sample, multi-label


def draw_leaf(rng: np.random.Generator, label: str, size: tuple[int, int]) -> np.ndarray:
    """One RGB uint8 image of a leaf of class ``label`` on a random background."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # soil background: a random tilted gradient between two earth tones, plus grain
    c0, c1 = rng.uniform([60, 45, 25], [150, 120, 90], size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h + 1) / 2
    img = (c0 * t[..., None] + c1 * (1 - t[..., None])).astype(np.float32)
    for _ in range(rng.integers(3, 8)):  # pebbles and shadows break up the background
        center = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.03, 0.15) * w), int(rng.uniform(0.03, 0.15) * h))
        cv2.ellipse(img, center, axes, rng.uniform(0, 180), 0, 360, rng.uniform(30, 200, 3).tolist(), -1)
    img += rng.normal(0, 8, img.shape).astype(np.float32)

    # the leaf: a rotated ellipse in one of many greens, with a midrib
    leaf = np.zeros((h, w), np.uint8)
    center = (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h))
    axes = (int(rng.uniform(0.25, 0.42) * w), int(rng.uniform(0.15, 0.3) * h))
    tilt = rng.uniform(-40, 40)
    cv2.ellipse(leaf, center, axes, tilt, 0, 360, 255, -1)
    green = rng.uniform([40, 110, 20], [110, 190, 70])
    shade = 1 + 0.15 * (yy / h - 0.5)[..., None]
    img = np.where(leaf[..., None] > 0, green * shade + rng.normal(0, 5, img.shape), img)
    rad = np.deg2rad(tilt)
    tip = np.array([np.cos(rad), np.sin(rad)]) * axes[0] * 0.9
    cv2.line(
        img,
        tuple((center - tip).astype(int)),
        tuple((center + tip).astype(int)),
        (green * 1.3).tolist(),
        max(1, w // 120),
    )

    inside = np.argwhere(leaf > 0)
    spot = max(2, min(h, w) // 40)
    if label in ("rust", "multiple_diseases"):
        for y, x in inside[rng.integers(0, len(inside), rng.integers(8, 18))]:
            cv2.circle(
                img,
                (int(x), int(y)),
                int(rng.integers(spot, 2 * spot)),
                rng.uniform([200, 110, 0], [250, 160, 40]).tolist(),
                -1,
            )
    if label in ("scab", "multiple_diseases"):
        for y, x in inside[rng.integers(0, len(inside), rng.integers(3, 7))]:
            cv2.ellipse(
                img,
                (int(x), int(y)),
                (int(rng.integers(2 * spot, 4 * spot)), int(rng.integers(spot, 3 * spot))),
                rng.uniform(0, 180),
                0,
                360,
                rng.uniform([40, 30, 15], [80, 60, 35]).tolist(),
                -1,
            )
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def near_duplicate(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, int, str]:
    """A near-duplicate of ``image``: (pixels, JPEG quality, what was done)."""
    kind = rng.choice(["reencode", "resize", "crop", "brighten"])
    h, w = image.shape[:2]
    quality = 92
    if kind == "reencode":
        quality = int(rng.integers(55, 75))
    elif kind == "resize":
        scale = rng.uniform(0.6, 0.9)
        image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    elif kind == "crop":
        dy, dx = int(h * rng.uniform(0.01, 0.03)), int(w * rng.uniform(0.01, 0.03))
        image = image[dy : h - dy, dx : w - dx]
    else:
        image = np.clip(image.astype(np.int16) + int(rng.integers(10, 25)), 0, 255).astype(np.uint8)
    return image, quality, str(kind)


def _image_size(rng: np.random.Generator, base: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(s * rng.uniform(0.85, 1.15)) for s in base)
    return (w, h) if rng.random() < 0.15 else (h, w)  # some portrait images, as in the real data


# -- the HPA 2018 layout: 4 single-channel PNGs per sample, multi-label "Target" ------------

HPA_CHANNELS = ("red", "green", "blue", "yellow")
HPA_CLASSES = ("nucleoplasm", "cytosol", "nucleoli", "plasma_membrane", "mitochondria", "aggregates")
HPA_CLASS_RATES = np.array([0.45, 0.35, 0.2, 0.2, 0.15, 0.1])  # label frequencies, HPA-like imbalance


def draw_cells(rng: np.random.Generator, labels: list[int], size: int) -> np.ndarray:
    """An HxWx4 uint8 field of cells; the green (protein) channel shows the labelled localisations."""
    red, green, blue, yellow = (np.zeros((size, size), np.float32) for _ in HPA_CHANNELS)
    for _ in range(rng.integers(3, 6)):
        cx, cy = rng.uniform(0.15, 0.85, 2) * size
        body = rng.uniform(0.12, 0.2) * size
        nucleus = body * rng.uniform(0.4, 0.55)
        centre = (int(cx), int(cy))
        cv2.circle(red, centre, int(body), float(rng.uniform(60, 120)), -1)  # cell body
        cv2.circle(yellow, centre, int(body * 0.9), float(rng.uniform(50, 110)), -1)  # endoplasmic reticulum
        cv2.circle(blue, centre, int(nucleus), float(rng.uniform(150, 230)), -1)  # nucleus
        level = float(rng.uniform(150, 240))
        if 1 in labels:  # cytosol: diffuse in the cell body
            cv2.circle(green, centre, int(body), level * 0.6, -1)
        if 0 in labels:  # nucleoplasm: fills the nucleus
            cv2.circle(green, centre, int(nucleus), level, -1)
        if 3 in labels:  # plasma membrane: a ring at the cell edge
            cv2.circle(green, centre, int(body), level, max(1, size // 64))
        if 2 in labels:  # nucleoli: two or three dots inside the nucleus
            for _ in range(rng.integers(2, 4)):
                offset = rng.uniform(-0.45, 0.45, 2) * nucleus
                cv2.circle(green, (int(cx + offset[0]), int(cy + offset[1])), max(2, size // 30), 255.0, -1)
        if 4 in labels:  # mitochondria: speckles between nucleus and edge
            for _ in range(rng.integers(12, 24)):
                angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(nucleus * 1.2, body * 0.9)
                point = (int(cx + radius * np.cos(angle)), int(cy + radius * np.sin(angle)))
                cv2.ellipse(
                    green,
                    point,
                    (max(2, size // 40), max(1, size // 80)),
                    float(rng.uniform(0, 180)),
                    0,
                    360,
                    level,
                    -1,
                )
    if 5 in labels:  # aggregates: two or three bright square clumps anywhere
        for _ in range(rng.integers(2, 4)):
            x, y = (int(v) for v in rng.uniform(0.1, 0.8, 2) * size)
            cv2.rectangle(green, (x, y), (x + size // 10, y + size // 10), 255.0, -1)
    image = np.stack([red, green, blue, yellow], axis=2)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(image, (3, 3), 0), 0, 255).astype(np.uint8)


def hpa_labels(rng: np.random.Generator) -> list[int]:
    labels = list(np.flatnonzero(rng.random(len(HPA_CLASSES)) < HPA_CLASS_RATES))
    return labels or [int(rng.choice(len(HPA_CLASSES), p=HPA_CLASS_RATES / HPA_CLASS_RATES.sum()))]


def _hpa_flip(rng: np.random.Generator, labels: list[int]) -> list[int]:
    """Label noise for multi-label rows: one class toggled, never leaving the row empty."""
    toggled = sorted(set(labels) ^ {int(rng.integers(len(HPA_CLASSES)))})
    return toggled or labels


def _save_png_channels(images: Path, sample_id: str, pixels: np.ndarray, quality: int) -> None:
    for c, color in enumerate(HPA_CHANNELS):
        Image.fromarray(pixels[:, :, c]).save(images / f"{sample_id}_{color}.png")


@dataclass(frozen=True)
class Layout:
    """How one competition's data looks: labels, pixels, files and the labelled CSV."""

    id_column: str
    sample_labels: Callable  # (rng, n) -> n labels
    draw: Callable  # (rng, label, spec) -> HxWxC uint8
    flip: Callable  # (rng, label) -> a wrong label
    table: Callable  # (ids, labels) -> the labelled CSV as a DataFrame
    save: Callable  # (images dir, id, pixels, JPEG quality) -> None


LAYOUTS = {
    "plant_pathology": Layout(
        id_column=ID_COLUMN,
        sample_labels=lambda rng, n: list(rng.choice(CLASSES, size=n, p=CLASS_WEIGHTS)),
        draw=lambda rng, label, spec: draw_leaf(rng, label, _image_size(rng, spec.image_size)),
        flip=lambda rng, label: rng.choice([c for c in CLASSES if c != label]),
        table=lambda ids, labels: pd.concat([pd.DataFrame({ID_COLUMN: ids}), _one_hot(labels)], axis=1),
        save=lambda images, i, pixels, quality: (images / f"{i}.jpg").write_bytes(encode_jpeg(pixels, quality)),
    ),
    "hpa": Layout(
        id_column="Id",
        sample_labels=lambda rng, n: [hpa_labels(rng) for _ in range(n)],
        draw=lambda rng, labels, spec: draw_cells(rng, labels, spec.image_size[0]),
        flip=_hpa_flip,
        table=lambda ids, labels: pd.DataFrame({"Id": ids, "Target": [" ".join(map(str, sorted(v))) for v in labels]}),
        save=_save_png_channels,
    ),
}


def _one_hot(labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [int(label == c) for label in labels] for c in CLASSES})


def generate(out_dir: str | Path, spec: DemoSpec) -> None:
    """Write train.csv, test.csv, external.csv, external_duplicates.csv and images/ under ``out_dir``."""
    layout = LAYOUTS[spec.layout]
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)

    n = spec.train_size + spec.test_size
    labels = layout.sample_labels(rng, n)
    ids = [f"Train_{i}" for i in range(spec.train_size)] + [f"Test_{i}" for i in range(spec.test_size)]
    pixels = {}
    for sample_id, label in zip(ids, labels):
        pixels[sample_id] = layout.draw(rng, label, spec)
        layout.save(images, sample_id, pixels[sample_id], 92)

    train_labels = labels[: spec.train_size]
    for i in np.flatnonzero(rng.random(spec.train_size) < spec.label_noise):
        train_labels[i] = layout.flip(rng, train_labels[i])
    train = layout.table(ids[: spec.train_size], train_labels)
    test = pd.DataFrame({layout.id_column: ids[spec.train_size :]})

    n_dup = int(round(spec.external_size * spec.external_duplicates))
    sources = rng.choice(n, size=n_dup, replace=False)
    ext_ids, ext_labels, planted = [], [], []
    for j in range(spec.external_size):
        ext_id = f"Ext_{j}"
        if j < n_dup:
            source = ids[sources[j]]
            image, quality, kind = near_duplicate(rng, pixels[source])
            label = labels[sources[j]]
            planted.append({"external_id": ext_id, "source_id": source, "transform": kind})
        else:
            label = layout.sample_labels(rng, 1)[0]
            image, quality = layout.draw(rng, label, spec), 92
        layout.save(images, ext_id, image, quality)
        ext_ids.append(ext_id)
        ext_labels.append(label)
    external = layout.table(ext_ids, ext_labels)

    artifacts.write_csv(train, out_dir / "train.csv")
    artifacts.write_csv(test, out_dir / "test.csv")
    artifacts.write_csv(external, out_dir / "external.csv")
    artifacts.write_csv(pd.DataFrame(planted), out_dir / "external_duplicates.csv")
