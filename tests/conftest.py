"""Shared fixtures: a small generated demo dataset and its manifest, and one finished smoke run of the
workflow (each built once per session)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from foldwise import demo, manifest

# CPU by default; set FOLDWISE_TEST_DEVICE=cuda to run the torch tests on a GPU
DEVICE = os.environ.get("FOLDWISE_TEST_DEVICE", "cpu")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    demo.generate(out, demo.DemoSpec(train_size=80, test_size=30, external_size=40, image_size=(96, 128), seed=3))
    return out


@pytest.fixture(scope="session")
def demo_spec(demo_dir):
    images = str(demo_dir / "images" / "{id}.jpg")
    return manifest.Dataset(
        train=str(demo_dir / "train.csv"),
        test=str(demo_dir / "test.csv"),
        images=images,
        external={"train": str(demo_dir / "external.csv"), "images": images},
    )


@pytest.fixture(scope="session")
def demo_manifest(demo_spec):
    return manifest.build(demo_spec)


# make test's two workers take whole modules in collection order (--dist loadfile --no-loadscope-reorder):
# the longest first, so that neither worker is left alone with a long one at the end. test_workflow builds
# the shared smoke run; test_test_side and test_report, which wait for it, start later.
LONGEST_FIRST = (
    "test_workflow.py",
    "test_experiments.py",
    "test_preset_hpa.py",
    "test_test_side.py",
    "test_layouts.py",
    "test_identity_workflow.py",
    "test_presets.py",
    "test_report.py",
    "test_system_settings.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the others keep their order


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # a benchmark imports its siblings (plain_loop), as when run as a script


def load_benchmark(name: str):
    """A script of benchmarks/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, worker_id):
    """A finished smoke run (config/smoke.yaml, rule all), built once for the whole session, across
    pytest-xdist workers too (a file lock in their shared temporary folder). Tests that change a run
    take a copy (``copy_run``)."""
    from test_workflow import snakemake  # the tests' snakemake command line

    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    workdir, finished = shared / "smoke_run", shared / "smoke_run.finished"
    with FileLock(str(shared / "smoke_run.lock")):
        if not finished.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a run a failed worker left
            snakemake(workdir)
            finished.touch()
    return workdir


def copy_run(workdir: Path, tmp_path_factory, name: str) -> Path:
    """A copy of a finished run, its Snakemake records and file times included: up to date where it was."""
    copy = tmp_path_factory.mktemp(name)
    shutil.copytree(workdir, copy, symlinks=True, dirs_exist_ok=True)
    return copy
