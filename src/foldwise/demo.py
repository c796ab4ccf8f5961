"""The embedded demo datasets, in the Plant Pathology 2020 or the HPA 2018 layout, from a seed.

Leaves on soil: healthy leaves are plain, rust adds orange spots, scab dark patches,
multiple_diseases both, so the classes are learnable from the pixels. A few percent of
training labels are flipped (something for distillation to correct), and an external
labelled set holds planted near-duplicates of train/test images (re-encoded, resized,
cropped or brightened) beside new images; ``external_duplicates.csv`` records the pairs.

The HPA layout draws fields of cells in four channels (red body, green protein, blue nucleus,
yellow ER); each of six classes puts the green protein in its own place (nucleus, cytosol,
nucleoli, membrane, mitochondria, aggregates), and a sample has one to several classes. Every
sample is stained by an antibody (``antibody`` in train.csv and external.csv, as in HPA's public
data), which stains 1 to 6 samples: they share its classes (now and then one class differs) and
its look (cell layout, protein level, uneven stain, where nucleoli and aggregates lie), each with
its own shift, cells, brightness and noise. Most test samples' antibodies also stain train samples,
the others are new; test_truth.csv holds the test samples' classes and antibodies.

The identity layout is Happywhale 2022's: photos of dorsal fins and flukes on the sea, each
animal with its own notches and marks fixed in its own frame, seen under a new pose (rotation
up to 25 degrees, scale, position, never mirrored), light and sea every time. Many animals are
seen once, some up to eight times; a share of test photos shows animals absent from train
(``new_individual`` in test_truth.csv), and boxes.csv holds a detector's boxes for most photos.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
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
    label_noise: float = 0.02  # classification layouts only: identity labels are never wrong
    seed: int = 42
    layout: str = "plant_pathology"  # or "hpa": 4 single-channel PNGs, multi-label; or "identity"
    individuals: int | None = None  # identity: animals in train; None: a third of train_size
    test_new_share: float = 0.2  # identity: share of test photos showing animals absent from train
    test_known_group_share: float = 0.6  # hpa: share of test samples whose antibody also stains train ones
    antibody_label_drift: float = 0.1  # hpa: chance that a sample has one class other than its antibody's


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


# -- the HPA 2018 layout: 4 single-channel PNGs per sample, multi-label "Target", antibodies ---

HPA_CHANNELS = ("red", "green", "blue", "yellow")
HPA_CLASSES = ("nucleoplasm", "cytosol", "nucleoli", "plasma_membrane", "mitochondria", "aggregates")
HPA_CLASS_RATES = np.array([0.45, 0.35, 0.2, 0.2, 0.15, 0.1])  # label frequencies, HPA-like imbalance
ANTIBODY_SIZES = np.array([0.12, 0.28, 0.3, 0.18, 0.08, 0.04])  # P(an antibody stains 1, 2, ... 6 samples)
CELL_DROP = 0.15  # chance that a sample lacks a given cell of its antibody's (two stay at least)
CELL_ADDED = 0.3  # chance that a sample shows one cell more than its antibody's layout


@dataclass(frozen=True, eq=False)
class Antibody:
    """One antibody: its label set and its look, in fractions of the field, the same in all its samples.

    ``cells`` is the layout of the cells (its samples shift it, move, drop or add a cell); the rest
    is how the protein shows in every cell: its level, cytosol share, membrane width, the nucleoli's
    places in the nucleus, the speckles of mitochondria, the aggregates' places and an uneven stain.
    """

    antibody_id: str
    labels: tuple[int, ...]
    cells: np.ndarray  # (k, 4): centre x, centre y, body radius, nucleus radius / body radius
    level: float  # protein intensity
    cytosol: float  # the cytosol's share of ``level``
    membrane: float  # width of the membrane ring
    nucleoli: np.ndarray  # (m, 3): x and y offset in nucleus radii, dot radius
    speckles: tuple[int, float]  # mitochondria per cell, speckle length
    clumps: np.ndarray  # (m, 3): aggregates' corner x, y and side
    texture: np.ndarray  # (5, 5) protein multipliers, smoothly spread over the field


def _cell(rng: np.random.Generator) -> np.ndarray:
    return np.array([*rng.uniform(0.15, 0.85, 2), rng.uniform(0.12, 0.2), rng.uniform(0.4, 0.55)])


def sample_antibody(rng: np.random.Generator, antibody_id: str) -> Antibody:
    """An antibody with labels from hpa_labels() and its own look (every compartment's, labelled or not)."""
    labels = tuple(int(c) for c in hpa_labels(rng))
    dots, clumps = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    return Antibody(
        antibody_id,
        labels,
        cells=np.stack([_cell(rng) for _ in range(rng.integers(3, 6))]),
        level=float(rng.uniform(150, 240)),
        cytosol=float(rng.uniform(0.45, 0.75)),
        membrane=float(rng.uniform(1 / 96, 1 / 40)),
        nucleoli=np.column_stack([rng.uniform(-0.45, 0.45, (dots, 2)), rng.uniform(1 / 40, 1 / 24, dots)]),
        speckles=(int(rng.integers(12, 24)), float(rng.uniform(1 / 50, 1 / 30))),
        clumps=np.column_stack([rng.uniform(0.1, 0.8, (clumps, 2)), rng.uniform(0.08, 0.12, clumps)]),
        texture=rng.uniform(0.65, 1.35, (5, 5)).astype(np.float32),
    )


def _sample_cells(rng: np.random.Generator, antibody: Antibody) -> np.ndarray:
    """This sample's cells: the antibody's, moved and resized a little, some missing, maybe one added."""
    cells = antibody.cells.copy()
    cells[:, :2] += rng.uniform(-0.03, 0.03, (len(cells), 2))
    cells[:, 2] *= rng.uniform(0.92, 1.08, len(cells))
    keep = rng.random(len(cells)) >= CELL_DROP
    cells = cells[keep] if keep.sum() >= 2 else cells
    return np.vstack([cells, _cell(rng)]) if rng.random() < CELL_ADDED else cells


def draw_cells(rng: np.random.Generator, labels, size: int, antibody: Antibody) -> np.ndarray:
    """An HxWx4 uint8 field of cells stained by ``antibody``; the green (protein) channel shows ``labels``.

    The sample's own part: the field's shift, its cells (see _sample_cells), the other channels'
    levels, the speckles' places, the brightness and the noise.
    """
    red, green, blue, yellow = (np.zeros((size, size), np.float32) for _ in HPA_CHANNELS)
    shift = rng.uniform(-0.06, 0.06, 2)
    count, length = antibody.speckles
    speckle = (max(2, int(length * size)), max(1, int(length * size / 2)))
    for cx, cy, body, ratio in _sample_cells(rng, antibody):
        cx, cy = (np.array([cx, cy]) + shift) * size
        body *= size
        nucleus = body * ratio
        centre = (int(cx), int(cy))
        cv2.circle(red, centre, int(body), float(rng.uniform(60, 120)), -1)  # cell body
        cv2.circle(yellow, centre, int(body * 0.9), float(rng.uniform(50, 110)), -1)  # endoplasmic reticulum
        cv2.circle(blue, centre, int(nucleus), float(rng.uniform(150, 230)), -1)  # nucleus
        level = antibody.level * float(rng.uniform(0.9, 1.1))
        if 1 in labels:  # cytosol: diffuse in the cell body
            cv2.circle(green, centre, int(body), level * antibody.cytosol, -1)
        if 0 in labels:  # nucleoplasm: fills the nucleus
            cv2.circle(green, centre, int(nucleus), level, -1)
        if 3 in labels:  # plasma membrane: a ring at the cell edge
            cv2.circle(green, centre, int(body), level, max(1, round(antibody.membrane * size)))
        if 2 in labels:  # nucleoli: dots in the antibody's places inside the nucleus
            for dx, dy, radius in antibody.nucleoli:
                dot = (int(cx + dx * nucleus), int(cy + dy * nucleus))
                cv2.circle(green, dot, max(2, int(radius * size)), 255.0, -1)
        if 4 in labels:  # mitochondria: speckles between nucleus and edge
            for _ in range(count + int(rng.integers(-2, 3))):
                angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(nucleus * 1.2, body * 0.9)
                point = (int(cx + radius * np.cos(angle)), int(cy + radius * np.sin(angle)))
                cv2.ellipse(green, point, speckle, float(rng.uniform(0, 180)), 0, 360, level, -1)
    if 5 in labels:  # aggregates: bright square clumps in the antibody's places
        for x, y, side in antibody.clumps:
            x, y = (int(v) for v in (np.array([x, y]) + shift) * size)
            cv2.rectangle(green, (x, y), (x + int(side * size), y + int(side * size)), 255.0, -1)
    stain = cv2.resize(antibody.texture, (size, size), interpolation=cv2.INTER_CUBIC)
    moved = np.float32([[1, 0, shift[0] * size], [0, 1, shift[1] * size]])
    green *= cv2.warpAffine(stain, moved, (size, size), borderMode=cv2.BORDER_REFLECT)
    image = np.stack([red, green, blue, yellow], axis=2) * np.float32(rng.uniform(0.8, 1.2))
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(image, (3, 3), 0), 0, 255).astype(np.uint8)


