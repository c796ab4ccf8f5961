"""Shared fixtures: a small generated demo dataset and its manifest (built once per session)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

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


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # a benchmark imports its siblings (plain_loop), as when run as a script


def load_benchmark(name: str):
    """A script of benchmarks/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
