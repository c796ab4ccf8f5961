"""Seeded K-fold splits of the training rows, stratified by label.

Single-label: StratifiedKFold; multi-label: MultilabelStratifiedKFold; with a group column:
StratifiedGroupKFold. Rows are sorted by id first, so the fold of an id does not depend on
the order of train.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from foldwise import FoldwiseError


def split(ids: pd.Series, labels: np.ndarray, k: int, seed: int, task: str = "multiclass",
          groups: pd.Series | None = None, classes: list[str] | None = None) -> pd.DataFrame:
    """Assign a fold 0..k-1 to every id.

    Args:
        ids: sample ids, unique.
        labels: (n, classes) 0/1 (or soft) labels, row-aligned with ids.
        k: number of folds.
        seed: shuffles the split; same seed, same folds.
        task: "multiclass" (stratify on the arg-max class) or "multilabel".
        groups: optional group per row; a group never spans two folds.
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
        raise FoldwiseError(f"folds.k = {k} folds but class {classes[rare]!r} has only {counts[rare]} training "
                            f"row(s); lower folds.k to at most {counts[rare]} or add samples")
    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        parts = splitter.split(np.zeros(len(ids)), target if task != "multilabel" else target.argmax(1),
                               groups.iloc[order].to_numpy())
    elif task == "multilabel":
        parts = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(ids)), target)
    else:
        parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(ids)), target)
    fold = np.full(len(ids), -1, np.int64)
    for number, (_, val) in enumerate(parts):
        fold[val] = number
    return pd.DataFrame({"id": ids, "fold": fold})
