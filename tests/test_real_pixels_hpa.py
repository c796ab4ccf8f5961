"""benchmarks/real_pixels_hpa.py's datasets (easy unchanged, hard's signal in green alone, antibody groups)
and benchmarks/plain_loop.py learning a toy; no workflow run."""

import hashlib
import itertools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import BENCHMARKS, load_benchmark

real_pixels_hpa = load_benchmark("real_pixels_hpa")
plain_loop = load_benchmark("plain_loop")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def channel(out: Path, sample_id: str, color: str) -> np.ndarray:
    return cv2.imread(str(out / "images" / f"{sample_id}_{color}.png"), cv2.IMREAD_GRAYSCALE)


def constant_photos():
    """Class c a flat 20 * (c + 1), the textures flat 50, 60 and 70: where each pixel came from shows."""
    classes = {f"class{c}": np.full((90, 120), 20 * (c + 1), np.uint8) for c in range(10)}
    return classes, [np.full((80, 80), value, np.uint8) for value in (50, 60, 70)]


def test_easy_variant_is_the_dataset_of_earlier_results(tmp_path):
    # computed from the benchmark before --variant and --groups existed: old results stay comparable
    real_pixels_hpa.build(tmp_path, 3, 30, 10, 32)
    assert sha256((tmp_path / "train.csv").read_bytes()) == (
        "7a6e5ca7cd0859bacaf3a2c0f411992dc81d9e23acb11a6a4b659db094ea6378"
    )
    assert sha256((tmp_path / "test_truth.csv").read_bytes()) == (
        "821406b7554b78eed8f2f1f9a49c6de5205824c1599d8d823a8ff601d46ef35f"
    )
    pixels = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((tmp_path / "images").glob("*.png"))])
    assert sha256(pixels.tobytes()) == "f18f9cb47a3ce973b9b3836ae962063debdefca8ab286e687df40833186c969f"
    dataset = yaml.safe_load((tmp_path / "dataset.yaml").read_text())["dataset"]
    assert "group_column" not in dataset and list(pd.read_csv(tmp_path / "train.csv").columns) == ["Id", "Target"]


