"""Validation metrics; higher is better for all of them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def mean_column_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest ROC AUC (Plant Pathology 2020's metric).

    Classes whose column holds a single value (no positive or no negative) have no AUC and
    are left out of the mean; NaN when no class has one.
    """
    y_true = np.asarray(y_true) >= 0.5
    aucs = [
        roc_auc_score(y_true[:, c], y_score[:, c])
        for c in range(y_true.shape[1])
        if 0 < y_true[:, c].sum() < len(y_true)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def macro_f1(y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5) -> float:
    """Macro F1 of the decisions ``y_score >= threshold`` (HPA 2018's metric); classes with no
    positive and no prediction count as 0, as sklearn's ``f1_score(zero_division=0)``."""
    truth, predicted = np.asarray(y_true) >= 0.5, np.asarray(y_score) >= threshold
    tp = (truth & predicted).sum(axis=0)
    f1 = 2 * tp / np.maximum(truth.sum(axis=0) + predicted.sum(axis=0), 1)
    return float(f1.mean())


METRICS = {"roc_auc": mean_column_auc, "macro_f1": macro_f1}


def create(name: str):
    """The metric function ``f(y_true, y_score) -> float`` called ``name``."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(METRICS)}") from None
