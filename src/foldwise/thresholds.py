"""Multi-label decisions: per-class thresholds fitted on OOF predictions, or label-ratio matching.

Both return one threshold per class; ``decide`` applies them and gives every sample at least
one label (its highest-scoring class), as the HPA 2018 metric rewards.
"""

from __future__ import annotations

import numpy as np

from foldwise import FoldwiseError, metrics

GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)


def f1_curves(y_true: np.ndarray, y_score: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Per class, its F1 at every threshold of ``grid``.

    Args:
        y_true: (n, classes) 0/1 labels.
        y_score: (n, classes) probabilities.
    Returns:
        (classes, len(grid)) F1 scores.
    """
    truth = np.asarray(y_true) >= 0.5
    predicted = y_score[:, :, None] >= grid[None, None, :]  # (n, classes, thresholds)
    tp = (predicted & truth[:, :, None]).sum(axis=0)
    fp = (predicted & ~truth[:, :, None]).sum(axis=0)
    fn = (~predicted & truth[:, :, None]).sum(axis=0)
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def fit_f1(y_true: np.ndarray, y_score: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Per class, the threshold of ``grid`` that maximises that class's F1 on (y_true, y_score):
    (classes,) thresholds; ties go to the lowest threshold."""
    return grid[f1_curves(y_true, y_score, grid).argmax(axis=1)]


def match_rates(y_score: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Per class, the threshold at which the predicted positive rate equals ``rates[class]``."""
    rates = np.clip(np.asarray(rates, np.float64), 0.0, 1.0)
    return np.array(
        [np.quantile(y_score[:, c], 1.0 - rates[c]) if rates[c] > 0 else np.inf for c in range(y_score.shape[1])]
    )


def choose(
    method: str, y_true: np.ndarray, oof_scores: np.ndarray, test_scores: np.ndarray, rates: list[float] | None = None
) -> np.ndarray:
    """Per-class thresholds: ``f1`` fits them on the OOF predictions; ``rates`` makes each class's
    predicted test rate match ``rates`` (default: the train label rates); ``or`` (the mix of
    ``ensemble.method: or``, where each member's own fitted threshold lies at 0.5) fits none."""
    if method == "or":
        return np.full(np.shape(y_true)[1], 0.5)
    if method == "f1":
        return fit_f1(y_true, oof_scores)
    rates = np.asarray(rates if rates is not None else (np.asarray(y_true) >= 0.5).mean(axis=0))
    if len(rates) != y_true.shape[1]:
        raise FoldwiseError(f"thresholds.rates has {len(rates)} value(s) for {y_true.shape[1]} classes")
    return match_rates(test_scores, rates)


def out_of_fold_f1(
    method: str,
    y_true: np.ndarray,
    oof_scores: np.ndarray,
    folds: np.ndarray,
    rates: list[float] | None = None,
    at_least_one: bool = True,
) -> float:
    """Macro F1 of the OOF decisions when no fold's thresholds saw that fold's labels: each fold
    is decided with thresholds chosen on the other folds (``f1``: fitted on their OOF scores;
    ``rates``: the other folds' label rates, or ``rates``, matched on this fold's scores).
    Fitting and scoring on the same rows would report an optimistic F1."""
    y_true = np.asarray(y_true) >= 0.5
    decisions = np.zeros(y_true.shape, np.int8)
    for fold in np.unique(folds):
        held = np.asarray(folds) == fold
        fitted = choose(method, y_true[~held], oof_scores[~held], oof_scores[held], rates)
        decisions[held] = decide(oof_scores[held], fitted, at_least_one)
    return metrics.macro_f1(y_true, decisions)


def decide(y_score: np.ndarray, thresholds: np.ndarray, at_least_one: bool = True) -> np.ndarray:
    """(n, classes) 0/1 decisions; with ``at_least_one`` an empty row gets its top class."""
    decisions = (y_score >= thresholds[None, :]).astype(np.int8)
    if at_least_one:
        empty = decisions.sum(axis=1) == 0
        decisions[np.flatnonzero(empty), y_score[empty].argmax(axis=1)] = 1
    return decisions


def as_indices(decisions: np.ndarray) -> list[str]:
    """Each row's positive classes as space-separated indices ("0 5 25"): the HPA submission."""
    return [" ".join(map(str, np.flatnonzero(row))) for row in decisions]


def middle_of_best(scores: np.ndarray) -> int:
    """The index of the threshold to take from ``scores`` of ascending candidate thresholds: the middle
    of the widest run of candidates sharing the best score, furthest from where the score drops on
    rows it was not fitted on (the new_individual threshold, the label-replacement threshold)."""
    # np.isclose: thresholds that give identical decisions can differ in the last float bit
    on_best = np.r_[False, np.isclose(scores, np.nanmax(scores), rtol=0, atol=1e-12), False]
    edges = np.flatnonzero(np.diff(on_best.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]  # run i covers candidates starts[i] .. ends[i] - 1
    widest = np.argmax(ends - starts)
    return int((starts[widest] + ends[widest] - 1) // 2)
