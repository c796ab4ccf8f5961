"""Mixing submissions (or OOF tables) that share an id column and class columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from foldwise import FoldwiseError

METHODS = ("mean", "rank", "max")


def check(method: str, weights: list[float] | None) -> None:
    """Refuse an ``ensemble:`` pair that cannot be honoured: an unknown method, or weights for ``max``
    (an element-wise maximum has nothing to weight; ignoring them would be silent)."""
    if method not in METHODS:
        raise FoldwiseError(f"unknown ensemble method {method!r}; known: {list(METHODS)}")
    if method == "max" and weights is not None:
        raise FoldwiseError(
            f"ensemble.method: max ignores ensemble.weights {list(weights)}: set weights: null, or method: mean or rank"
        )


def mix(
    tables: list[pd.DataFrame], id_col: str, method: str = "mean", weights: list[float] | None = None
) -> pd.DataFrame:
    """Combine per-class scores of several tables, aligned on ``id_col``.

    ``mean`` is the weighted mean of probabilities, ``rank`` the weighted mean of per-class
    ranks scaled to 0..1 (for AUC-like metrics), ``max`` the element-wise maximum.
    The first table's row order and columns are kept; ``check`` refuses weights with ``max``.
    """
    check(method, weights)
    weights = np.ones(len(tables)) if weights is None else np.asarray(weights, np.float64)
    if len(weights) != len(tables):
        raise FoldwiseError(f"ensemble.weights has {len(weights)} value(s) for {len(tables)} submissions")
    first = tables[0]
    classes = [c for c in first.columns if c != id_col]
    stack = []
    for table in tables:
        aligned = first[[id_col]].merge(table, on=id_col, how="left", validate="one_to_one")
        if aligned[classes].isna().any().any():
            raise FoldwiseError("submissions to mix do not share the same ids and classes")
        values = aligned[classes].to_numpy(np.float64)
        if method == "rank":
            values = (rankdata(values, axis=0) - 1) / max(len(values) - 1, 1)
        stack.append(values)
    stack = np.stack(stack)
    mixed = stack.max(axis=0) if method == "max" else np.tensordot(weights / weights.sum(), stack, axes=1)
    out = first[[id_col]].copy()
    out[classes] = mixed
    return out