def hpa_labels(rng: np.random.Generator) -> list[int]:
    labels = list(np.flatnonzero(rng.random(len(HPA_CLASSES)) < HPA_CLASS_RATES))
    return labels or [int(rng.choice(len(HPA_CLASSES), p=HPA_CLASS_RATES / HPA_CLASS_RATES.sum()))]


def _hpa_flip(rng: np.random.Generator, labels) -> tuple[int, ...]:
    """Label noise for multi-label rows: one class toggled, never leaving the row empty."""
    toggled = tuple(sorted(set(labels) ^ {int(rng.integers(len(HPA_CLASSES)))}))
    return toggled or tuple(labels)


@dataclass(frozen=True)
class Stained:
    """An HPA sample's label: its classes (its antibody's, or one class off) and its antibody."""

    labels: tuple[int, ...]
    antibody: Antibody


def antibody_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Samples per antibody summing to ``n``, drawn from ANTIBODY_SIZES (the last one cut to fit)."""
    sizes = rng.choice(np.arange(1, len(ANTIBODY_SIZES) + 1), size=n, p=ANTIBODY_SIZES)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    if len(sizes):
        sizes[-1] -= sizes.sum() - n
    return sizes


def _stained_samples(rng: np.random.Generator, spec: DemoSpec) -> tuple[list, Callable]:
    """The HPA samples: train then test labels, and the fresh external samples' in turn.

    Train antibodies also stain a ``spec.test_known_group_share`` of the test samples (never
    all of an antibody's samples: one stays in train); the other test samples and the fresh
    external ones have antibodies of their own. A sample's classes are its antibody's, one
    toggled with probability ``spec.antibody_label_drift``.
    """
    n_known = spec.test_size - int(round((1 - spec.test_known_group_share) * spec.test_size))
    splits = [spec.train_size + n_known, spec.test_size - n_known, spec.external_size - _planted_count(spec)]
    sizes = [antibody_sizes(rng, n) for n in splits]
    numbers = rng.permutation(sum(len(s) for s in sizes))  # ids that do not tell the split
    antibodies = [sample_antibody(rng, f"ab{k:04d}") for k in numbers]
    known, new, external = np.split(np.repeat(np.arange(len(antibodies)), np.concatenate(sizes)), np.cumsum(splits)[:2])
    # the known test samples: each antibody's second sample first, then third ones, ...; never its first
    rank = np.concatenate([np.arange(n) for n in sizes[0]]) if len(known) else np.zeros(0, int)
    candidates = np.flatnonzero(rank > 0)
    if len(candidates) < n_known:
        raise ValueError("too few train samples for the test samples of train antibodies; lower test_known_group_share")
    to_test = candidates[np.lexsort((rng.random(len(candidates)), rank[candidates]))[:n_known]]
    train = np.delete(known, to_test)
    test = np.concatenate([known[to_test], new])

    def stained(members: np.ndarray) -> list[Stained]:
        labels = []
        for k in rng.permutation(members):
            antibody = antibodies[k]
            drift = rng.random() < spec.antibody_label_drift
            labels.append(Stained(_hpa_flip(rng, antibody.labels) if drift else antibody.labels, antibody))
        return labels

    fresh = iter(stained(external))
    return stained(train) + stained(test), lambda rng: next(fresh)


def _hpa_table(ids: list[str], samples: list[Stained]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Id": ids,
            "Target": [" ".join(map(str, sorted(s.labels))) for s in samples],
            "antibody": [s.antibody.antibody_id for s in samples],
        }
    )


def _save_png_channels(images: Path, sample_id: str, pixels: np.ndarray, quality: int) -> None:
    for c, color in enumerate(HPA_CHANNELS):
        Image.fromarray(pixels[:, :, c]).save(images / f"{sample_id}_{color}.png")


def _leaf_labels(rng: np.random.Generator, spec: DemoSpec) -> tuple[list, Callable]:
    def draw(rng, n):
        return list(rng.choice(CLASSES, size=n, p=CLASS_WEIGHTS))

    return draw(rng, spec.train_size + spec.test_size), lambda rng: draw(rng, 1)[0]


@dataclass(frozen=True)
class Layout:
    """How one competition's data looks: labels, pixels, files and the labelled CSV."""

    id_column: str
    sample_labels: Callable  # (rng, spec) -> (train then test labels, fresh(rng) -> a fresh external label)
    draw: Callable  # (rng, label, spec) -> HxWxC uint8
    flip: Callable  # (rng, label) -> a wrong label
    table: Callable  # (ids, labels) -> the labelled CSV as a DataFrame
    save: Callable  # (images dir, id, pixels, JPEG quality) -> None
    truth: bool = False  # write test_truth.csv: the test samples' labelled CSV, for measuring only


LAYOUTS = {
    "plant_pathology": Layout(
        id_column=ID_COLUMN,
        sample_labels=_leaf_labels,
        draw=lambda rng, label, spec: draw_leaf(rng, label, _image_size(rng, spec.image_size)),
        flip=lambda rng, label: rng.choice([c for c in CLASSES if c != label]),
        table=lambda ids, labels: pd.concat([pd.DataFrame({ID_COLUMN: ids}), _one_hot(labels)], axis=1),
        save=lambda images, i, pixels, quality: (images / f"{i}.jpg").write_bytes(encode_jpeg(pixels, quality)),
    ),
    "hpa": Layout(
        id_column="Id",
        sample_labels=_stained_samples,
        draw=lambda rng, sample, spec: draw_cells(rng, sample.labels, spec.image_size[0], sample.antibody),
        flip=lambda rng, sample: replace(sample, labels=_hpa_flip(rng, sample.labels)),
        table=_hpa_table,
        save=_save_png_channels,
        truth=True,
    ),
}


def _one_hot(labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [int(label == c) for label in labels] for c in CLASSES})


