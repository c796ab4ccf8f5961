"""A new test set reruns only the test side; a predict set runs on new images and touches nothing else.

The tests of this module share one smoke run of the demo and run in order: a new test file
that keeps every external row, one that frees an external row, then a predict set.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run
from test_workflow import CLASSES, K, job_counts, override, snakemake

pytestmark = pytest.mark.workflow

IMAGES = "resources/demo/images/{id}.jpg"


def demo_with_test(test_csv: str) -> dict:
    """The demo's dataset section, as the workflow builds it, with another test CSV."""
    return {
        "dataset": {
            "train": "resources/demo/train.csv",
            "test": test_csv,
            "images": IMAGES,
            "external": {"train": "resources/demo/external.csv", "images": IMAGES},
        }
    }


def artifacts(workdir: Path) -> dict[str, int]:
    """Every artifact under results/ (logs and benchmarks aside) with its modification time."""
    results = workdir / "results"
    return {
        str(path.relative_to(results)): path.stat().st_mtime_ns
        for path in results.rglob("*")
        if path.is_file() and path.relative_to(results).parts[0] not in ("logs", "benchmarks")
    }


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name, mtime in after.items() if before.get(name) != mtime}


def ran(output: str) -> dict[str, int]:
    """The jobs a run executed, by rule, the target rule ``all`` aside (its plan may list more,
    pending the dedup checkpoint)."""
    rules = [rule for rule in re.findall(r"(?:rule|checkpoint) (\w+):", output) if rule != "all"]
    return {rule: rules.count(rule) for rule in set(rules)}


@pytest.fixture(scope="module")
def workdir(smoke_run, tmp_path_factory):
    return copy_run(smoke_run, tmp_path_factory, "test_side")


def planted(workdir: Path) -> pd.DataFrame:
    """The demo's external rows planted as near-duplicates of test rows."""
    pairs = pd.read_csv(workdir / "resources/demo/external_duplicates.csv")
    test = pd.read_csv(workdir / "resources/demo/test.csv")
    return pairs[pairs.source_id.isin(test.image_id)]


def write_test_csv(workdir: Path, name: str, ids) -> str:
    """A test CSV of ``ids`` beside the demo's; its path relative to the workdir, as the config names it."""
    path = f"resources/demo/{name}"
    pd.DataFrame({"image_id": list(ids)}).to_csv(workdir / path, index=False)
    return path


def test_a_new_test_file_reruns_only_the_test_side(workdir, tmp_path):
    test = pd.read_csv(workdir / "resources/demo/test.csv").image_id
    sources = set(planted(workdir).source_id)
    assert sources, "the demo plants near-duplicates of test rows"
    # every test row an external row duplicates stays: the kept external set is unchanged
    subset = [i for n, i in enumerate(test) if i in sources or n % 2 == 0]
    config = override(tmp_path, "new_test", demo_with_test(write_test_csv(workdir, "test_new.csv", subset)))
    before = artifacts(workdir)

    # the plan also lists the jobs that wait on the dedup checkpoint; the run skips them (kept set unchanged)
    dry = snakemake(workdir, "-n", configs=[config])
    planned = job_counts(dry.stdout)
    assert planned["build_manifest"] == planned["hash_images"] == planned["cache_images"] == 1
    assert not {"split_folds", "compute_stats"} & set(planned) and "split=train" not in dry.stdout

    run = snakemake(workdir, configs=[config])
    assert ran(run.stdout) == {
        "build_manifest": 1,
        "hash_images": 1,
        "dedup_external": 1,
        "cache_images": 1,
        "predict_fold": 2 * K,
        "write_submission": 2,
        "mix_submissions": 1,
        "format_submission": 3,
    }
    predictions = {f"predictions/test/{stage}/fold{fold}.parquet" for stage in ("base", "distill") for fold in range(K)}
    assert changed(before, artifacts(workdir)) == {
        "data/manifest/test.parquet",
        "data/hashes/test.parquet",
        "cache/32x32/test/images.npy",
        "cache/32x32/test/index.parquet",
        "data/duplicates.csv",
        "data/external_kept.parquet",
        *predictions,
        *(f"{table}submission{of}.csv" for table in ("", "probabilities/") for of in ("", "_distill", "_mix")),
    }
    assert pd.read_csv(workdir / "results/submission_mix.csv").image_id.tolist() == subset


def test_a_test_file_that_frees_an_external_row_retrains(workdir, tmp_path):
    subset = pd.read_csv(workdir / "resources/demo/test_new.csv").image_id
    freed = planted(workdir).iloc[0]
    kept_before = set(pd.read_parquet(workdir / "results/data/external_kept.parquet").id)
    config = override(
        tmp_path, "freed", demo_with_test(write_test_csv(workdir, "test_freed.csv", subset[subset != freed.source_id]))
    )

    run = snakemake(workdir, configs=[config])
    assert ran(run.stdout)["train_fold"] == 2 * K and "split_folds" not in ran(run.stdout)
    kept = set(pd.read_parquet(workdir / "results/data/external_kept.parquet").id)
    assert kept == kept_before | {freed.external_id}


def test_a_predict_set_runs_on_new_images_and_leaves_every_other_artifact_alone(workdir, tmp_path):
    # copies of four test images under new ids: the same models, TTA and mix must score them alike
    sources = pd.read_csv(workdir / "resources/demo/test_freed.csv").image_id[:4].tolist()
    (workdir / "fresh").mkdir()
    for n, source in enumerate(sources):
        shutil.copy(workdir / IMAGES.format(id=source), workdir / f"fresh/new_{n}.jpg")
    pd.DataFrame({"image_id": [f"new_{n}" for n in range(len(sources))]}).to_csv(workdir / "fresh.csv", index=False)
    config = override(
        tmp_path,
        "fresh",
        {
            **demo_with_test("resources/demo/test_freed.csv"),
            "predict_sets": {"fresh": {"test": "fresh.csv", "images": "fresh/{id}.jpg"}},
        },
    )
    before = artifacts(workdir)

    run = snakemake(workdir, targets=["results/predict/fresh/submission_mix.csv"], configs=[config])
    assert ran(run.stdout) == {
        "build_manifest": 1,
        "cache_images": 1,
        "predict_fold": 2 * K,
        "write_submission": 2,
        "mix_submissions": 1,
        "format_submission": 1,
    }
    after = artifacts(workdir)
    assert changed(before, after) == set(after) - set(before)  # only new files
    assert all(
        name.startswith(("predict/fresh/", "predictions/fresh/", "cache/32x32/fresh/", "data/manifest/fresh."))
        for name in set(after) - set(before)
    )

    fresh = pd.read_csv(workdir / "results/predict/fresh/submission_mix.csv")
    assert fresh.columns.tolist() == ["image_id", *CLASSES] and len(fresh) == len(sources)
    test = pd.read_csv(workdir / "results/submission_mix.csv").set_index("image_id")
    np.testing.assert_allclose(fresh[CLASSES].to_numpy(), test.loc[sources, CLASSES].to_numpy(), rtol=1e-5, atol=1e-6)
