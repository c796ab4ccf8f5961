"""Seeded K-fold splits of the training rows, stratified by label.

Single-label: StratifiedKFold; multi-label: MultilabelStratifiedKFold. Rows that must share a
fold (one value of the group column, or near-duplicate images) are linked into groups, split by
StratifiedGroupKFold. Rows are sorted by id first, so the fold of an id does not depend on the
order of train.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from foldwise import FoldwiseError


def split(
    ids: pd.Series,
    labels: np.ndarray,
    k: int,
    seed: int,
    task: str = "multiclass",
    groups: pd.Series | None = None,
    duplicates: pd.DataFrame | None = None,
    classes: list[str] | None = None,
) -> pd.DataFrame:
    """Assign a fold 0..k-1 to every id.

    Args:
        ids: sample ids, unique.
        labels: (n, classes) 0/1 (or soft) labels, row-aligned with ids.
        k: number of folds.
        seed: shuffles the split; same seed, same folds.
        task: "multiclass" (stratify on the arg-max class) or "multilabel" (on every class).
        groups: optional group per row, row-aligned with ids; a group never spans two folds.
        duplicates: optional pairs of ids (columns ``id``, ``match_id``) that must share a fold,
            such as near-duplicate images; linked with the groups.
        classes: class names, for error messages.

    Returns:
        DataFrame with columns id, fold, sorted by id.
    """
    order = np.argsort(ids.to_numpy(str), kind="stable")
    ids = ids.iloc[order].reset_index(drop=True)
    labels = np.asarray(labels)[order]
    classes = classes or [str(i) for i in range(labels.shape[1])]
    if k < 2:
        raise FoldwiseError(f"folds.k must be at least 2, got {k}")
    if len(ids) < k:
        raise FoldwiseError(f"folds.k = {k} folds but only {len(ids)} training rows")
    if task == "multilabel":
        counts = (labels >= 0.5).sum(axis=0)
        target = (labels >= 0.5).astype(int)
    else:
        target = labels.argmax(axis=1)
        counts = np.bincount(target, minlength=labels.shape[1])
    present = counts > 0
    if (counts[present] < k).any():
        rare = int(np.flatnonzero(present & (counts < k))[0])
        raise FoldwiseError(
            f"folds.k = {k} folds but class {classes[rare]!r} has only {counts[rare]} training "
            f"row(s); lower folds.k to at most {counts[rare]} or add samples"
        )
    linked = linked_groups(ids, None if groups is None else groups.iloc[order].to_numpy(), duplicates)
    if linked is not None and linked.max() + 1 < k:
        raise FoldwiseError(
            f"folds.k = {k} folds but the training rows form only {linked.max() + 1} group(s) "
            "(group column and near-duplicates); lower folds.k"
        )
    rows = np.arange(len(ids))  # the row of each entry handed to the splitter
    if linked is not None:
        if task == "multilabel":
            # one entry per positive label (or "no label"), so that StratifiedGroupKFold balances the
            # positives of every class, counted over the rows of each group
            rows, target = np.nonzero(np.column_stack([target, target.sum(axis=1) == 0]))
        parts = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target, linked[rows])
    elif task == "multilabel":
        parts = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target)
    else:
        parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target)
    fold = np.full(len(ids), -1, np.int64)
    for number, (_, val) in enumerate(parts):
        fold[rows[val]] = number
    return pd.DataFrame({"id": ids, "fold": fold})


def linked_groups(ids: pd.Series, groups: np.ndarray | None, duplicates: pd.DataFrame | None) -> np.ndarray | None:
    """Group number 0..G-1 of every row: rows sharing a group value or a duplicate pair are linked.

    None when nothing links rows (no group column, no duplicate pair).
    """
    if groups is None and (duplicates is None or duplicates.empty):
        return None
    n = len(ids)
    position = pd.Series(np.arange(n), index=ids.to_numpy())
    sources, targets = [], []
    if groups is not None:  # each row to a node of its group value
        sources.append(np.arange(n))
        targets.append(n + pd.factorize(groups)[0])
    if duplicates is not None and not duplicates.empty:
        sources.append(position[duplicates.id].to_numpy())
        targets.append(position[duplicates.match_id].to_numpy())
    sources, targets = np.concatenate(sources), np.concatenate(targets)
    size = max(n, int(targets.max()) + 1)
    graph = coo_matrix((np.ones(len(sources)), (sources, targets)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    return pd.factorize(component[:n])[0]
