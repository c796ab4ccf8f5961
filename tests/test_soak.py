"""Kill it and resume it: the smoke DAG killed (SIGKILL, whole process group) at random
moments inside training, three times, then finished with --rerun-incomplete, ends with every artifact valid
and byte-for-byte the artifacts of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.soak  # `make test-long` (with the cluster test); about two minutes

# a longer smoke training (25 short epochs), so that kills land between its epochs
SETTINGS = {"train": {"epochs": 25}}
DETERMINISTIC = [
    "results/data/manifest/train.parquet",
    "results/data/manifest/test.parquet",
    "results/data/hashes/train.parquet",
    "results/data/hashes/test.parquet",
    "results/data/folds.parquet",
    "results/data/stats.json",
    "results/data/external_kept.parquet",
]


def command(workdir: Path, overrides: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "results/submission_mix.csv",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--resources",
        "gpu=2",
        "--rerun-incomplete",
        "--configfile",
        str(ROOT / "config/smoke.yaml"),
        str(overrides),
    ]


def unlock(workdir: Path, overrides: Path) -> None:
    """A killed snakemake leaves its lock behind: the user's next step is --unlock."""
    if (workdir / ".snakemake").exists():
        subprocess.run([*command(workdir, overrides), "--unlock"], capture_output=True, timeout=120, check=True)


def finish(workdir: Path, overrides: Path) -> str:
    unlock(workdir, overrides)
    run = subprocess.run(
        command(workdir, overrides), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-5000:]
    return run.stdout


def kill_mid_training(workdir: Path, overrides: Path, delay: float) -> bool:
    """Start a run; ``delay`` seconds after a training job has written a fresh epoch checkpoint,
    SIGKILL snakemake and every job it started. False if the run ended before that."""
    unlock(workdir, overrides)
    started = time.time()
    process = subprocess.Popen(
        command(workdir, overrides), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    checkpoints = workdir / "results/checkpoints"
    while process.poll() is None:
        if any(p.stat().st_mtime > started for p in checkpoints.rglob("last.pt")):
            time.sleep(delay)
            break
        time.sleep(0.2)
    killed = process.poll() is None
    if killed:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return killed


def test_killed_three_times_ends_like_an_uninterrupted_run(tmp_path):
    overrides = tmp_path / "soak.yaml"
    overrides.write_text(yaml.safe_dump(SETTINGS))
    reference, soaked = tmp_path / "reference", tmp_path / "soaked"
    finish(reference, overrides)

    def train_logs() -> str:
        return "".join(p.read_text() for p in (soaked / "results/logs/train_fold").rglob("*.log"))

    rng = random.Random(2026)
    kills, resumed = 0, False
    for _ in range(3):  # killed at a random moment within a training epoch
        kills += kill_mid_training(soaked, overrides, delay=rng.uniform(0.0, 1.0))
        resumed |= "resuming from" in train_logs()
    finish(soaked, overrides)
    resumed |= "resuming from" in train_logs()
    assert kills == 3 and resumed  # each run was cut inside training, and a job picked up its checkpoint
    for name in DETERMINISTIC:
        assert (reference / name).read_bytes() == (soaked / name).read_bytes(), name
    tables = [f"probabilities/submission{of}.csv" for of in ("", "_distill", "_mix")]
    for name in [*tables, "submission_mix.csv"]:
        assert (reference / "results" / name).read_bytes() == (soaked / "results" / name).read_bytes(), name
    for path in sorted((reference / "results/oof").rglob("*.parquet")):
        pd.testing.assert_frame_equal(
            pd.read_parquet(path), pd.read_parquet(soaked / path.relative_to(reference)), check_exact=True
        )
    models = sorted((reference / "results/models").rglob("model.pt"))
    assert len(models) == 6
    for path in models:  # the weights themselves, exactly
        ours = torch.load(soaked / path.relative_to(reference), weights_only=True)["state_dict"]
        for key, value in torch.load(path, weights_only=True)["state_dict"].items():
            assert torch.equal(value, ours[key]), (path, key)
    assert not list((soaked / "results").rglob("*.part")) and not list((soaked / "results").rglob(".*.part.npy"))
    assert not list((soaked / "results/checkpoints").rglob("last.pt"))
