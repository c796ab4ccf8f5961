"""The recipe presets validate and run their whole DAG on small stand-in data (HPA 2018 in
test_preset_hpa.py), overriding only the model, image/crop sizes, epochs and the demo's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.workflow

# compile off: on a CPU torch.compile alone would take longer than the whole run
SMALL = {
    "train": {"model": "test_resnet", "epochs": 1, "threads": 1, "num_workers": 0, "batch_size": 16, "compile": False},
    "threads": 1,
}


def preset_augment(preset: str, crop: int) -> list[dict]:
    """The preset's own augmentation list, its random crop scaled down to ``crop`` pixels."""
    entries = yaml.safe_load((ROOT / "config/presets" / preset).read_text())["train"]["augment"]
    return [{**e, "height": crop, "width": crop} if e["name"] == "RandomCrop" else e for e in entries]


def run(tmp_path: Path, preset: str, overrides: dict, *args: str, name: str = "small") -> Path:
    workdir = tmp_path / "run"
    small = tmp_path / f"{name}.yaml"
    small.write_text(yaml.safe_dump(overrides))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--resources",
        "gpu=2",
        "--configfile",
        str(ROOT / "config/presets" / preset),
        str(small),
        *args,
    ]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=540)
    assert result.returncode == 0, result.stdout[-5000:]
    run.output = result.stdout
    return workdir / "results"


def test_plant_pathology_2020_preset(tmp_path):
    overrides = {
        **SMALL,
        "demo": {"train_size": 200, "test_size": 20, "external_size": 10, "image_size": [64, 96]},
        "cache": {"size": [32, 48]},
        "predict": {"batch_size": 64},
    }
    results = run(tmp_path, "plant_pathology_2020.yaml", overrides)
    assert pd.read_csv(results / "submission_mix.csv").columns.tolist() == [
        "image_id",
        "healthy",
        "multiple_diseases",
        "rust",
        "scab",
    ]
    assert len(json.loads((results / "scores/distill.json").read_text())["folds"]) == 5
    history = pd.read_csv(results / "models/base/fold0/history.csv")
    assert history.lr.iloc[0] > 0