# -- the Happywhale 2022 layout: individuals, a train gallery, new_individual ---------------

NEW_INDIVIDUAL = "new_individual"
SPECIES = {  # name: (silhouette, body colour)
    "bottlenose_dolphin": ("fin", (105, 110, 118)),
    "killer_whale": ("fin", (30, 30, 34)),
    "humpback_whale": ("fluke", (40, 40, 46)),
    "blue_whale": ("fluke", (85, 98, 112)),
}
MARK_COLOURS = ((240, 238, 230), (230, 130, 50), (170, 60, 60), (20, 20, 22))  # scars, diatoms, rakes
CANON = 160  # pixels of the animal's own frame, where its outline and marks are drawn
SINGLETON_SHARE = 0.4  # individuals seen once in train, as in Happywhale
MAX_SIGHTINGS = 8
BOX_MISSING = 0.1  # images the "detector" found nothing in: the whole-image path


@dataclass(frozen=True, eq=False)
class Individual:
    """One animal: its species, outline (with its own notches) and marks, in its own unit frame."""

    individual_id: str
    species: str
    outline: np.ndarray  # (k, 2) polygon, x right and y down in [0, 1]
    marks: tuple  # (x, y, rx, ry, angle, colour) ellipses in the same frame
    body: tuple  # RGB


