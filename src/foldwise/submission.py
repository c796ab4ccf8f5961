"""Submissions in the competition's form, read from its sample submission (the test CSV).

The workflow keeps one probability table per submission (``results/probabilities/``: the id, one
column per class, what the ensemble, the report and the user read); the file to upload is that
table in the sample submission's form (``submission.format``):

- ``probabilities``: the table itself (Plant Pathology: ``image_id,healthy,...``);
- ``label``: single-label, the most probable class as train spells it (Cassava: ``image_id,label``
  with an integer; a class name where train has names);
- ``labels``: multi-label, the classes at the fitted thresholds separated by spaces (HPA:
  ``Id,Predicted``).

``auto`` reads the sample's columns: none but the id, or one per class, is ``probabilities``;
one other column is ``label`` or ``labels`` by the task. A test folder has no sample: then
``id,label`` (or ``labels``). The id column keeps the sample's own name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foldwise import FoldwiseError, thresholds

FORMS = {"probabilities": ("multiclass", "multilabel"), "label": ("multiclass",), "labels": ("multilabel",)}


def form(setting: str, sample_columns: list[str] | None, id_header: str, classes: list[str], task: str) -> str:
    """The submission's form: ``setting`` checked against the task, or with ``auto`` the one the sample
    submission's columns (None: no sample, a test folder) ask for."""
    if setting != "auto":
        if task not in FORMS.get(setting, ()):
            fits = [name for name, tasks in FORMS.items() if task in tasks]
            raise FoldwiseError(f"submission.format: {setting} does not fit {task} data; use one of {fits} or auto")
        return setting
    if sample_columns is None:
        return "labels" if task == "multilabel" else "label"
    others = [c for c in sample_columns if c != id_header]
    if not others or sorted(others) == sorted(classes):
        return "probabilities"
    if len(others) == 1:
        return "labels" if task == "multilabel" else "label"
    raise FoldwiseError(
        f"the sample submission's columns {others} are neither one per class ({classes[:5]}...) nor one label "
        "column; set submission.format: probabilities, label or labels"
    )


def write(
    probabilities: pd.DataFrame,
    kind: str,
    id_column: str,
    id_header: str,
    label_header: str,
    cut: np.ndarray | None = None,
    at_least_one: bool = False,
) -> pd.DataFrame:
    """The submission of ``probabilities`` (``id_column``, then one column per class) in form ``kind``,
    its id column named ``id_header`` and, for a label form, its label column ``label_header``;
    ``cut``: per-class thresholds of the ``labels`` form."""
    classes = [c for c in probabilities.columns if c != id_column]
    ids = probabilities[id_column].rename(id_header)
    if kind == "probabilities":
        return probabilities.rename(columns={id_column: id_header})
    scores = probabilities[classes].to_numpy()
    names = np.array(classes, dtype=object)
    if kind == "label":
        return pd.DataFrame({id_header: ids, label_header: names[scores.argmax(axis=1)]})
    if cut is None:
        raise FoldwiseError("submission form labels needs the fitted thresholds (results/thresholds.json)")
    decided = thresholds.decide(scores, np.asarray(cut), at_least_one).astype(bool)
    return pd.DataFrame({id_header: ids, label_header: [" ".join(names[row]) for row in decided]})
