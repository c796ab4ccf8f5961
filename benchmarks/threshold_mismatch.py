"""Do thresholds fitted on out-of-fold rows fit the test rows? Measured on a finished multi-label run,
as one JSON object on stdout.

    python benchmarks/threshold_mismatch.py --workdir <a finished run> --truth <test truth CSV>

OOF rows are each scored by one fold model; test rows by the mean of K, whose scores spread less.
Per-class F1 thresholds fitted on the OOF scores then meet a narrower test distribution. Reported:
each class's score spread (std) over the OOF and over the test rows, the positive rate in train
and predicted on the test at the fitted thresholds, and the test macro F1 (against the truth,
``Id,Target`` with space-separated class indices as the HPA demo's test_truth.csv) at the fitted
thresholds (results/thresholds.json, on the mixed OOF), at thresholds fitted on the base models'
OOF alone (unbiased with ``train.select: last``; the mix's is optimistic with ``distill.teachers:
oof``), at thresholds matching the train label rates on the test scores (``thresholds.method:
rates``), and at a flat 0.5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from foldwise import manifest, metrics, thresholds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="the run's directory (results/ under it)")
    parser.add_argument("--truth", type=Path, required=True, help="id column, Target: space-separated indices")
    parser.add_argument("--id-column", default="Id")
    args = parser.parse_args(argv)
    results = args.workdir / "results"
    table = pd.read_parquet(results / "data/manifest/train.parquet")
    hard = manifest.label_table(table, "train")
    classes = [c for c in hard.columns if c != "id"]
    oof = hard[["id"]].merge(pd.read_parquet(results / "oof/mix.parquet"), on="id")
    truth_oof = hard.set_index("id").loc[oof.id, classes].to_numpy() >= 0.5
    mixed = results / "probabilities/submission_mix.csv"  # the probability table (older runs: submission_mix.csv)
    test = pd.read_csv(mixed if mixed.exists() else results / "submission_mix.csv", dtype={args.id_column: str})
    truth = (
        pd.read_csv(args.truth, dtype=str, keep_default_na=False).set_index(args.id_column).loc[test[args.id_column]]
    )
    truth_test = np.zeros((len(test), len(classes)), bool)
    for row, target in enumerate(truth.Target):
        truth_test[row, [classes.index(t) for t in target.split()]] = True
    fitted = np.asarray(json.loads((results / "thresholds.json").read_text())["thresholds"])
    train_rates = truth_oof.mean(axis=0)
    scores = test[classes].to_numpy()
    base = hard[["id"]].merge(pd.read_parquet(results / "oof/base.parquet"), on="id")
    at = {
        "fitted_on_oof": fitted,
        "fitted_on_base_oof": thresholds.fit_f1(
            hard.set_index("id").loc[base.id, classes].to_numpy(), base[classes].to_numpy()
        ),
        "train_rates_on_test": thresholds.match_rates(scores, train_rates),
        "flat_0.5": np.full(len(classes), 0.5),
    }
    report = {
        "oof_rows": len(oof),
        "test_rows": len(test),
        "score_std": {
            "oof": np.round(oof[classes].to_numpy().std(axis=0), 4).tolist(),
            "test": np.round(scores.std(axis=0), 4).tolist(),
        },
        "positive_rate": {
            "train": np.round(train_rates, 4).tolist(),
            "test_truth": np.round(truth_test.mean(axis=0), 4).tolist(),
            "test_at_fitted": np.round((scores >= fitted).mean(axis=0), 4).tolist(),
        },
        "test_macro_f1": {
            name: round(metrics.macro_f1(truth_test, thresholds.decide(scores, cut, True)), 4)
            for name, cut in at.items()
        },
        "oof_macro_f1_at_fitted_in_sample": round(
            metrics.macro_f1(truth_oof, thresholds.decide(oof[classes].to_numpy(), fitted, True)), 4
        ),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
