"""Settings that cannot change a result (batch sizes of inference, workers, threads) are no rerun
trigger: after a complete run of config/smoke.yaml, a new value of one plans nothing.

The complete run is recorded, not made: make_demo makes the demo data (seconds), every other
output of the DAG is an empty file, and ``snakemake --touch`` records for each job the metadata
a real run records (params, code, input files). A dry run with one setting changed then plans
what a real run would rerun, in seconds instead of a smoke run's minutes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "config" / "smoke.yaml"

pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, configs=(), targets=("all",)) -> str:
    """Run snakemake on the smoke config (plus ``configs``) in ``workdir``; its stdout and stderr."""
    cmd = [
        *(sys.executable, "-m", "snakemake", *targets, "--snakefile", str(ROOT / "Snakefile")),
        *("--directory", str(workdir), "--cores", "1", "--resources", "gpu=2"),
        *("--configfile", str(SMOKE), *map(str, configs), *args),
    ]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-5000:]
    return result.stdout


def planned(output: str) -> dict[str, list[str]]:
    """The jobs a dry run plans, as {rule: [reason of each job]} (empty when nothing is to be done)."""
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:[ \t]+.*\n)*?[ \t]+reason: (.*)$", output, re.M)
    return {rule: [reason for r, reason in jobs if r == rule] for rule, _ in jobs}


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    """A working directory whose smoke DAG is complete and up to date for snakemake."""
    workdir = tmp_path_factory.mktemp("system_settings")
    snakemake(workdir, targets=["resources/demo/train.csv"])  # make_demo, for real: its images are a folder
    summary = subprocess.run(
        [
            *(sys.executable, "-m", "snakemake", "all", "--snakefile", str(ROOT / "Snakefile")),
            *("--directory", str(workdir), "--configfile", str(SMOKE), "--summary"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in summary.splitlines()[1:] if "\t" in line]
    for path, *_, status, _plan in rows:
        if status == "missing":
            (workdir / path).parent.mkdir(parents=True, exist_ok=True)
            (workdir / path).touch()
    snakemake(workdir, "--touch")
    assert planned(snakemake(workdir, "--dry-run")) == {}
    return workdir


def override(tmp_path, settings: dict) -> Path:
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.mark.parametrize(
    "section, key, value",
    [("predict", "batch_size", 7), ("train", "eval_batch_size", 7), ("train", "num_workers", 1)],
)
def test_a_system_setting_reruns_nothing(recorded_run, tmp_path, section, key, value):
    changed = override(tmp_path, {section: {key: value}})
    jobs = planned(snakemake(recorded_run, "--dry-run", configs=[changed]))
    first = next(iter(jobs.values()), [""])[0]
    assert not jobs, ", ".join(f"{rule} x{len(reasons)}" for rule, reasons in jobs.items()) + f"; {first[:160]}"


def test_a_prediction_setting_still_reruns_the_predictions(recorded_run, tmp_path):
    # the record is one the dry runs above can see a change against: TTA views do change the scores
    changed = override(tmp_path, {"predict": {"tta": ["identity"]}})
    jobs = planned(snakemake(recorded_run, "--dry-run", configs=[changed]))
    for rule in ("predict_fold", "predict_oof"):  # the base ones for their params, the distill ones after retraining
        reasons = jobs.get(rule, [])
        assert len(reasons) == 6 and any(r.startswith("Params have changed") for r in reasons), (rule, reasons)