def _bezier(p0, control, p1, n: int = 40) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * t * (1 - t) * np.asarray(control) + t**2 * np.asarray(p1)


def _notch(edge: np.ndarray, inside: np.ndarray, notches: np.ndarray) -> np.ndarray:
    """``edge`` with V-shaped notches cut towards ``inside``; notches: rows of (position, width, depth)."""
    t = np.linspace(0, 1, len(edge))
    tangent = np.gradient(edge, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    normal *= np.sign(((inside - edge) * normal).sum(axis=1, keepdims=True))
    cut = sum(depth * np.clip(1 - np.abs(t - at) / width, 0, None) for at, width, depth in notches)
    return edge + normal * np.asarray(cut)[:, None]


def _outline(rng: np.random.Generator, shape: str) -> np.ndarray:
    """A dorsal fin on a strip of back, or a raised fluke, with 1-3 notches in its trailing edge(s)."""

    def notches():
        k = int(rng.integers(1, 4))
        return np.stack([rng.uniform(0.15, 0.85, k), rng.uniform(0.04, 0.08, k), rng.uniform(0.04, 0.09, k)], 1)

    if shape == "fin":
        tip = (rng.uniform(0.55, 0.8), rng.uniform(0.05, 0.15))
        base_left, base_right = (0.05, 0.9), (rng.uniform(0.72, 0.85), 0.9)
        leading = _bezier(base_left, (rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.35)), tip)
        trailing = _notch(_bezier(tip, (rng.uniform(0.5, 0.6), 0.55), base_right), np.array([0.4, 0.7]), notches())
        back = np.array([(0.98, 0.86), (0.98, 1.0), (0.02, 1.0), (0.02, 0.94)])
        return np.concatenate([leading, trailing[1:], back])
    notch_centre = (rng.uniform(0.46, 0.54), rng.uniform(0.38, 0.46))
    left_tip, right_tip = (0.02, rng.uniform(0.15, 0.35)), (0.98, rng.uniform(0.15, 0.35))
    centre = np.array([0.5, 0.55])
    parts = [
        _bezier((0.44, 1.0), (rng.uniform(0.3, 0.4), 0.6), left_tip),  # left leading edge
        _notch(_bezier(left_tip, (0.25, rng.uniform(0.12, 0.25)), notch_centre), centre, notches()),
        _notch(_bezier(notch_centre, (0.75, rng.uniform(0.12, 0.25)), right_tip), centre, notches()),
        _bezier(right_tip, (rng.uniform(0.6, 0.7), 0.6), (0.56, 1.0)),  # right leading edge
    ]
    return np.concatenate([parts[0]] + [part[1:] for part in parts[1:]])


