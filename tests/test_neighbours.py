import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, metrics, neighbours


def case(n=400, classes=5, seed=0):
    """Neighbours whose labels are right when they are similar, noise when they are not; a classifier
    right 70% of the time per label."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n, classes)) < 0.3
    similarity = rng.random(n)
    noise = rng.random((n, classes)) < 0.3
    neighbour = np.where((similarity > 0.6)[:, None], truth, noise)
    decisions = np.where(rng.random((n, classes)) < 0.7, truth, ~truth)
    return truth, decisions, neighbour, similarity, np.arange(n) % 4


def test_f1_curve_equals_replacing_and_scoring_at_each_threshold():
    truth, decisions, neighbour, similarity, _ = case()
    candidates = [-np.inf, 0.1, 0.5, 0.6, 0.61, 0.9, np.inf]
    curve = neighbours.f1_curve(truth, decisions, neighbour, similarity, candidates)
    expected = [metrics.macro_f1(truth, neighbours.replace(decisions, neighbour, similarity, t)) for t in candidates]
    np.testing.assert_allclose(curve, expected)


def test_replacement_only_where_the_neighbour_is_similar_enough():
    decisions = np.array([[1, 0], [1, 0], [0, 1]])
    labels = np.array([[0, 1], [0, 1], [1, 1]])
    out = neighbours.replace(decisions, labels, np.array([0.9, 0.5, 0.7]), 0.7)
    assert out.astype(int).tolist() == [[0, 1], [1, 0], [1, 1]]


def test_the_fitted_threshold_helps_on_rows_it_was_not_fitted_on():
    truth, decisions, neighbour, similarity, folds = case(seed=1)
    fitted = neighbours.fit(truth, decisions, neighbour, similarity, folds)
    assert 0.5 < fitted["threshold"] < 0.75  # where the neighbours turn right
    held = case(seed=2)  # the same process, other rows
    replaced = neighbours.replace(held[1], held[2], held[3], fitted["threshold"])
    assert metrics.macro_f1(held[0], replaced) > metrics.macro_f1(held[0], held[1]) + 0.05
    assert fitted["cv"] > fitted["cv_without"] and fitted["cv"] <= fitted["cv_in_sample"] + 1e-9


def test_the_out_of_fold_figure_uses_each_folds_own_threshold(monkeypatch):
    truth, decisions, neighbour, similarity, folds = case(seed=3)
    seen = []
    curve = neighbours.f1_curve

    def recording(truth_rows, *args):
        seen.append(len(truth_rows))
        return curve(truth_rows, *args)

    monkeypatch.setattr(neighbours, "f1_curve", recording)
    neighbours.fit(truth, decisions, neighbour, similarity, folds)
    assert seen == [400, 300, 300, 300, 300]  # all rows, then each fold's complement


def test_a_share_of_the_test_rows_sets_the_threshold():
    similarity = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert neighbours.threshold_for_share(similarity, 0.4) == 0.7
    assert (similarity >= neighbours.threshold_for_share(similarity, 0.6)).sum() == 3
    assert neighbours.threshold_for_share(similarity, 0.0) == np.inf


def test_nearest_takes_each_querys_most_similar_sample():
    ranked = pd.DataFrame({"id": ["q1", "q1", "q2"], "individual": ["a", "b", "c"], "similarity": [0.4, 0.8, 0.3]})
    assert neighbours.nearest(ranked).values.tolist() == [["q1", "b", 0.8], ["q2", "c", 0.3]]


def test_group_top1_counts_only_rows_whose_group_is_in_their_folds_gallery():
    folds = pd.DataFrame({"id": ["a1", "a2", "a3", "b1", "c1", "d1", "d2"], "fold": [0, 0, 1, 0, 1, 0, 0]})
    group = pd.Series(["A", "A", "A", "B", "C", "D", "D", "C"], index=[*folds.id, "x1"])  # x1: kept external
    # a1, a2 find A (right), a3 finds B (wrong); b1 and the d's cannot be right; c1 finds its external C
    nearest = pd.Series(["A", "A", "B", "A", "C", "D", "D"], index=folds.id)
    score = neighbours.group_top1(folds, nearest, group, kept=["x1"])
    assert score == {"top1": 0.75, "folds": [1.0, 0.5], "rows": 4}
    assert neighbours.group_top1(folds, nearest, group, kept=[])["rows"] == 3  # c1 has no gallery sample


def test_group_top1_refuses_groups_that_never_span_two_folds():
    folds = pd.DataFrame({"id": ["a", "b"], "fold": [0, 1]})
    group = pd.Series(["A", "B"], index=["a", "b"])
    with pytest.raises(FoldwiseError, match="group_column"):
        neighbours.group_top1(folds, pd.Series(["A", "B"], index=["a", "b"]), group, kept=[])
