"""HPA 2018's nearest-neighbour label replacement: samples stained with the same antibody carry nearly
the same labels, so a test sample takes the labels of its nearest train (or kept external) sample
when their similarity, in an embedding trained with ArcFace on the antibody (``group_column``),
clears a threshold; below it the classifier's labels stand.

The threshold is fitted on the out-of-fold rows (each training row's nearest sample among the rows
its embedding model trained on, against the classifier's out-of-fold labels), or set to replace a
given share of the test rows. The winner found the result insensitive to it: ``fit`` reports the
whole curve.

Every out-of-fold row's group has other samples in its gallery; a test sample of a group not in
train has none, and its nearest sample, of another group, gives the wrong labels at a similarity
the out-of-fold rows never show. So the fit stands a share of its rows (``new_share``) in for
such samples, each with its nearest sample of another group; ``auto`` estimates that share from
the test's similarities (``estimate_new_share``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foldwise import FoldwiseError, metrics, thresholds


def nearest(ranked: pd.DataFrame) -> pd.DataFrame:
    """Each query's nearest gallery sample from a ranked table whose individuals are the gallery's
    sample ids (``retrieval`` with every sample its own individual): id, neighbour, similarity."""
    first = ranked.sort_values(["id", "similarity"], ascending=[True, False], kind="stable").drop_duplicates("id")
    return first.rename(columns={"individual": "neighbour"})[["id", "neighbour", "similarity"]].reset_index(drop=True)


def outside_group(ranked: pd.DataFrame, group: pd.Series) -> pd.DataFrame:
    """Each query's nearest sample of another group than its own (what a sample of a group missing
    from the gallery finds), from a ranked table as ``nearest`` takes: id, neighbour, similarity.
    Queries whose ranked samples are all of their own group are left out."""
    other = ranked[ranked.id.map(group).to_numpy() != ranked.individual.map(group).to_numpy()]
    return nearest(other)


def estimate_new_share(test: np.ndarray, known: np.ndarray, other: np.ndarray, points: int = 101) -> float:
    """The share of test samples whose group is not in the gallery: the weight ``s`` for which the
    mixture ``(1 - s) F_known + s F_other`` of the out-of-fold similarity distributions (nearest
    sample with the group in the gallery; nearest of another group) is closest, in least squares
    over the CDFs, to the test's similarity distribution."""
    test, known, other = (np.sort(np.asarray(a, np.float64)) for a in (test, known, other))
    if not len(test) or not len(known) or not len(other):
        return 0.0
    grid = np.quantile(np.r_[test, known, other], np.linspace(0, 1, points))

    def cdf(values):
        return np.searchsorted(values, grid, side="right") / len(values)

    gap = cdf(other) - cdf(known)
    return float(np.clip(np.dot(cdf(test) - cdf(known), gap) / max(np.dot(gap, gap), 1e-12), 0.0, 1.0))