def test_hard_variant_puts_every_class_in_green_alone_on_a_dark_background(tmp_path, monkeypatch):
    monkeypatch.setattr(real_pixels_hpa, "photos", constant_photos)
    real_pixels_hpa.build(tmp_path, 0, 40, 10, 32, variant="hard")
    table = pd.concat([pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test_truth.csv")])
    for sample_id, target in zip(table.Id, table.Target.astype(str)):
        labels = [int(c) for c in target.split()]
        # the reference stains are their textures whatever the labels
        for color, value in zip(("red", "blue", "yellow"), (50, 60, 70)):
            assert (channel(tmp_path, sample_id, color) == value).all()
        green = channel(tmp_path, sample_id, "green")
        # overlaps keep the brighter patch, so the brightest class always shows; background stays dark
        assert green.max() == 20 * (max(labels) + 1) and green.min() == 0
        assert set(np.unique(green)) <= {0} | {20 * (c + 1) for c in labels}
        # one patch is 40-60% of the side: 12 to 19 pixels at 32
        assert 12**2 <= (green > 0).sum() <= len(labels) * 19**2


def test_hard_variant_on_photos_carries_the_labels_in_green_only(tmp_path):
    real_pixels_hpa.build(tmp_path, 1, 60, 0, 32, variant="hard")
    table = pd.read_csv(tmp_path / "train.csv")
    count = table.Target.str.split().str.len().to_numpy()
    lit = np.array([(channel(tmp_path, i, "green") > 0).mean() for i in table.Id])
    red = np.array([channel(tmp_path, i, "red").mean() for i in table.Id])
    # more classes light more of green (about 0.25 of it for one, 0.5 for three); red's mean, a texture crop's
    # (sd about 1.7 over samples), stays put
    assert lit[count == 3].mean() > 1.5 * lit[count == 1].mean()
    assert abs(red[count == 3].mean() - red[count == 1].mean()) < 3


def test_group_members_on_photos_look_alike_but_differ(tmp_path):
    real_pixels_hpa.build(tmp_path, 0, 40, 20, 32, variant="hard", groups=15)
    both = pd.concat([pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test_truth.csv")])
    greens = {i: channel(tmp_path, i, "green") for i in both.Id}
    within, across = [], []
    for a, b in itertools.combinations(both.itertuples(), 2):
        # sorted pixel values: blind to the flips and shifts, so what is left is the crop and the brightness
        distance = np.abs(np.sort(greens[a.Id].ravel()).astype(float) - np.sort(greens[b.Id].ravel())).mean()
        (within if a.antibody == b.antibody else across).append(distance)
        assert a.antibody != b.antibody or (greens[a.Id] != greens[b.Id]).any()
    assert np.mean(within) < 0.5 * np.mean(across)  # measured about 5 against 16


@pytest.mark.parametrize("variant", ["easy", "hard"])
def test_groups_share_labels_and_looks_and_the_test_holds_seen_and_unseen_groups(tmp_path, monkeypatch, variant):
    monkeypatch.setattr(real_pixels_hpa, "photos", constant_photos)
    real_pixels_hpa.build(tmp_path, 2, 40, 20, 32, variant=variant, groups=15)
    train, truth = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test_truth.csv")
    assert (len(train), len(truth)) == (40, 20)
    assert list(pd.read_csv(tmp_path / "test.csv").columns) == ["Id", "Predicted"]  # HPA's: no antibody in it
    assert yaml.safe_load((tmp_path / "dataset.yaml").read_text())["dataset"]["group_column"] == "antibody"
    both = pd.concat([train, truth])
    assert both.antibody.nunique() == 15 and both.antibody.value_counts().between(2, 6).all()
    assert (both.groupby("antibody").Target.nunique() == 1).all()
    unseen = ~truth.antibody.isin(train.antibody)
    assert 5 <= unseen.sum() <= 10 and (~unseen).sum() >= 10  # about half of the test each
    if variant == "hard":  # one paste position per group: with flat photos, the same pixels lit
        for _, members in both.groupby("antibody"):
            greens = [channel(tmp_path, i, "green") for i in members.Id]
            assert all(((g > 0) == (greens[0] > 0)).all() for g in greens)


def test_groups_that_cannot_hold_the_samples_are_refused(tmp_path):
    with pytest.raises(ValueError, match="groups of 2 to 6"):
        real_pixels_hpa.build(tmp_path, 0, 30, 10, 32, groups=50)


def test_plain_loop_learns_bright_from_dark_images():
    rng = np.random.default_rng(0)
    labels = np.arange(32) % 2
    images = np.where(labels[:, None, None, None] == 1, 170, 60) + rng.integers(-40, 40, (32, 3, 24, 24))
    predict = plain_loop.train(images.astype(np.uint8), labels, crop=(20, 20), epochs=3, batch_size=8)
    for tta in (False, True):
        probabilities = predict(images.astype(np.uint8), tta=tta)
        assert probabilities.shape == (32, 2) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
        assert (probabilities.argmax(1) == labels).mean() > 0.9


def test_plain_scores_read_the_workflow_config_and_score_the_test(tmp_path):
    real_pixels_hpa.build(tmp_path, 0, 30, 10, 32, groups=12)
    override = tmp_path / "small.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "cache": {"size": [32, 32]},
                "train": {
                    "model": "test_resnet",
                    "epochs": 1,
                    "augment": [{"name": "RandomCrop", "height": 24, "width": 24}],
                },
            }
        )
    )
    config = real_pixels_hpa.merged_config([str(override), str(tmp_path / "dataset.yaml")])
    assert config["train"]["batch_size"] == 32 and real_pixels_hpa.replaces_labels(config) is False
    hpa = real_pixels_hpa.merged_config([str(BENCHMARKS.parent / "config/presets/hpa_2018.yaml"), str(override)])
    assert real_pixels_hpa.replaces_labels(hpa | {"dataset": config["dataset"]}) is True
    report = real_pixels_hpa.plain_scores(tmp_path, config, 10, seed=0, threads=1)
    assert (report["model"], report["crop"], report["epochs"], report["size"]) == ("test_resnet", (24, 24), 1, [32, 32])
    assert report["fit_rows"] + report["tune_rows"] == 30
    assert 0 <= report["test_macro_f1"] <= 1 and 0 <= report["test_macro_roc_auc"] <= 1
