"""Datasets as competitions ship them, through the workflow from only a ``dataset:`` block: an
ImageFolder tree with a test folder, read as the manifest and cached."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_workflow import override, snakemake

pytestmark = pytest.mark.workflow


def test_an_image_folder_and_a_test_folder_need_only_their_paths(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train/cat", 6), ("train/dog", 6), ("test", 4), ("test/late", 2)):
        (tmp_path / "data" / split).mkdir(parents=True)
        for i in range(count):
            colour = (200, 40, 40) if "cat" in split else (40, 40, 200)
            pixels = np.clip(rng.normal(colour, 10, (24, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / split / f"{i}.jpg")
    (tmp_path / "data/train/.hidden.jpg").write_bytes(b"\0")
    dataset = {"dataset": {"train": str(tmp_path / "data/train"), "test": str(tmp_path / "data/test")}}
    workdir = tmp_path / "run"
    targets = ("results/data/manifest/train.parquet", "results/data/manifest/test.parquet")
    snakemake(workdir, configs=[override(tmp_path, "folders", dataset)], targets=targets)
    train = pd.read_parquet(workdir / targets[0])
    assert train.id.tolist() == [f"{c}/{i}.jpg" for c in ("cat", "dog") for i in range(6)]
    assert [c.removeprefix("label:") for c in train.columns if c.startswith("label:")] == ["cat", "dog"]
    test = pd.read_parquet(workdir / targets[1])
    assert sorted(test.id) == sorted([f"{i}.jpg" for i in range(4)] + ["late/0.jpg", "late/1.jpg"])
    assert test["path:image"].str.startswith(str(tmp_path / "data/test/")).all()
    assert "skipped 1 hidden" in (workdir / "results/logs/build_manifest/train.log").read_text()


def test_cassava_integer_labels_in_two_folders_submit_in_the_samples_form(tmp_path):
    """Cassava Leaf Disease: ``image_id,label`` (an integer class), train_images/ and test_images/,
    and a sample submission ``image_id,label``: the submission is the predicted class, not probabilities."""
    rng = np.random.default_rng(1)
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    rows = {"train": [], "test": []}
    for split, count in (("train", 36), ("test", 9)):
        (tmp_path / f"{split}_images").mkdir()
        for i in range(count):
            label = i % 3
            pixels = np.clip(rng.normal(colours[label], 12, (24, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / f"{split}_images" / f"{split}{i}.jpg")
            rows[split].append({"image_id": f"{split}{i}.jpg", "label": label})
    pd.DataFrame(rows["train"]).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(rows["test"]).assign(label=4).to_csv(tmp_path / "sample_submission.csv", index=False)
    dataset = {
        "train": str(tmp_path / "train.csv"),
        "test": str(tmp_path / "sample_submission.csv"),
        "images": str(tmp_path / "train_images/{id}"),
        "test_images": str(tmp_path / "test_images/{id}"),
        "label_column": "label",
    }
    workdir = tmp_path / "run"
    snakemake(workdir, configs=[override(tmp_path, "cassava", {"dataset": dataset})], targets=("all",))
    submitted = pd.read_csv(workdir / "results/submission_mix.csv")
    assert submitted.columns.tolist() == ["image_id", "label"]  # the sample's own header
    assert submitted.image_id.tolist() == [row["image_id"] for row in rows["test"]]
    assert submitted.label.isin([0, 1, 2]).all()
    probabilities = pd.read_csv(workdir / "results/probabilities/submission_mix.csv")
    assert probabilities.columns.tolist() == ["image_id", "0", "1", "2"]
    assert (probabilities[["0", "1", "2"]].to_numpy().argmax(1) == submitted.label).all()
    assert pd.read_csv(workdir / "results/submission.csv").columns.tolist() == ["image_id", "label"]  # every stage
