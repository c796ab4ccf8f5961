"""benchmarks/real_pixels_classify.py: its dataset against the dataset contract, its baselines and the scoring of
the workflow's outputs on a tiny set; no workflow run."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import load_benchmark

from foldwise import configs, manifest

real_pixels_classify = load_benchmark("real_pixels_classify")
TRAIN, TEST, SIZE = 40, 12, 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("classify")
    built = real_pixels_classify.build(out, 0, TRAIN, TEST, SIZE)
    return out, built["classes"]


def fingerprint(out: Path) -> str:
    """The CSVs and every image's pixels, hashed."""
    digest = hashlib.sha256()
    for name in ("train.csv", "test.csv", "test_truth.csv"):
        digest.update((out / name).read_bytes())
    for path in sorted((out / "images").glob("*.jpg")):
        digest.update(cv2.imread(str(path)).tobytes())
    return digest.hexdigest()


def test_csvs_follow_the_label_column_contract(tiny):
    out, classes = tiny
    train, test = pd.read_csv(out / "train.csv", dtype=str), pd.read_csv(out / "test.csv", dtype=str)
    assert list(train.columns) == ["image_id", "label"] and list(test.columns) == ["image_id"]
    assert len(train) == TRAIN and len(test) == TEST and len(classes) == 10
    assert set(train.label) == set(classes)  # every class trains, as often as any other
    assert train.label.value_counts().tolist() == [TRAIN // len(classes)] * len(classes)
    assert not set(train.image_id) & set(test.image_id)
    dataset = yaml.safe_load((out / "dataset.yaml").read_text())["dataset"]
    assert dataset["label_column"] == "label" and dataset["classes"] == classes and dataset["task"] == "multiclass"
    # the workflow's manifest reads it: one label column per class, in the order given, one positive per row
    table = manifest.build(manifest.Dataset(**dataset))
    labels = manifest.label_table(table, "train")
    assert list(labels.columns) == ["id", *classes]
    assert (labels[classes].sum(axis=1) == 1).all()
    assert (table.split == "test").sum() == TEST


def test_images_decode_to_the_size_in_rgb(tiny):
    out, _ = tiny
    paths = sorted((out / "images").glob("*.jpg"))
    assert len(paths) == TRAIN + TEST
    shapes = {cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape for p in paths}
    assert shapes == {(SIZE, SIZE, 3)}


def test_the_truth_kept_aside_is_of_the_test_ids(tiny):
    out, classes = tiny
    test, truth = pd.read_csv(out / "test.csv", dtype=str), pd.read_csv(out / "test_truth.csv", dtype=str)
    assert list(truth.columns) == ["image_id", "label"]
    assert truth.image_id.tolist() == test.image_id.tolist()
    assert set(truth.label) <= set(classes)


def test_a_seed_fixes_the_dataset(tmp_path, tiny):
    out, _ = tiny
    real_pixels_classify.build(tmp_path / "same", 0, TRAIN, TEST, SIZE)
    real_pixels_classify.build(tmp_path / "other", 1, TRAIN, TEST, SIZE)
    assert fingerprint(tmp_path / "same") == fingerprint(out)
    assert fingerprint(tmp_path / "other") != fingerprint(out)


def test_a_sample_is_a_jittered_crop_of_its_class_photo():
    rng = np.random.default_rng(0)
    photo = np.full((90, 120, 3), 100, np.uint8)
    patches = np.stack([real_pixels_classify.random_sample(rng, photo, 16) for _ in range(200)])
    assert patches.shape == (200, 16, 16, 3) and patches.dtype == np.uint8
    # a flat photo stays flat; only the brightness moves it, by up to 15% of 255 either way
    assert (patches.std(axis=(1, 2, 3)) < 1).all()
    means = patches.mean(axis=(1, 2, 3))
    assert means.min() >= 100 - 0.15 * 255 - 1 and means.max() <= 100 + 0.15 * 255 + 1
    assert means.min() < 90 and means.max() > 110  # and it does move


def test_the_baseline_scores_in_the_unit_interval(tiny):
    out, classes = tiny
    scores = real_pixels_classify.baseline(out, classes)
    assert set(scores) == {"test_accuracy", "test_macro_roc_auc"}
    assert all(0 <= v <= 1 for v in scores.values())


def test_the_plain_loop_takes_the_config_and_scores_in_the_unit_interval(tiny):
    out, classes = tiny
    augment = [{"name": "HorizontalFlip", "p": 0.5}, {"name": "RandomCrop", "height": 28, "width": 24}]
    config = {"train": {"model": "test_resnet", "epochs": 1, "batch_size": 8, "augment": augment}}
    config["cache"] = {"size": [SIZE, SIZE]}
    scores = real_pixels_classify.plain_scores(out, config, classes, seed=0, threads=1, device="cpu")
    assert scores["crop"] == [28, 24] and scores["size"] == [SIZE, SIZE] and scores["train_rows"] == TRAIN
    assert scores["model"] == "test_resnet" and scores["epochs"] == 1 and scores["batch_size"] == 8
    assert 0 <= scores["test_accuracy"] <= 1 and 0 <= scores["test_macro_roc_auc"] <= 1
    # no RandomCrop: the crop is the whole cached image
    config["train"]["augment"] = augment[:1]
    assert real_pixels_classify.plain_settings(config)["crop"] == (SIZE, SIZE)


def test_the_last_config_file_wins(tmp_path):
    first, last = tmp_path / "first.yaml", tmp_path / "last.yaml"
    first.write_text(yaml.safe_dump({"train": {"epochs": 3, "batch_size": 7}, "folds": {"k": 3}}))
    last.write_text(yaml.safe_dump({"train": {"epochs": 2}}))
    config = real_pixels_classify.merged_config([str(first), str(last)])
    assert config["train"]["epochs"] == 2 and config["train"]["batch_size"] == 7 and config["folds"]["k"] == 3
    assert config["train"]["model"] == "resnet18"  # config/config.yaml's, under both
    assert real_pixels_classify.merged_config([str(last), str(first)])["train"]["epochs"] == 3


def test_the_workflow_outputs_are_scored_against_the_truth(tmp_path, tiny):
    out, classes = tiny
    truth = pd.read_csv(out / "test_truth.csv", dtype=str)
    for folder in ("scores", "probabilities"):
        (tmp_path / "results" / folder).mkdir(parents=True)
    right = np.eye(len(classes))[real_pixels_classify.indices(truth.label, classes)]
    for stage, submission in real_pixels_classify.STAGES.items():
        probabilities = right if stage == "base" else np.roll(right, 1, axis=1)  # the others always wrong
        table = pd.DataFrame(probabilities, columns=classes).iloc[:, ::-1]  # the order of columns is not trusted
        table.insert(0, "image_id", truth.image_id)
        table[::-1].to_csv(tmp_path / "results/probabilities" / submission, index=False)  # nor that of rows
        score = {"metric": "roc_auc", "cv": 0.912345, "folds": [0.9], "biased": stage != "base"}
        (tmp_path / "results" / "scores" / f"{stage}.json").write_text(json.dumps(score))
    (tmp_path / "results/submission_mix.csv").write_text("image_id,label\nc1,astronaut\n")
    report = real_pixels_classify.workflow_scores(tmp_path, out, classes)
    assert report["submission_mix_head"] == ["image_id,label", "c1,astronaut"]
    assert report["base"]["test_accuracy"] == 1.0 and report["base"]["test_macro_roc_auc"] == 1.0
    assert report["distill"]["test_accuracy"] == 0.0 and report["mix"]["oof_cv"] == 0.9123
    assert [report[s]["oof_biased"] for s in ("base", "distill", "mix")] == [False, True, True]


@pytest.mark.parametrize("layout", ["integers", "folders", "onehot"])
def test_each_layout_puts_the_same_samples_where_its_dataset_section_points(tmp_path, tiny, layout):
    """Cassava's integer labels in two folders, and ImageFolder: the ids and labels the workflow will read
    name the same images and classes as the class-name layout's (seed 0)."""
    out, classes = tiny
    dataset = configs.dataset_defaults(real_pixels_classify.build(tmp_path, 0, TRAIN, TEST, SIZE, layout)["dataset"])
    if layout == "folders":
        files = sorted(p.relative_to(tmp_path / "train") for p in (tmp_path / "train").rglob("*.jpg"))
        train = pd.DataFrame({"image_id": [str(f) for f in files], "label": [f.parent.name for f in files]})
        test = pd.DataFrame({"image_id": sorted(p.name for p in (tmp_path / "test").glob("*.jpg"))})
    elif layout == "onehot":
        train, test = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv", dtype=str)
        assert list(train.columns) == list(test.columns) == ["image_id", *classes]  # a sample submission
        assert (train[classes].sum(axis=1) == 1).all()
        train["label"] = train[classes].idxmax(axis=1)
        dataset["test_images"] = dataset["images"]
    else:
        train, test = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv", dtype=str)
        assert train.label.dtype.kind == "i" and list(test.columns) == ["image_id", "label"]  # a sample submission
        train["label"] = [classes[k] for k in train.label]
    for ids, template in ((train.image_id, dataset["images"]), (test.image_id, dataset["test_images"])):
        assert all(Path(template.format(id=i)).is_file() for i in ids)
    named = pd.read_csv(out / "train.csv")  # the class-name layout of the same seed
    assert sorted(train.label) == sorted(named.label) and len(test) == TEST
    columns = json.loads((tmp_path / "classes.json").read_text())["columns"]
    assert columns == ([str(k) for k in range(10)] if layout == "integers" else classes)
