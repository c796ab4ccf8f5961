"""Soft labels for self-distillation: hard labels mixed with out-of-fold predictions."""

from __future__ import annotations

import pandas as pd

from foldwise import FoldwiseError


def soft_labels(hard: pd.DataFrame, oof: pd.DataFrame, alpha: float, id_col: str = "id") -> pd.DataFrame:
    """alpha * hard + (1 - alpha) * OOF, joined on ``id_col``, never on row position.

    Args:
        hard: id column plus one label column per class.
        oof: id column plus the same class columns (out-of-fold probabilities).
        alpha: weight of the hard labels, in [0, 1].

    Returns:
        The rows and order of ``hard``, with mixed class columns.
    """
    classes = [c for c in hard.columns if c != id_col]
    missing = set(hard[id_col]) - set(oof[id_col])
    if missing:
        raise FoldwiseError(f"{len(missing)} training id(s) have no out-of-fold prediction, e.g. {sorted(missing)[:3]}")
    joined = hard[[id_col]].merge(oof[[id_col, *classes]], on=id_col, how="left", validate="one_to_one")
    out = hard[[id_col]].copy()
    out[classes] = alpha * hard[classes].to_numpy() + (1 - alpha) * joined[classes].to_numpy()
    return out


def cv_caveat(stage: str) -> dict:
    """What the scores JSON of ``stage`` says about its own bias. The distilled models' (and so
    the mix's) CV is optimistic: fold f's distilled model trains on soft labels made by base
    models that saw fold f's labels, so its validation rows leak into its targets."""
    if stage == "base":
        return {"biased": False}
    return {"biased": True, "note": "optimistic: the soft labels of this fold's training rows come from base "
                                    "models that were trained on this fold's validation labels"}
