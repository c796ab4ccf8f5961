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
