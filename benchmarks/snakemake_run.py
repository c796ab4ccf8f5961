"""The workflow run a benchmark measures: this checkout's Snakefile on a work directory, targets
first (``--resources`` and ``--configfile`` take several values), its output on stderr."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("snakemake_run")


def run(targets: list[str], workdir: Path, configfiles: list[str], cores: int) -> float:
    """Build ``targets`` in ``workdir`` with ``configfiles`` laid over config/config.yaml; the seconds it took."""
    cmd = [
        *(sys.executable, "-m", "snakemake", *targets),
        *("--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)),
        *("--cores", str(cores), "--resources", f"gpu={cores}", "--configfile", *configfiles),
    ]
    log.info("%s", " ".join(cmd))
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    return time.perf_counter() - start


def arguments(description: str, configfiles: list[str], train: int, test: int) -> argparse.ArgumentParser:
    """The options every real-pixels benchmark takes: where, which config files, the dataset's seed
    and sizes, the cores, and whether to skip the workflow."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", type=Path, required=True, help="dataset under data/, the workflow's results/")
    parser.add_argument(
        "--configfile",
        nargs="+",
        default=configfiles,
        help="laid over config/config.yaml, in order; the dataset's yaml goes last",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=train)
    parser.add_argument("--test", type=int, default=test)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--skip-workflow", action="store_true", help="dataset and baselines only")
    return parser
