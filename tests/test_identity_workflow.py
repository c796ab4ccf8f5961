"""End to end on the identity demo (config/smoke_identity.yaml): every identity artifact, and what a
change reruns. The tests share one run and only read it (the rerun checks are dry runs)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_test_side import ran
from test_workflow import ROOT, K, job_counts, override, planned_jobs, snakemake

from foldwise import retrieval

pytestmark = pytest.mark.workflow

SMOKE_IDENTITY = "config/smoke_identity.yaml"


def run(workdir, *args, configs=(), **kwargs):
    return snakemake(workdir, *args, configs=[ROOT / SMOKE_IDENTITY, *configs], **kwargs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("identity")
    run(workdir)
    return workdir


def test_every_identity_artifact(workdir):
    results, demo = workdir / "results", workdir / "resources/demo"
    train = pd.read_csv(demo / "train.csv")
    test = pd.read_csv(demo / "test.csv")
    manifest = pd.read_parquet(results / "data/manifest/train.parquet")
    assert set(manifest.identity[manifest.split == "train"]) == set(train.individual_id)
    assert not any(c.startswith("label:") for c in manifest.columns)
    folds = pd.read_parquet(results / "data/folds.parquet")
    assert sorted(folds.fold.unique()) == list(range(K))

    # the fold models embed every image; the rows are unit vectors
    for split, count in (("train", len(manifest)), ("test", len(test))):
        table = pd.read_parquet(results / f"predictions/{split}/base/fold0.parquet")
        assert len(table) == count and table.shape[1] == 1 + 32
        np.testing.assert_allclose(np.linalg.norm(table.drop(columns="id").to_numpy(), axis=1), 1.0, rtol=1e-4)

    # out of fold: each validation image is ranked against its fold's gallery, its truth new where
    # its individual trains in no other fold and in no kept external row
    oof = pd.read_parquet(results / "oof/base.parquet")
    assert set(oof.id) == set(folds.id)
    first = oof.drop_duplicates("id").set_index("id")
    fold_of, identity = folds.set_index("id").fold, manifest.set_index("id").identity
    kept = pd.read_parquet(results / "data/external_kept.parquet").id  # external sightings join every gallery
    for sample_id, row in first.head(40).iterrows():
        gallery = set(identity[[*folds.id[folds.fold != fold_of[sample_id]], *kept]])
        expected = identity[sample_id] if identity[sample_id] in gallery else retrieval.NEW
        assert row.truth == expected and row.fold == fold_of[sample_id]
        assert set(oof.individual[oof.id == sample_id]) <= set(identity)  # ranked individuals come from the gallery

    for stage in ("base", "pseudo", "mix"):
        score = json.loads((results / f"scores/{stage}.json").read_text())
        assert score["metric"] == "map@5" and 0 <= score["cv"] <= 1 and np.isfinite(score["threshold"])
        assert score["biased"] == (stage != "base")
        if stage != "mix":
            assert len(score["folds"]) == K and 0 <= score["top1_known"] <= 1
    pseudo = json.loads((results / "scores/pseudo.json").read_text())["pseudo_labels"]
    labels = pd.read_parquet(results / "pseudo_labels.parquet")
    assert pseudo["taken"] == len(labels) > 0 and (labels.similarity >= 0.5).all()
    assert set(labels.id) <= set(test.image) and set(labels.identity) <= set(train.individual_id)
    history = pd.read_csv(results / "models/pseudo/fold0/history.csv")
    assert "map@5" in history.columns

    baselines = json.loads((results / "scores/baselines.json").read_text())
    assert 0 <= baselines["new_individual_first"] <= 1 and 0 <= baselines["raw_pixels"]["cv"] <= 1

    known = set(train.individual_id) | {retrieval.NEW}
    for suffix in ("", "_pseudo", "_mix"):
        submission = pd.read_csv(results / f"submission{suffix}.csv")
        assert submission.columns.tolist() == ["image", "predictions"]
        assert submission.image.tolist() == test.image.tolist()  # the sample submission's rows, in order
        guesses = submission.predictions.str.split()
        assert (guesses.str.len() == 5).all() and (guesses.map(lambda g: len(set(g))) == 5).all()
        assert set(guesses.explode()) <= known and guesses.map(lambda g: retrieval.NEW in g).all()


def test_a_new_pseudo_threshold_reruns_only_the_pseudo_stage_and_the_mix(workdir, tmp_path):
    output = run(workdir, "-n", configs=[override(tmp_path, "pseudo", {"pseudo": {"threshold": 0.6}})]).stdout
    jobs = job_counts(output)
    assert jobs == {
        "make_pseudo_labels": 1,
        "train_fold": K,
        "predict_fold": 2 * K,  # the gallery and the test images, by each pseudo model
        "collect_oof": 1,
        "rank_test": 1,
        "write_submission": 1,
        "mix_oof": 1,
        "mix_submissions": 1,
        "all": 1,
    }, jobs
    train_jobs = [wildcards for rule, wildcards in planned_jobs(output) if rule == "train_fold"]
    assert len(train_jobs) == K and all("stage=pseudo" in job for job in train_jobs), train_jobs


def demo_with_test(test_csv: str) -> dict:
    """The identity demo's dataset section, as the workflow builds it, with another test CSV."""
    images = "resources/demo/images/{id}"
    return {
        "dataset": {
            "train": "resources/demo/train.csv",
            "test": test_csv,
            "images": images,
            "id_column": "image",
            "task": "identity",
            "label_column": "individual_id",
            "boxes": "resources/demo/boxes.csv",
            "external": {"train": "resources/demo/external.csv", "images": images},
        }
    }


@pytest.mark.slow  # a real run of the test side and the pseudo stage (~95 s): make test-long
def test_a_new_test_file_leaves_the_base_models_and_folds_alone(workdir, tmp_path):
    test = pd.read_csv(workdir / "resources/demo/test.csv")
    test.iloc[::-1].to_csv(workdir / "test_reversed.csv", index=False)
    output = run(workdir, configs=[override(tmp_path, "reversed", demo_with_test("test_reversed.csv"))]).stdout
    jobs = ran(output)  # a real run: a dry run lists the jobs that wait on the dedup checkpoint too
    for untouched in ("split_folds", "compute_stats", "score_baselines", "find_train_duplicates"):
        assert untouched not in jobs, jobs
    train_jobs = [wildcards for rule, wildcards in planned_jobs(output) if rule == "train_fold"]
    # the base models stay; only the pseudo models, which train on test images, retrain
    assert len(train_jobs) == K and all("stage=pseudo" in job for job in train_jobs), train_jobs
    submission = pd.read_csv(workdir / "results/submission_mix.csv")
    assert submission.image.tolist() == test.image.tolist()[::-1]


def test_boxes_of_images_in_neither_train_nor_test_are_one_error(workdir, tmp_path):
    test = pd.read_csv(workdir / "resources/demo/test.csv")
    test.head(25).to_csv(workdir / "test25.csv", index=False)
    result = run(
        workdir,
        targets=["results/data/manifest/test.parquet"],
        configs=[override(tmp_path, "test25", demo_with_test("test25.csv"))],
        check=False,
    )
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("foldwise: error:")]
    assert errors and "resources/demo/boxes.csv" in errors[0] and "box id(s) in neither train nor test" in errors[0]
