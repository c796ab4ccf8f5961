"""The identity demo (Happywhale 2022 layout): files, sightings, new individuals, boxes, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from foldwise import demo

SPEC = demo.DemoSpec(train_size=60, test_size=20, external_size=20, image_size=(96, 128), seed=5, layout="identity")


@pytest.fixture(scope="module")
def ident(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    demo.generate(out, SPEC)
    return out


def read(out, name):
    return pd.read_csv(out / name, dtype=str)


def test_files_and_columns(ident):
    columns = {
        "train.csv": ["image", "species", "individual_id"],
        "test.csv": ["image", "predictions"],
        "test_truth.csv": ["image", "individual_id"],
        "boxes.csv": ["image", "x0", "y0", "x1", "y1", "confidence"],
        "external.csv": ["image", "species", "individual_id"],
        "external_duplicates.csv": ["external_id", "source_id", "transform"],
    }
    for name, expected in columns.items():
        assert list(read(ident, name).columns) == expected, name
    train, test = read(ident, "train.csv"), read(ident, "test.csv")
    assert (len(train), len(test), len(read(ident, "external.csv"))) == (60, 20, 20)
    assert set(train.species) <= set(demo.SPECIES)
    for predictions in test.predictions:  # the sample submission's form: 5 ids, new_individual among them
        ids = predictions.split()
        assert len(ids) == 5 and demo.NEW_INDIVIDUAL in ids
    assert set(read(ident, "test_truth.csv").image) == set(test.image)


def test_ids_are_jpeg_file_names(ident):
    splits = [read(ident, name).image for name in ("train.csv", "test.csv", "external.csv")]
    names = pd.concat(splits)
    assert names.str.fullmatch(r"[0-9a-f]{14}\.jpg").all()
    assert names.is_unique
    assert sorted(p.name for p in (ident / "images").iterdir()) == sorted(names)
    for name in names.iloc[::10]:
        with Image.open(ident / "images" / name) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
    assert read(ident, "train.csv").individual_id.str.fullmatch(r"[0-9a-f]{12}").all()


@pytest.mark.parametrize("share", [0.2, 0.5])
def test_truth_holds_the_share_of_new_individuals(tmp_path, share):
    spec = demo.DemoSpec(
        train_size=30,
        test_size=20,
        external_size=0,
        image_size=(64, 80),
        seed=1,
        layout="identity",
        test_new_share=share,
    )
    demo.generate(tmp_path, spec)
    train, truth = read(tmp_path, "train.csv"), read(tmp_path, "test_truth.csv")
    new = truth.individual_id == demo.NEW_INDIVIDUAL
    assert new.sum() == round(share * 20)
    assert truth.individual_id[~new].isin(train.individual_id).all()  # the rest were seen in train


def test_sightings_include_singletons_and_repeats(ident, tmp_path):
    counts = read(ident, "train.csv").individual_id.value_counts()
    assert len(counts) == 20  # a third of train_size by default
    assert (counts == 1).sum() >= 5
    assert (counts >= 2).sum() >= 5 and counts.max() <= demo.MAX_SIGHTINGS
    rng = np.random.default_rng(0)
    drawn = demo.sighting_counts(rng, 160, 480)
    assert drawn.sum() == 480 and drawn.min() == 1 and drawn.max() <= demo.MAX_SIGHTINGS
    assert 0.3 < (drawn == 1).mean() < 0.5 and len(set(drawn)) >= 5
    demo.generate(tmp_path, demo.DemoSpec(**{**SPEC.__dict__, "individuals": 40, "external_size": 0}))
    assert read(tmp_path, "train.csv").individual_id.nunique() == 40


def test_external_rows_are_known_or_planted(ident):
    train, truth = read(ident, "train.csv"), read(ident, "test_truth.csv")
    external, planted = read(ident, "external.csv"), read(ident, "external_duplicates.csv")
    assert len(planted) == round(20 * SPEC.external_duplicates)
    assert planted.source_id.isin(pd.concat([train.image, truth.image])).all()
    fresh = external[~external.image.isin(planted.external_id)]
    assert fresh.individual_id.isin(train.individual_id).all()  # more sightings of train animals
    train_labels = train.set_index("image").individual_id
    for row in planted.merge(external, left_on="external_id", right_on="image").itertuples():
        if row.source_id in train_labels.index:  # a duplicate of a train photo keeps its animal
            assert row.individual_id == train_labels[row.source_id]


def _far_from_sea_inside(image: np.ndarray, box) -> float:
    """Share of the pixels far from the sea (estimated per row outside ``box``) that lie inside ``box``."""
    x0, y0, x1, y1 = box
    image = image.astype(np.float32)
    inside = np.zeros(image.shape[:2], bool)
    inside[y0:y1, x0:x1] = True
    fallback = np.median(image[~inside], axis=0) if (~inside).any() else image.reshape(-1, 3).mean(0)
    sea = np.stack([np.median(row[~m], axis=0) if (~m).sum() > 4 else fallback for row, m in zip(image, inside)])
    far = np.abs(image - sea[:, None]).sum(-1) > 90
    return far[inside].sum() / max(1, far.sum())


def test_boxes_lie_inside_their_images_and_hold_the_animal(ident):
    boxes = read(ident, "boxes.csv")
    names = pd.concat([read(ident, name).image for name in ("train.csv", "test.csv", "external.csv")])
    assert boxes.image.is_unique and boxes.image.isin(names).all()
    assert 0.8 <= len(boxes) / len(names) < 1  # a few photos without a box: the whole-image path
    coords = boxes[["x0", "y0", "x1", "y1"]].astype(int).to_numpy()
    confidence = boxes.confidence.astype(float)
    assert ((confidence > 0) & (confidence <= 1)).all()
    images = [np.asarray(Image.open(ident / "images" / name).convert("RGB")) for name in boxes.image]
    for (x0, y0, x1, y1), image in zip(coords, images):
        h, w = image.shape[:2]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert (x1 - x0) * (y1 - y0) < 0.9 * h * w  # a box, not the whole photo
    right = [_far_from_sea_inside(im, box) for im, box in zip(images, coords)]
    other = []  # each photo with the next photo's box, fitted inside it
    for image, (x0, y0, x1, y1) in zip(images, np.roll(coords, 1, axis=0)):
        h, w = image.shape[:2]
        other.append(_far_from_sea_inside(image, (min(x0, w - 1), min(y0, h - 1), min(x1, w), min(y1, h))))
    assert np.median(right) > 0.75
    assert np.median(right) > np.median(other) + 0.2


def test_detector_box_holds_the_drawn_mask():
    rng = np.random.default_rng(7)
    for i in range(20):
        animal = demo.sample_individual(rng, f"a{i}")
        pixels, mask = demo.draw_sighting(rng, animal, (96, 128))
        assert pixels.shape == (96, 128, 3) and pixels.dtype == np.uint8
        assert 0.03 < mask.mean() < 0.7
        x0, y0, x1, y1 = demo.detector_box(rng, demo.tight_box(mask), mask.shape)
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 96
        assert mask[y0:y1, x0:x1].sum() >= 0.97 * mask.sum()
        assert (x1 - x0) * (y1 - y0) <= 1.3 * np.ptp(np.nonzero(mask)[0]) * np.ptp(np.nonzero(mask)[1]) + 200


def test_near_duplicate_boxes_follow_the_transform():
    rng = np.random.default_rng(2)
    animal = demo.sample_individual(rng, "a")
    pixels, mask = demo.draw_sighting(rng, animal, (96, 128))
    box = demo.tight_box(mask)
    for _ in range(12):
        image, _, kind = demo.near_duplicate(rng, pixels)
        if kind == "crop":
            dy, dx = (96 - image.shape[0]) // 2, (128 - image.shape[1]) // 2
            moved_mask = mask[dy : 96 - dy, dx : 128 - dx]
        else:
            moved_mask = np.asarray(Image.fromarray(mask).resize(image.shape[1::-1]))
        expected = np.array(demo.tight_box(moved_mask))
        assert np.abs(np.array(demo._moved_box(box, pixels.shape, image.shape, kind)) - expected).max() <= 2, kind


def test_same_seed_same_files(ident, tmp_path):
    demo.generate(tmp_path / "again", SPEC)
    demo.generate(tmp_path / "other", demo.DemoSpec(**{**SPEC.__dict__, "seed": 6}))
    files = sorted(p.relative_to(ident) for p in ident.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((ident / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    assert (ident / "train.csv").read_bytes() != (tmp_path / "other" / "train.csv").read_bytes()


def test_two_sightings_of_one_animal_differ_in_pose_and_sea():
    rng = np.random.default_rng(3)
    for i in range(10):
        animal = demo.sample_individual(rng, f"a{i}")
        (a, mask_a), (b, mask_b) = (demo.draw_sighting(rng, animal, (96, 128)) for _ in range(2))
        overlap = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
        assert overlap < 0.9  # moved, turned or scaled
        sea = ~(mask_a | mask_b)
        assert np.abs(a.astype(int) - b.astype(int))[sea].mean() > 10  # another sea


def test_sightings_in_the_files_are_not_copies(ident):
    train = read(ident, "train.csv")
    pairs = [g.image.tolist()[:2] for _, g in train.groupby("individual_id") if len(g) >= 2]
    assert len(pairs) >= 5
    for first, second in pairs:
        a, b = (
            np.asarray(Image.open(ident / "images" / n).convert("RGB").resize((64, 48)), np.float32)
            for n in (first, second)
        )
        assert np.abs(a - b).mean() > 8


def test_the_marks_are_the_animal_s_own():
    """The same animal renders the same in its own frame; two animals do not."""
    rng = np.random.default_rng(4)
    one, two = demo.sample_individual(rng, "a"), demo.sample_individual(rng, "b")
    rgb, alpha = demo.render_individual(one)
    again, alpha_again = demo.render_individual(one)
    assert np.array_equal(rgb, again) and np.array_equal(alpha, alpha_again)
    other, other_alpha = demo.render_individual(two)
    assert np.abs(rgb * alpha[..., None] - other * other_alpha[..., None]).mean() > 5
    assert 3 <= len(one.marks) <= 5
