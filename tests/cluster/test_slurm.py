"""The smoke DAG on a real one-node SLURM cluster (started by slurm-up.sh), through profiles/slurm.

The node has one placeholder GPU (gres File=/dev/null): training and prediction jobs ask SLURM
for --gpus=1 exactly as on a real cluster, find no CUDA device inside the job and run on the
CPU. The production profile is used unchanged; only the status-poll interval is shortened.
Run with `make test-cluster` (root: it installs and starts SLURM); .ci/run does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster():
    up = subprocess.run(
        ["bash", str(HERE / "slurm-up.sh")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900
    )
    if up.returncode != 0:
        pytest.fail(f"SLURM could not be started, so the cluster test cannot run:\n{up.stdout[-3000:]}")
    yield
    subprocess.run(["bash", str(HERE / "slurm-down.sh")], timeout=120)


def snakemake(workdir: Path, *configs: Path, slurm: bool, dry: bool = False):
    """(completed process, wall seconds) of the smoke DAG, locally or through the SLURM profile."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "results/submission_mix.csv",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config/smoke.yaml"),
        *map(str, configs),
    ]
    if slurm:  # --workflow-profile none: profiles/default would otherwise be layered over it
        cmd += [
            "--profile",
            str(ROOT / "profiles/slurm"),
            "--workflow-profile",
            "none",
            "--slurm-init-seconds-before-status-checks",
            "4",
            "--verbose",
        ]
    else:
        cmd += ["--cores", "2", "--resources", "gpu=2"]
    if dry:
        cmd.append("-n")
    started = time.monotonic()
    # SIGKILL on timeout: a stuck status loop ignores SIGTERM
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:]
    return run, time.monotonic() - started


def submitted(output: str) -> list[str]:
    """Rules of the jobs sent to SLURM, from the plugin's 'sbatch call' lines."""
    return re.findall(r"sbatch call: .*?--comment '?rule_(\w+?)(?:_wildcards\w*)?'? ", output)


def test_smoke_dag_on_slurm_matches_the_local_run(cluster, tmp_path):
    local, local_s = snakemake(tmp_path / "local", slurm=False)
    remote, remote_s = snakemake(tmp_path / "slurm", slurm=True)
    jobs = submitted(remote.stdout)
    # the mix needs the base stage's out-of-fold predictions (its soft labels), not the distill stage's
    assert jobs.count("train_fold") == 6 and jobs.count("predict_fold") == 6 and jobs.count("predict_oof") == 3, jobs
    gpu_calls = [line for line in remote.stdout.splitlines() if "sbatch call:" in line and "rule_train_fold" in line]
    assert all("--gpus=1" in line for line in gpu_calls)
    assert not any(
        "--gpus" in line for line in remote.stdout.splitlines() if "sbatch call:" in line and "rule_hash_images" in line
    )
    local_mix = pd.read_csv(tmp_path / "local/results/submission_mix.csv")
    slurm_mix = pd.read_csv(tmp_path / "slurm/results/submission_mix.csv")
    pd.testing.assert_frame_equal(local_mix, slurm_mix, rtol=1e-5)

    again, _ = snakemake(tmp_path / "slurm", slurm=True)
    assert submitted(again.stdout) == [] and "Nothing to be done" in again.stdout

    alpha = tmp_path / "alpha.yaml"
    alpha.write_text(yaml.safe_dump({"distill": {"alpha": 0.5}}))
    changed, _ = snakemake(tmp_path / "slurm", alpha, slurm=True)
    changed_jobs = submitted(changed.stdout)
    assert sorted(set(changed_jobs)) == ["predict_fold", "train_fold"] and len(changed_jobs) == 6, changed_jobs
    assert "wildcards: stage=base" not in changed.stdout

    report = {
        "local_seconds": round(local_s, 1),
        "slurm_seconds": round(remote_s, 1),
        "slurm_jobs": len(jobs),
        "second_run_jobs": len(submitted(again.stdout)),
        "alpha_change_jobs": len(changed_jobs),
        "squeue_lines": [line for line in remote.stdout.splitlines() if "SLURM jobid" in line][:4],
    }
    print("cluster report:", json.dumps(report, indent=1))
