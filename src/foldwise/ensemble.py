"""Mixing probability tables (submissions, or OOF tables) that share an id column and class columns:
fixed weights, weights fitted out of fold by a hill climb, or the OR of each member's thresholded labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from foldwise import FoldwiseError, metrics, thresholds

METHODS = ("mean", "rank", "max", "or")
UNWEIGHTED = ("max", "or")  # an element-wise maximum has nothing to weight
ROUNDS = 50  # hill-climb additions at most: weights in steps of 1/50 and finer


def check(method: str, weights) -> None:
    """Refuse an ``ensemble:`` pair that cannot be honoured: an unknown method, or weights for ``max`` or
    ``or`` (ignoring them would be silent)."""
    if method not in METHODS:
        raise FoldwiseError(f"unknown ensemble method {method!r}; known: {list(METHODS)}")
    if method in UNWEIGHTED and weights is not None:
        shown = list(weights) if isinstance(weights, (list, tuple, np.ndarray)) else weights
        raise FoldwiseError(
            f"ensemble.method: {method} ignores ensemble.weights {shown}: set weights: null, or method: mean or rank"
        )


def at_threshold(values: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Scores mapped piecewise linearly so that each class's ``cut`` lands on 0.5 (0 and 1 stay): the
    maximum over members of these is >= 0.5 exactly where some member's score reaches its own cut."""
    cut = np.clip(np.asarray(cut, np.float64), 1e-6, 1 - 1e-6)
    return np.where(values < cut, 0.5 * values / cut, 0.5 + 0.5 * (values - cut) / (1 - cut))


def ranks(stack: np.ndarray) -> np.ndarray:
    """Each member's per-class ranks over the rows, scaled to 0..1."""
    return (rankdata(stack, axis=1) - 1) / max(stack.shape[1] - 1, 1)


def combine(stack: np.ndarray, method: str, weights=None, cuts=None) -> np.ndarray:
    """(members, rows, classes) scores -> (rows, classes): the weighted mean (of ranks for ``rank``,
    ranked over the rows given), the maximum, or for ``or`` the maximum at each member's ``cuts``."""
    if method == "rank":
        stack = ranks(stack)
    if method == "max":
        return stack.max(axis=0)
    if method == "or":
        return np.max([at_threshold(values, cut) for values, cut in zip(stack, cuts)], axis=0)
    weights = np.ones(len(stack)) if weights is None else np.asarray(weights, np.float64)
    if len(weights) != len(stack):
        raise FoldwiseError(f"ensemble.weights has {len(weights)} value(s) for {len(stack)} submissions")
    return np.tensordot(weights / weights.sum(), stack, axes=1)


def aligned(tables: list[pd.DataFrame], id_col: str, names: list[str] | None = None) -> np.ndarray:
    """(members, rows, classes) of ``tables`` in the first table's row and class order; refuses a table
    that lacks one of its ids or classes, naming it."""
    first = tables[0]
    classes = [c for c in first.columns if c not in (id_col, "fold")]
    stack = []
    for k, table in enumerate(tables):
        name = names[k] if names else f"table {k + 1}"
        missing = [c for c in classes if c not in table.columns]
        joined = first[[id_col]].merge(table, on=id_col, how="left", validate="one_to_one")
        if missing or joined[classes].isna().any().any():
            what = f"lacks the class column(s) {missing[:3]}" if missing else "lacks some of the ids"
            raise FoldwiseError(f"submissions to mix do not share the same ids and classes: {name} {what}")
        stack.append(joined[classes].to_numpy(np.float64))
    return np.stack(stack)


def read_member(path, id_col: str, name: str) -> pd.DataFrame:
    """A member's probability table (a CSV: a submission, or an extra's OOF table), its ids as strings;
    one without ``id_col`` is refused in a line naming the file and the member."""
    table = pd.read_csv(path, dtype={id_col: str})
    if id_col not in table.columns:
        raise FoldwiseError(f"{path} ({name}): no id column {id_col!r}; its columns: {list(table.columns)[:6]}")
    return table


