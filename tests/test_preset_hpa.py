"""The HPA 2018 preset runs its whole DAG, label replacement and its report plots included, on small
stand-in data (a module of its own: the suite's two workers run it beside the Plant Pathology preset)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_presets import SMALL, preset_augment, run
from test_workflow import job_counts

pytestmark = pytest.mark.workflow


def test_hpa_2018_preset(tmp_path):
    overrides = {
        **SMALL,
        "folds": {"k": 3},  # the preset's 5 are the Plant Pathology test's to check
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