def sample_individual(rng: np.random.Generator, individual_id: str) -> Individual:
    species = str(rng.choice(list(SPECIES)))
    shape, body = SPECIES[species]
    outline = _outline(rng, shape)
    body = tuple(float(np.clip(c + rng.uniform(-8, 8), 0, 255)) for c in body)
    palette = [c for c in MARK_COLOURS if np.abs(np.subtract(c, body)).sum() > 150]
    polygon = (outline * CANON).astype(np.float32)
    marks = []
    while len(marks) < rng.integers(3, 6):
        x, y = rng.uniform(0.1, 0.9, 2)
        r = rng.uniform(0.05, 0.09)
        if cv2.pointPolygonTest(polygon, (float(x * CANON), float(y * CANON)), True) > 0.7 * r * CANON:
            colour = palette[int(rng.integers(len(palette)))]
            marks.append((x, y, r, r * rng.uniform(0.5, 1), rng.uniform(0, 180), colour))
    return Individual(individual_id, species, outline, tuple(marks), body)


def render_individual(individual: Individual) -> tuple[np.ndarray, np.ndarray]:
    """The animal in its own CANON x CANON frame: RGB float32 and alpha in [0, 1]."""
    alpha = np.zeros((CANON, CANON), np.uint8)
    cv2.fillPoly(alpha, [np.round(individual.outline * CANON * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    rgb = np.empty((CANON, CANON, 3), np.float32)
    rgb[:] = individual.body
    rgb *= np.linspace(1.15, 0.85, CANON, dtype=np.float32)[:, None, None]  # lit from above
    for x, y, rx, ry, angle, colour in individual.marks:
        centre, axes = (int(x * CANON), int(y * CANON)), (max(1, int(rx * CANON)), max(1, int(ry * CANON)))
        cv2.ellipse(rgb, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
    return rgb, alpha.astype(np.float32) / 255


def draw_sea(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """HxWx3 float32 water: a tinted gradient, waves at a random heading, glints, sometimes a sky."""
    x, y = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)[:, None]
    top, bottom = rng.uniform([20, 50, 70], [90, 140, 170], size=(2, 3)).astype(np.float32)
    t = (y / h)[..., None]
    img = top * (1 - t) + bottom * t + np.zeros((1, w, 1), np.float32)
    waves = np.zeros((h, w), np.float32)
    for _ in range(3):  # sin(a x + b y + c), as outer products: crests mostly horizontal
        heading = rng.uniform(-0.5, 0.5) + np.pi / 2
        a, b = np.array([np.cos(heading), np.sin(heading)], np.float32) * 2 * np.pi / (rng.uniform(0.03, 0.15) * h)
        ax, by = a * x, b * y + np.float32(rng.uniform(0, 2 * np.pi))
        waves += np.float32(rng.uniform(4, 14)) * (np.sin(ax) * np.cos(by) + np.cos(ax) * np.sin(by))
    img += waves[..., None]
    for _ in range(rng.integers(0, 12)):  # whitecaps and glints
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.01, 0.06) * w) + 1, int(rng.uniform(0.003, 0.015) * h) + 1)
        white = rng.uniform(180, 240) + rng.uniform(-10, 10, 3)
        cv2.ellipse(img, centre, axes, rng.uniform(-15, 15), 0, 360, white.tolist(), -1)
    if rng.random() < 0.3:  # a horizon with sky above
        horizon = int(rng.uniform(0.05, 0.25) * h)
        img[:horizon] = rng.uniform([150, 160, 170], [220, 230, 245])
    return img


def draw_sighting(
    rng: np.random.Generator, individual: Individual, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """One photo of ``individual`` on the sea: RGB uint8 and the animal's mask (bool).

    The pose (rotation up to 25 degrees, scale, position), the light on the animal and the
    water change per photo; outline and marks stay fixed in the animal's frame. No mirroring:
    a flipped fin is another fin.
    """
    h, w = size
    img = draw_sea(rng, h, w)
    rgb, alpha = render_individual(individual)
    angle = np.deg2rad(rng.uniform(-25, 25))
    aspect = rng.uniform(0.9, 1.1)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([aspect, 1])
    corners = (individual.outline * CANON) @ rotation.T  # the outline's extent once rotated
    extent = corners.max(0) - corners.min(0)
    scale = min(rng.uniform(0.45, 0.8) * min(h, w) / CANON, 0.95 * w / extent[0], 0.95 * h / extent[1])
    low = -corners.min(0) * scale
    high = np.array([w, h]) - corners.max(0) * scale
    matrix = np.hstack([rotation * scale, rng.uniform(low, high)[:, None]])
    rgb = cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    light = (rng.uniform(0.7, 1.3) * rng.uniform(0.92, 1.08, 3)).astype(np.float32)
    img += (rgb * light - img) * alpha
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(6)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return np.clip(img, 0, 255).astype(np.uint8), alpha[..., 0] > 0.5


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a mask, x1 and y1 exclusive."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def detector_box(rng: np.random.Generator, box, shape) -> tuple[int, int, int, int]:
    """A detector's box around ``box``: a few pixels off each side, mostly outwards, inside the image."""
    h, w = shape[:2]
    x0, y0, x1, y1 = np.asarray(box) + rng.integers(-2, 5, 4) * np.array([-1, -1, 1, 1])
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def _moved_box(box, before, after, kind: str) -> tuple[int, int, int, int]:
    """``box`` once near_duplicate() has turned an image of shape ``before`` into ``after``."""
    (h, w), (nh, nw) = before[:2], after[:2]
    x0, y0, x1, y1 = box
    if kind == "resize":
        sx, sy = nw / w, nh / h
        return int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy))
    if kind == "crop":  # the same margin off each side
        dx, dy = (w - nw) // 2, (h - nh) // 2
        return max(0, x0 - dx), max(0, y0 - dy), min(nw, x1 - dx), min(nh, y1 - dy)
    return box


