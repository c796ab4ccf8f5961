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


def test_outside_group_is_the_nearest_sample_of_another_group():
    ranked = pd.DataFrame(
        {
            "id": ["q1", "q1", "q1", "q2", "q2"],
            "individual": ["a2", "b1", "c1", "a1", "a2"],  # q1 (group A) finds A, then B; q2 only its own A
            "similarity": [0.9, 0.7, 0.6, 0.8, 0.7],
        }
    )
    group = pd.Series({"q1": "A", "q2": "A", "a1": "A", "a2": "A", "b1": "B", "c1": "C"})
    other = neighbours.outside_group(ranked, group)
    assert other.to_dict("list") == {"id": ["q1"], "neighbour": ["b1"], "similarity": [0.7]}


def test_the_new_group_share_of_a_mixture_is_recovered_from_similarities():
    rng = np.random.default_rng(0)
    known, other = rng.normal(0.9, 0.04, 2000), rng.normal(0.7, 0.08, 2000)
    for share in (0.0, 0.3, 0.5, 0.8):
        new = rng.random(1000) < share
        test = np.where(new, rng.normal(0.7, 0.08, 1000), rng.normal(0.9, 0.04, 1000))
        assert abs(neighbours.estimate_new_share(test, known, other) - share) < 0.05, share


def test_stand_ins_take_the_other_groups_neighbour_for_their_share_of_the_rows():
    labels, other = np.zeros((10, 2)), np.ones((10, 2))
    similarity, other_similarity = np.full(10, 0.9), np.r_[np.full(8, 0.5), np.nan, np.nan]
    mixed, mixed_similarity, chosen = neighbours.stand_in_new(labels, similarity, other, other_similarity, 0.3)
    assert chosen.sum() == 3 and not chosen[8:].any()  # only rows that have another group's sample
    assert (mixed[chosen] == 1).all() and (mixed[~chosen] == 0).all()
    assert (mixed_similarity[chosen] == 0.5).all() and (mixed_similarity[~chosen] == 0.9).all()
    again = neighbours.stand_in_new(labels, similarity, other, other_similarity, 0.3)[2]
    assert (again == chosen).all()  # seeded


def test_fitting_with_new_group_stand_ins_helps_a_test_with_new_groups():
    """Known groups: the neighbour is right above 0.8 (similarities 0.7-1.0); new groups: the neighbour,
    of another group, is noise at 0.6-0.95. A fit on known rows alone replaces new ones from 0.8 on."""
    rng = np.random.default_rng(4)

    def rows(n, new_share):
        truth = rng.random((n, 5)) < 0.3
        decisions = np.where(rng.random((n, 5)) < 0.8, truth, ~truth)
        new = rng.random(n) < new_share
        similarity = np.where(new, rng.uniform(0.6, 0.95, n), rng.uniform(0.7, 1.0, n))
        right = ~new & (similarity > 0.8)
        neighbour = np.where(right[:, None], truth, rng.random((n, 5)) < 0.3)
        return truth, decisions, neighbour, similarity

    truth, decisions, near, similarity = rows(900, 0.0)  # OOF: every group in its gallery
    other_similarity, other = rng.uniform(0.6, 0.95, 900), rng.random((900, 5)) < 0.3
    folds = np.arange(900) % 3
    plain = neighbours.fit(truth, decisions, near, similarity, folds)["threshold"]
    aware = neighbours.fit(truth, decisions, near, similarity, folds, other=(other, other_similarity), new_share=0.5)
    aware = aware["threshold"]
    test = rows(900, 0.5)
    score = {t: metrics.macro_f1(test[0], neighbours.replace(test[1], test[2], test[3], t)) for t in (plain, aware)}
    assert plain < 0.85 < 0.9 < aware, (plain, aware)
    assert score[aware] > score[plain] + 0.01, score
