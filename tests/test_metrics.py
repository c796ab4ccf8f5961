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


def test_map_at_k_scores_the_first_hit_by_position():
    truth = ["a", "b", "c", "d"]
    predicted = [["a", "x", "y", "z", "w"], ["x", "b"], ["x", "y", "z", "w", "v"], ["x", "y", "z", "w", "d"]]
    assert metrics.map_at_k(truth, predicted) == pytest.approx((1 + 1 / 2 + 0 + 1 / 5) / 4)


def test_map_at_k_counts_repeats_by_position_like_ml_metrics_apk():
    assert metrics.map_at_k(["b"], [["a", "a", "b"]]) == pytest.approx(1 / 3)
    assert metrics.map_at_k(["a"], [["a", "a", "b"]]) == 1.0


def test_map_at_k_truncates_to_k_and_allows_short_or_empty_lists():
    assert metrics.map_at_k(["f"], [["a", "b", "c", "d", "e", "f"]]) == 0.0  # 6th guess: past k=5
    assert metrics.map_at_k(["f"], [["a", "b", "c", "d", "e", "f"]], k=6) == pytest.approx(1 / 6)
    assert metrics.map_at_k(["a", "b"], [[], ["b"]]) == pytest.approx(0.5)


def test_map_at_k_reads_a_submission_string_as_words_not_characters():
    # as characters, "ab cd" would hold "a" at position 1
    assert metrics.map_at_k(["cd", "a"], ["ab cd", "ab cd"]) == pytest.approx(0.25)


def test_map_at_k_rejects_mismatched_lengths():
    from foldwise import FoldwiseError

    with pytest.raises(FoldwiseError, match="2 true label"):
        metrics.map_at_k(["a", "b"], [["a"]])
