"""Validation metrics; higher is better for all of them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from foldwise import FoldwiseError


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


def map_at_k(truth, predicted, k: int = 5) -> float:
    """Mean average precision at k with one true label per query (Happywhale 2022's MAP@5).

    A query scores 1 / (1-based position of the first occurrence of its truth among its first k
    predictions), 0 if absent: ml_metrics' ``apk`` with one actual value, where a repeated
    prediction still takes up a position. Fewer than k predictions are allowed.

    Args:
        truth: (n,) the true label of each query.
        predicted: (n,) per query its ranked predictions: a sequence of str, or one
            space-separated string as in a submission's ``predictions`` column.
        k: how many predictions count.
    Returns:
        The mean score over queries; NaN when there are none.
    """
    truth, predicted = list(truth), list(predicted)
    if len(truth) != len(predicted):
        raise FoldwiseError(f"map_at_k: {len(truth)} true label(s) for {len(predicted)} prediction list(s)")
    if k < 1:
        raise FoldwiseError(f"map_at_k: k must be at least 1, got {k}")
    if not truth:
        return float("nan")
    total = 0.0
    for label, guesses in zip(truth, predicted):
        # a bare string would otherwise be read as a list of characters
        guesses = list(guesses.split() if isinstance(guesses, str) else guesses)[:k]
        if label in guesses:
            total += 1.0 / (guesses.index(label) + 1)
    return total / len(truth)


def class_map_at_5(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """MAP@5 of the classes ranked by score, over the rows of a known class (``y_true`` >= 0; -1 marks
    an individual that no class stands for): an identity model's validation by its class centres.
    NaN when no row is known."""
    known = np.asarray(y_true) >= 0
    if not known.any():
        return float("nan")
    scores = np.asarray(y_score)[known]
    top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    return map_at_k(np.asarray(y_true)[known].astype(str), top.astype(str), k=5)


def macro_average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean over classes of the average precision (area under the precision-recall curve), classes
    without a positive left out: threshold-free, and not flattered by the many negatives."""
    y_true = np.asarray(y_true) >= 0.5
    aps = [average_precision_score(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1]) if y_true[:, c].any()]
    return float(np.mean(aps)) if aps else float("nan")


METRICS = {
    "roc_auc": mean_column_auc,
    "macro_f1": macro_f1,
    "average_precision": macro_average_precision,
    "map@5": class_map_at_5,
}


def create(name: str):
    """The metric function ``f(y_true, y_score) -> float`` called ``name``."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(METRICS)}") from None
