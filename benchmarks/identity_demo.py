"""The identity recipe on its demo, scored on the demo's test truth, as one JSON object on stdout.

    python benchmarks/identity_demo.py --workdir /tmp/iddemo \
        --configfile config/config.yaml config/demo_identity.yaml

Runs ``snakemake all`` in ``--workdir`` (skipped with ``--no-run`` on a finished one), then reads:
the out-of-fold MAP@5 of each stage and of the baselines on the same folds (``results/scores``),
the test MAP@5 of every submission against ``resources/demo/test_truth.csv``, and for the base and
mix rankings the test MAP@5 at the OOF-fitted new_individual threshold against the best threshold
for the test truth itself (which no submission can know: how much the OOF fit leaves behind).
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from foldwise import metrics, retrieval

ROOT = Path(__file__).resolve().parents[1]


def test_scores(results: Path, truth: pd.Series) -> dict:
    """Against ``truth`` (individual per test image, ``new_individual`` where train lacks it), the test MAP@5 of
    every submission under ``results``, and of the base and mix rankings at the OOF-fitted threshold and at the
    best one for the truth itself."""
    out = {"test_new_share": float((truth == retrieval.NEW).mean())}
    for name in ("submission", "submission_pseudo", "submission_mix"):
        submission = pd.read_csv(results / f"{name}.csv", dtype=str)
        out[f"{name}_map5"] = metrics.map_at_k(truth[submission.image].to_numpy(), submission.predictions.tolist())
    for stage, ranks in (("base", ["base"]), ("mix", ["base", "pseudo"])):
        tables = [pd.read_parquet(results / f"ranks/test/{s}.parquet") for s in ranks]
        ranked = retrieval.combine(tables) if len(tables) > 1 else tables[0]
        fitted = json.loads((results / f"scores/{stage}.json").read_text())["threshold"]
        candidates = np.unique(np.r_[ranked.similarity.to_numpy(), fitted, -np.inf, np.inf])
        scores = retrieval.threshold_scores(ranked, truth, candidates)
        out[stage] = {
            "oof_threshold": fitted,
            "test_map5_at_oof_threshold": float(scores[np.searchsorted(candidates, fitted)]),
            "best_test_threshold": float(candidates[scores.argmax()]),
            "test_map5_at_best_threshold": float(scores.max()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--configfile", nargs="+", default=["config/config.yaml", "config/demo_identity.yaml"])
    parser.add_argument("--no-run", action="store_true", help="read a finished workdir")
    args = parser.parse_args()
    seconds = None
    if not args.no_run:
        started = time.perf_counter()
        command = [sys.executable, "-m", "snakemake", "all", "--directory", str(args.workdir), "--cores", "2"]
        command += ["--resources", "gpu=2", "--configfile", *args.configfile]
        subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
        seconds = time.perf_counter() - started
    scores = args.workdir / "results/scores"
    truth = pd.read_csv(args.workdir / "resources/demo/test_truth.csv", dtype=str).set_index("image").individual_id
    report = {
        "configfiles": args.configfile,
        "wall_seconds": seconds,
        "oof": {
            stage: {
                k: json.loads((scores / f"{stage}.json").read_text()).get(k) for k in ("cv", "top1_known", "biased")
            }
            for stage in ("base", "pseudo", "mix")
        },
        "oof_baselines": json.loads((scores / "baselines.json").read_text()),
        "pseudo_labels": json.loads((scores / "pseudo_labels.json").read_text()),
        "test": test_scores(args.workdir / "results", truth),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
