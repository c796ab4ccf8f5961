"""Both recipe presets validate and run their whole DAG on small stand-in data, overriding only
the model, image/crop sizes, epochs and the demo's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from test_workflow import job_counts

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


def test_hpa_2018_preset(tmp_path):
    overrides = {
        **SMALL,
        "demo": {"layout": "hpa", "train_size": 150, "test_size": 20, "external_size": 10, "image_size": [48, 48]},
        "cache": {"size": [48, 48]},
        "train": {**SMALL["train"], "augment": preset_augment("hpa_2018.yaml", crop=40)},
        "predict": {"crop": {"size": [40, 40], "count": 2}, "batch_size": 64},
        # the demo names an antibody group_column: the preset's label replacement is on
        "label_replacement": {
            "train": {"model": "test_resnet", "epochs": 1, "augment": preset_augment("hpa_2018.yaml", crop=40)}
        },
    }
    results = run(tmp_path, "hpa_2018.yaml", overrides)
    replaced = pd.read_csv(results / "submission_labels_nn.csv", dtype=str)
    assert replaced.columns.tolist() == ["Id", "Predicted"] and len(replaced) == 20
    nn = json.loads((results / "scores/nn.json").read_text())
    assert nn["metric"] == "macro_f1" and 0 <= nn["replaced_share"] <= 1 and 0 <= nn["top1"] <= 1
    assert {"cv", "cv_without", "threshold", "curve"} <= set(nn)
    neighbours = pd.read_parquet(results / "neighbours.parquet")
    assert len(neighbours) == 20 and neighbours.similarity.between(-1.001, 1.001).all()
    embedding = __import__("torch").load(results / "models/groups/fold0/model.pt", weights_only=True)
    assert embedding["meta"]["head"] == "embedding" and embedding["meta"]["task"] == "identity"
    run(tmp_path, "hpa_2018.yaml", overrides, "-n", "--", "plots")  # the report plans every submission's table
    assert "wildcards: submission=submission_labels_nn" in run.output and "rule plot_label_replacement:" in run.output
    plots = ["results/plots/nn/f1_thresholds.png", "results/plots/nn/replaced_samples.png"]
    run(tmp_path, "hpa_2018.yaml", overrides, "--", *plots)
    assert job_counts(run.output) == {"plot_label_replacement": 1}, run.output[-3000:]
    for plot in plots:
        assert np.asarray(Image.open(results.parent / plot).convert("L"), dtype=float).std() > 10, plot

    # a new replacement threshold reruns the replacement alone; turning it off touches no classifier job
    run(
        tmp_path,
        "hpa_2018.yaml",
        {**overrides, "label_replacement": {**overrides["label_replacement"], "threshold": 0.9}},
        "-n",
        name="threshold",
    )
    assert job_counts(run.output) == {"replace_labels": 1, "all": 1}, run.output[-3000:]
    run(tmp_path, "hpa_2018.yaml", {**overrides, "label_replacement": {"enabled": False}}, "-n", name="off")
    assert "Nothing to be done" in run.output, run.output[-3000:]
    labels = pd.read_csv(results / "submission_labels.csv", dtype=str)
    assert labels.columns.tolist() == ["Id", "Predicted"] and len(labels) == 20
    assert all(label.strip() and all(0 <= int(k) < 6 for k in label.split()) for label in labels.Predicted)
    report = json.loads((results / "thresholds.json").read_text())
    assert report["method"] == "f1" and len(report["thresholds"]) == 6
    assert json.loads((results / "scores/base.json").read_text())["metric"] == "macro_f1"
    model = __import__("torch").load(results / "models/base/fold0/model.pt", weights_only=True)
    assert model["meta"]["in_chans"] == 4 and model["meta"]["head"] == "hpa"
