"""Cross-validation scores of out-of-fold predictions: results/scores/{stage}.json."""

from __future__ import annotations

import numpy as np
import pandas as pd

from foldwise import metrics


def cv_score(oof: pd.DataFrame, hard: pd.DataFrame, metric: str, task: str = "multiclass") -> dict:
    """``{"metric", "cv", "folds", ...}``: the metric over all OOF rows, and per validation fold.

    ``oof`` holds id, fold and one score column per class; ``hard`` id and the labels. Rows are
    joined on ``id``, and every training id must have an OOF prediction. Multi-label scores add the
    macro ROC AUC and average precision.
    """
    classes = [c for c in hard.columns if c != "id"]
    joined = hard.merge(oof, on="id", suffixes=("", ":oof"), validate="one_to_one")
    if len(joined) != len(hard):
        raise ValueError(f"{len(hard) - len(joined)} training id(s) have no out-of-fold prediction")
    score = metrics.create(metric)
    truth, pred = joined[classes].to_numpy(), joined[[f"{c}:oof" for c in classes]].to_numpy()
    per_fold = [score(truth[joined.fold == f], pred[joined.fold == f]) for f in sorted(joined.fold.unique())]
    result = {
        "metric": metric,
        "cv": score(truth, pred),
        "folds": per_fold,
        "fold_mean": float(np.mean(per_fold)),
        "rows": int(len(joined)),
    }
    if task == "multilabel":  # threshold-free beside F1: the ranking no threshold can repair
        result |= {
            name: metrics.create(name)(truth, pred) for name in ("roc_auc", "average_precision") if name != metric
        }
    return result


def blend_caveat(members: dict[str, dict], extras: list[str]) -> dict:
    """What a blend's scores JSON says about its own bias: optimistic where a member's CV is (its
    ``biased`` flag: distilled OOF, best-epoch selection), or where an extra's OOF table comes from
    outside the workflow (its folds and fitting are not known)."""
    notes = [f"{name}: {score.get('note', 'optimistic')}" for name, score in members.items() if score.get("biased")]
    notes += [f"{name}: an OOF table from outside the workflow, its folds and fitting not known" for name in extras]
    return {"biased": bool(notes), **({"note": "optimistic, as its members are. " + "; ".join(notes)} if notes else {})}