def stand_in_new(
    neighbour_labels: np.ndarray,
    similarity: np.ndarray,
    other_labels: np.ndarray,
    other_similarity: np.ndarray,
    share: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, similarity, which rows stand in) with ``share`` of the rows (those that have a sample of
    another group, drawn with ``seed``) given their nearest sample of another group instead."""
    available = np.flatnonzero(~np.isnan(np.asarray(other_similarity, np.float64)))
    count = min(int(round(share * len(similarity))), len(available))
    chosen = np.zeros(len(similarity), bool)
    chosen[np.random.default_rng(seed).choice(available, count, replace=False)] = True
    labels = np.where(chosen[:, None], other_labels, neighbour_labels)
    return labels, np.where(chosen, other_similarity, similarity), chosen


def group_top1(folds: pd.DataFrame, nearest_group: pd.Series, group: pd.Series, kept: list) -> dict:
    """Validation top-1 of the groups embedding: the share of out-of-fold rows whose nearest sample is
    of their own group, over the rows that can be right (their group has a sample in their fold's
    gallery: in another fold, or a kept external sample; a group seen in one fold only has none).

    Args:
        folds: id, fold of every training row (the groups' folds).
        nearest_group: by id, the group of each row's nearest sample.
        group: by id, every train and external sample's group.
        kept: the external ids kept in every fold's gallery.
    Returns: {"top1", "folds": per-fold top-1, "rows": rows counted}.
    """
    rows = folds.assign(group=folds.id.map(group))
    in_own_fold = rows.groupby(["group", "fold"]).id.transform("size")
    known = (rows.groupby("group").id.transform("size") > in_own_fold) | rows.group.isin(set(group[list(kept)]))
    right = rows.assign(right=rows.id.map(nearest_group) == rows.group)[known]
    if right.empty:
        raise FoldwiseError(
            "label replacement: no group has samples in two folds, so no validation row can find its own "
            "group (dataset.group_column: are the group ids right?)"
        )
    return {
        "top1": float(right.right.mean()),
        "folds": right.groupby("fold").right.mean().round(6).tolist(),
        "rows": int(known.sum()),
    }


def replace(
    decisions: np.ndarray, neighbour_labels: np.ndarray, similarity: np.ndarray, threshold: float
) -> np.ndarray:
    """(n, classes) decisions with every row whose neighbour is at least ``threshold`` similar replaced by
    the neighbour's labels."""
    take = np.asarray(similarity) >= threshold
    return np.where(take[:, None], np.asarray(neighbour_labels) >= 0.5, np.asarray(decisions) >= 0.5)


def f1_curve(
    truth: np.ndarray, decisions: np.ndarray, neighbour_labels: np.ndarray, similarity: np.ndarray, candidates
) -> np.ndarray:
    """Macro F1 of ``replace`` at each candidate threshold, in one pass: rows sorted by similarity, the
    per-class counts of true positives and predictions change by each replaced row's difference."""
    truth, decisions, labels = (np.asarray(a) >= 0.5 for a in (truth, decisions, neighbour_labels))
    order = np.argsort(-np.asarray(similarity), kind="stable")
    ordered = np.asarray(similarity)[order]
    gain_tp = np.cumsum((labels & truth).astype(int)[order] - (decisions & truth).astype(int)[order], axis=0)
    gain_pred = np.cumsum(labels.astype(int)[order] - decisions.astype(int)[order], axis=0)
    zero = np.zeros((1, truth.shape[1]), int)
    gain_tp, gain_pred = np.vstack([zero, gain_tp]), np.vstack([zero, gain_pred])
    replaced = np.searchsorted(-ordered, -np.asarray(candidates, np.float64), side="right")  # rows >= t
    tp = (decisions & truth).sum(0) + gain_tp[replaced]
    predicted = decisions.sum(0) + gain_pred[replaced]
    f1 = 2 * tp / np.maximum(truth.sum(0) + predicted, 1)  # as metrics.macro_f1
    return f1.mean(axis=1)


def fit(
    truth: np.ndarray,
    decisions: np.ndarray,
    neighbour_labels: np.ndarray,
    similarity: np.ndarray,
    folds: np.ndarray,
    points: int = 101,
    other: tuple[np.ndarray, np.ndarray] | None = None,
    new_share: float = 0.0,
) -> dict:
    """The replacement threshold that maximises the out-of-fold macro F1, and what it is worth.

    Args:
        truth, decisions, neighbour_labels: (n, classes) 0/1: the labels, the classifier's
            out-of-fold decisions, the nearest sample's labels.
        similarity: (n,) to the nearest sample.
        folds: (n,) the classifier's fold of each row: ``cv`` scores each fold with a threshold
            fitted on the other folds (``cv_in_sample``: fitted on all rows, optimistic).
        other, new_share: each row's nearest sample of another group (labels, similarity; NaN where
            none): ``new_share`` of the rows take it, standing in for test samples of new groups
            (``stand_in_new``).
    Returns:
        {"threshold", "cv", "cv_in_sample", "cv_without", "replaced_share", "curve"}; the curve
        is the in-sample macro F1 at thresholds over the similarity's quantiles.
    """
    if len(truth) == 0:
        raise FoldwiseError("label replacement: no out-of-fold rows to fit the threshold on")
    if other is not None and new_share > 0:
        neighbour_labels, similarity, _ = stand_in_new(neighbour_labels, similarity, *other, new_share)
    similarity = np.asarray(similarity, np.float64)
    candidates = np.unique(np.r_[np.quantile(similarity, np.linspace(0, 1, points)), np.inf])
    curve = f1_curve(truth, decisions, neighbour_labels, similarity, candidates)
    chosen = candidates[thresholds.middle_of_best(curve)]
    out_of_fold = np.asarray(decisions) >= 0.5
    for fold in np.unique(folds):
        own = np.asarray(folds) == fold
        others = f1_curve(truth[~own], decisions[~own], neighbour_labels[~own], similarity[~own], candidates)
        fold_threshold = candidates[thresholds.middle_of_best(others)]
        out_of_fold[own] = replace(decisions[own], neighbour_labels[own], similarity[own], fold_threshold)
    return {
        "threshold": float(chosen),
        "cv": metrics.macro_f1(truth, out_of_fold),
        "cv_in_sample": float(curve[np.searchsorted(candidates, chosen)]),
        "cv_without": metrics.macro_f1(truth, decisions),
        "replaced_share_oof": float((similarity >= chosen).mean()),
        "curve": {
            "threshold": candidates[np.isfinite(candidates)].tolist(),
            "macro_f1": curve[np.isfinite(candidates)].tolist(),
        },
    }


def threshold_for_share(similarity: np.ndarray, share: float) -> float:
    """The similarity threshold that replaces ``share`` of the rows (the most similar ones)."""
    if not 0 <= share <= 1:
        raise FoldwiseError(f"label_replacement.share must be in [0, 1], got {share}")
    if share == 0:
        return float("inf")
    return float(np.sort(np.asarray(similarity))[::-1][max(int(round(share * len(similarity))) - 1, 0)])


def choose_threshold(fitted: dict, settings: dict, test_similarity: np.ndarray) -> float:
    """The test's threshold: a share of the test replaced, the fitted one (``threshold: fit``), or a given one."""
    if settings.get("share") is not None:
        return threshold_for_share(test_similarity, settings["share"])
    return fitted["threshold"] if settings["threshold"] == "fit" else float(settings["threshold"])


def submissions(
    submission: pd.DataFrame,
    decisions: np.ndarray,
    test: pd.DataFrame,
    labels: pd.DataFrame,
    threshold: float,
    id_column: str,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(``Id,Predicted`` labels, the probability table with replaced rows set to their neighbour's 0/1
    labels, which rows were replaced) for a submission's rows, ``test`` its nearest samples (id,
    neighbour, similarity) and ``labels`` every gallery sample's labels by id."""
    test = submission[[id_column]].merge(test, left_on=id_column, right_on="id", how="left", validate="one_to_one")
    if test.neighbour.isna().any():
        raise FoldwiseError(
            f"{int(test.neighbour.isna().sum())} test id(s) have no nearest sample (results/neighbours.parquet)"
        )
    take = test.similarity.to_numpy() >= threshold
    replaced = replace(decisions, labels.loc[test.neighbour].to_numpy(), test.similarity.to_numpy(), threshold)
    predicted = pd.DataFrame({id_column: submission[id_column], "Predicted": thresholds.as_indices(replaced)})
    probabilities = submission.copy()
    classes = list(labels.columns)
    probabilities.loc[take, classes] = replaced[take].astype(float)
    return predicted, probabilities, take