def mix(tables, id_col, method="mean", weights=None, cuts=None, names=None) -> pd.DataFrame:
    """Combine per-class scores of several tables, aligned on ``id_col`` (``combine``): the first
    table's row order and columns are kept; ``check`` refuses weights with ``max`` and ``or``."""
    check(method, weights)
    out = tables[0][[id_col]].copy()
    classes = [c for c in tables[0].columns if c not in (id_col, "fold")]
    out[classes] = combine(aligned(tables, id_col, names), method, weights, cuts)
    return out


def hill_climb(stack: np.ndarray, truth: np.ndarray, score, rounds: int = ROUNDS) -> np.ndarray:
    """Non-negative weights maximising ``score(truth, mean)`` (Caruana et al. 2004, ensemble selection
    with replacement): from the best single member, add the member whose addition scores best, until
    none improves; a member's weight is its share of the additions."""
    counts = np.zeros(len(stack))
    start = int(np.argmax([score(truth, member) for member in stack]))
    counts[start], total, best = 1, stack[start].copy(), score(truth, stack[start])
    for _ in range(rounds):
        n = counts.sum()
        trials = [score(truth, (total + member) / (n + 1)) for member in stack]
        pick = int(np.argmax(trials))
        if trials[pick] <= best + 1e-12:
            break
        counts[pick], total, best = counts[pick] + 1, total + stack[pick], trials[pick]
    return counts / counts.sum()


def fit_measure(metric: str) -> str:
    """The measure weights are fitted by: the metric, but a flat-threshold F1 (a poor fitting target
    for multi-label scores, see train.select_by) gives way to the macro average precision."""
    return "average_precision" if metric == "macro_f1" else metric


def blend_oof(stack: np.ndarray, truth: np.ndarray, folds: np.ndarray, method: str, weights, metric: str):
    """The blend of members' out-of-fold predictions, and what the test's blend needs.

    ``stack`` (members, rows, classes), ``truth`` (rows, classes), ``folds`` (rows,). Anything fitted
    (``weights: fit``; the members' thresholds for ``or``) is fitted per fold on the other folds' rows
    and applied to the fold's, so that the blend's CV is out of fold; the test's blend takes what is
    fitted on all rows. Returns (rows, classes) scores and a dict: ``weights`` (normalised; None for
    max/or), ``cuts`` (or: per member, per class), and for ``fit`` ``fold_weights``, ``cv_in_sample``
    (the final weights scored on the rows they were fitted on: optimistic) and ``fitted_by``.
    """
    check(method, weights)
    if method == "rank":  # ranks over all OOF rows, as the test's blend ranks over all test rows
        stack, method = ranks(stack), "mean"
    if weights == "fit":
        measure = fit_measure(metric)
        score = metrics.create(measure)
        blended, fold_weights = out_of_fold(
            folds,
            lambda rows: hill_climb(stack[:, rows], truth[rows], score),
            lambda w, rows: combine(stack[:, rows], "mean", w),
        )
        final = hill_climb(stack, truth, score)
        return blended, {
            "fold_weights": {fold: w.round(4).tolist() for fold, w in fold_weights.items()},
            "weights": final.round(4).tolist(),
            "fitted_by": measure,
            "cv_in_sample": score(truth, combine(stack, "mean", final)),
        }
    if method == "or":

        def member_cuts(rows):
            return [thresholds.fit_f1(truth[rows], member[rows]) for member in stack]

        blended, _ = out_of_fold(folds, member_cuts, lambda cuts, rows: combine(stack[:, rows], "or", cuts=cuts))
        return blended, {"cuts": [cut.tolist() for cut in member_cuts(slice(None))]}
    total = np.ones(len(stack)) if weights is None else np.asarray(weights, np.float64)
    return combine(stack, method, weights), {
        "weights": None if method == "max" else (total / total.sum()).round(6).tolist()
    }


def out_of_fold(folds: np.ndarray, fit, apply):
    """Each fold's rows from what ``fit`` fitted on the other folds' rows: (the applied rows, {fold: fitted})."""
    blended, fitted = None, {}
    for fold in np.unique(folds):
        held = folds == fold
        fitted[str(int(fold))] = fit(~held)
        values = apply(fitted[str(int(fold))], held)
        blended = np.zeros((len(folds), *values.shape[1:])) if blended is None else blended
        blended[held] = values
    return blended, fitted
