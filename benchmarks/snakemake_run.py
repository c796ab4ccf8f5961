"""The workflow run a benchmark measures: this checkout's Snakefile on a work directory, targets
first (``--resources`` and ``--configfile`` take several values), its output on stderr."""

from __future__ import annotations

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
