"""Soft labels for self-distillation: hard labels mixed with out-of-fold predictions."""

from __future__ import annotations

import re

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


def teacher_folds(folds: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The fold table a stage trains on. ``nested{f}`` (``distill.teachers: nested``) is the base
    recipe without fold f: its models, one per other fold g, train on neither f nor g, so the
    soft labels they give fold f's distilled model never saw fold f's labels."""
    outer = re.fullmatch(r"nested(\d+)", stage)
    return folds if outer is None else folds[folds.fold != int(outer[1])]


def cv_caveat(stage: str, teachers: str = "oof", select: str = "last") -> dict:
    """What the scores JSON of ``stage`` says about its own bias. ``select: best`` chose each fold's
    epoch by its score on the fold's validation rows, the rows its CV is measured on: optimistic
    (on random labels the selected-best AUC is about 0.55 against 0.50 at the last epoch). With
    ``oof`` teachers the distilled models' (and so the mix's) CV is optimistic too: fold f's
    distilled model trains on soft labels made by base models that saw fold f's labels, so its
    validation rows leak into its targets. ``nested`` teachers remove that leak at the cost of
    K(K-1) more models. The identity recipe's pseudo stage has the same leak: its pseudo-labels
    come from base models and a gallery that hold fold f's labels."""
    notes = []
    if select == "best":
        notes.append("optimistic: each fold kept its best epoch by this fold's validation score (train.select: last)")
    if stage == "pseudo":
        notes.append(
            "optimistic: the pseudo-labels come from base models and a gallery that hold this fold's validation labels"
        )
    elif stage != "base" and teachers != "nested":
        notes.append(
            "optimistic: the soft labels of this fold's training rows come from base models that were trained on "
            "this fold's validation labels; distill.teachers: nested gives an unbiased figure"
        )
    return {"biased": True, "note": "; ".join(notes)} if notes else {"biased": False}