def hex_id(seed: int, kind: str, i: int, nbytes: int) -> str:
    """Happywhale-like ids ("00021adfb725ed"), fixed by the seed, drawing nothing from the generator."""
    return hashlib.blake2b(f"{seed}/{kind}/{i}".encode(), digest_size=nbytes).hexdigest()


def sighting_counts(rng: np.random.Generator, individuals: int, images: int) -> np.ndarray:
    """Photos per individual summing to ``images``: a SINGLETON_SHARE seen once, the rest 2 to ~8 times."""
    individuals = max(1, min(individuals, images))
    counts = np.ones(individuals, int)
    extra = images - individuals
    repeat = rng.permutation(individuals)[int(round(SINGLETON_SHARE * individuals)) :][:extra]
    counts[repeat] += 1
    extra -= len(repeat)
    cap = max(MAX_SIGHTINGS, -(-images // max(1, len(repeat))))  # raised only when 8 cannot hold them
    popularity = rng.pareto(1.5, len(repeat)) + 1
    for _ in range(extra):
        open_ = counts[repeat] < cap
        p = popularity * open_
        counts[repeat[rng.choice(len(repeat), p=p / p.sum())]] += 1
    return counts


def _classification_tables(rng: np.random.Generator, spec: DemoSpec, images: Path) -> dict[str, pd.DataFrame]:
    layout = LAYOUTS[spec.layout]
    labels, fresh_label = layout.sample_labels(rng, spec)
    ids = [f"Train_{i}" for i in range(spec.train_size)] + [f"Test_{i}" for i in range(spec.test_size)]
    pixels = {}
    for sample_id, label in zip(ids, labels):
        pixels[sample_id] = layout.draw(rng, label, spec)
        layout.save(images, sample_id, pixels[sample_id], 92)

    train_labels = labels[: spec.train_size]
    for i in np.flatnonzero(rng.random(spec.train_size) < spec.label_noise):
        train_labels[i] = layout.flip(rng, train_labels[i])

    def fresh(rng, ext_id):
        label = fresh_label(rng)
        return label, layout.draw(rng, label, spec)

    ext_ids = [f"Ext_{j}" for j in range(spec.external_size)]
    ext_labels, _, planted = _external(rng, spec, ids, labels, pixels, ext_ids, fresh, partial(layout.save, images))
    tables = {
        "train.csv": layout.table(ids[: spec.train_size], train_labels),
        "test.csv": pd.DataFrame({layout.id_column: ids[spec.train_size :]}),
        "external.csv": layout.table(ext_ids, ext_labels),
        "external_duplicates.csv": planted,
    }
    if layout.truth:
        tables["test_truth.csv"] = layout.table(ids[spec.train_size :], labels[spec.train_size :])
    return tables


def _identity_tables(rng: np.random.Generator, spec: DemoSpec, images: Path) -> dict[str, pd.DataFrame]:
    """Happywhale 2022: train.csv (image,species,individual_id), the sample submission
    (image,predictions), test_truth.csv (new_individual for animals absent from train), boxes.csv."""
    n_train_individuals = spec.individuals or max(1, round(spec.train_size / 3))
    n_new_images = int(round(spec.test_new_share * spec.test_size))
    train_counts = sighting_counts(rng, n_train_individuals, spec.train_size)
    new_counts = sighting_counts(rng, max(1, round(n_new_images / 1.5)), n_new_images) if n_new_images else []
    animals = [
        sample_individual(rng, hex_id(spec.seed, "individual", i, 6))
        for i in range(len(train_counts) + len(new_counts))
    ]
    known, new = animals[: len(train_counts)], animals[len(train_counts) :]

    def seen_again(k: int) -> list[Individual]:  # more photos of train animals, the often seen more often
        p = np.sqrt(train_counts) / np.sqrt(train_counts).sum()
        return [known[i] for i in rng.choice(len(known), size=k, p=p)]

    train_animals = [a for a, c in zip(known, train_counts) for _ in range(c)]
    test_animals = seen_again(spec.test_size - n_new_images) + [a for a, c in zip(new, new_counts) for _ in range(c)]
    ids = [
        hex_id(spec.seed, "image", i, 7) + ".jpg" for i in range(spec.train_size + spec.test_size + spec.external_size)
    ]
    if len(set(ids)) < len(ids):  # pragma: no cover - 56-bit ids
        raise ValueError("demo image ids collide; change the seed")
    ext_ids = ids[len(train_animals) + len(test_animals) :]
    labels = train_animals + test_animals
    ids = ids[: len(labels)]

    pixels, boxes = {}, {}
    save = partial(_save_jpeg, images)
    for image, animal in zip(ids, labels):
        pixels[image], mask = draw_sighting(rng, animal, _image_size(rng, spec.image_size))
        boxes[image] = tight_box(mask)
        save(image, pixels[image], 92)

    def fresh(rng, ext_id):
        animal = seen_again(1)[0]
        image, mask = draw_sighting(rng, animal, _image_size(rng, spec.image_size))
        boxes[ext_id] = tight_box(mask)
        return animal, image

    ext_labels, ext_pixels, planted = _external(rng, spec, ids, labels, pixels, ext_ids, fresh, save)
    for row in planted.itertuples():
        boxes[row.external_id] = _moved_box(
            boxes[row.source_id], pixels[row.source_id].shape, ext_pixels[row.external_id].shape, row.transform
        )
    shapes = {**{i: p.shape for i, p in pixels.items()}, **{i: p.shape for i, p in ext_pixels.items()}}
    found = [i for i in ids + ext_ids if rng.random() >= BOX_MISSING]
    detected = [detector_box(rng, boxes[i], shapes[i]) for i in found]

    def table(ids, animals):
        return pd.DataFrame(
            {"image": ids, "species": [a.species for a in animals], "individual_id": [a.individual_id for a in animals]}
        )

    train = table(ids[: spec.train_size], train_animals)
    often = train["individual_id"].value_counts().index[:4].tolist()  # Kaggle's sample: 4 ids + new_individual
    test_ids = ids[spec.train_size :]
    truth = [NEW_INDIVIDUAL if any(a is b for b in new) else a.individual_id for a in test_animals]
    return {
        "train.csv": train.sort_values("image", ignore_index=True),
        "test.csv": pd.DataFrame({"image": test_ids, "predictions": " ".join(often + [NEW_INDIVIDUAL])}).sort_values(
            "image", ignore_index=True
        ),
        "test_truth.csv": pd.DataFrame({"image": test_ids, "individual_id": truth}).sort_values(
            "image", ignore_index=True
        ),
        "boxes.csv": pd.DataFrame(
            [(i, *box, round(float(c), 3)) for i, box, c in zip(found, detected, rng.uniform(0.5, 0.99, len(found)))],
            columns=["image", "x0", "y0", "x1", "y1", "confidence"],
        ).sort_values("image", ignore_index=True),
        "external.csv": table(ext_ids, ext_labels),
        "external_duplicates.csv": planted,
    }


def _external(rng, spec, ids, labels, pixels, ext_ids, fresh, save):
    """The external set: near-duplicates of train/test images first, then ``fresh(rng, id)`` draws.

    Returns (labels, pixels by id, the planted pairs as external_duplicates.csv holds them).
    """
    n_dup = _planted_count(spec)
    sources = rng.choice(len(ids), size=n_dup, replace=False)
    ext_labels, ext_pixels, planted = [], {}, []
    for j, ext_id in enumerate(ext_ids):
        if j < n_dup:
            source = ids[sources[j]]
            image, quality, kind = near_duplicate(rng, pixels[source])
            label = labels[sources[j]]
            planted.append({"external_id": ext_id, "source_id": source, "transform": kind})
        else:
            label, image = fresh(rng, ext_id)
            quality = 92
        save(ext_id, image, quality)
        ext_labels.append(label)
        ext_pixels[ext_id] = image
    return ext_labels, ext_pixels, pd.DataFrame(planted)


def _planted_count(spec: DemoSpec) -> int:
    """How many external samples are near-duplicates of train/test ones."""
    return int(round(spec.external_size * spec.external_duplicates))


def _save_jpeg(images: Path, name: str, pixels: np.ndarray, quality: int) -> None:
    (images / name).write_bytes(encode_jpeg(pixels, quality))


def generate(out_dir: str | Path, spec: DemoSpec) -> None:
    """Write the demo's CSVs and images/ under ``out_dir``.

    Every layout writes train.csv, test.csv, external.csv and external_duplicates.csv;
    "hpa" adds test_truth.csv, "identity" test_truth.csv and boxes.csv.
    """
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    tables = (_identity_tables if spec.layout == "identity" else _classification_tables)(rng, spec, images)
    for name, table in tables.items():
        artifacts.write_csv(table, out_dir / name)
