import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from foldwise import metrics


def test_mean_column_auc_matches_sklearn_macro():
    rng = np.random.default_rng(0)
    labels = np.eye(4)[rng.integers(0, 4, 200)]
    scores = rng.random((200, 4)) + labels * 0.5
    assert metrics.mean_column_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores, average="macro"))


def test_columns_without_both_labels_are_left_out():
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])  # class 2 never positive
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.6, 0.3, 0.1], [0.4, 0.7, 0.9]])
    expected = np.mean([roc_auc_score(labels[:, c], scores[:, c]) for c in (0, 1)])
    assert metrics.mean_column_auc(labels, scores) == pytest.approx(expected)


def test_unknown_metric_lists_known():
    with pytest.raises(ValueError, match="roc_auc"):
        metrics.create("accuracy_typo")


def test_macro_f1_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    truth = (rng.random((100, 5)) < 0.3).astype(int)
    truth[:, 4] = 0  # a class never positive
    scores = rng.random((100, 5))
    assert metrics.macro_f1(truth, scores) == pytest.approx(
        f1_score(truth, scores >= 0.5, average="macro", zero_division=0)
    )
