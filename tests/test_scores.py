import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from foldwise import scores


def test_multilabel_scores_add_the_threshold_free_measures():
    rng = np.random.default_rng(0)
    truth = (rng.random((60, 3)) < 0.4).astype(float)
    predicted = np.clip(truth * 0.4 + rng.random((60, 3)) * 0.6, 0, 1)
    hard = pd.DataFrame({"id": [f"i{k}" for k in range(60)], **{f"c{c}": truth[:, c] for c in range(3)}})
    oof = hard[["id"]].assign(fold=np.arange(60) % 3, **{f"c{c}": predicted[:, c] for c in range(3)})
    result = scores.cv_score(oof, hard, "macro_f1", task="multilabel")
    assert result["roc_auc"] == pytest.approx(roc_auc_score(truth, predicted, average="macro"))
    assert result["average_precision"] == pytest.approx(average_precision_score(truth, predicted, average="macro"))
    assert "average_precision" not in scores.cv_score(oof, hard, "roc_auc", task="multiclass")
