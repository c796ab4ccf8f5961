import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, configs, ensemble, metrics


def tables():
    a = pd.DataFrame({"image_id": ["x", "y", "z"], "p": [0.1, 0.5, 0.9]})
    b = pd.DataFrame({"image_id": ["z", "x", "y"], "p": [0.3, 0.7, 0.2]})
    return a, b


def test_mean_aligns_on_id():
    out = ensemble.mix(list(tables()), "image_id")
    assert out.image_id.tolist() == ["x", "y", "z"]
    np.testing.assert_allclose(out.p, [0.4, 0.35, 0.6])


def test_weights_rank_and_max():
    a, b = tables()
    np.testing.assert_allclose(ensemble.mix([a, b], "image_id", weights=[3, 1]).p, [0.25, 0.425, 0.75])
    np.testing.assert_allclose(ensemble.mix([a, b], "image_id", method="max").p, [0.7, 0.5, 0.9])
    np.testing.assert_allclose(ensemble.mix([a, b], "image_id", method="rank").p, [0.5, 0.25, 0.75])


def test_mismatched_ids_are_refused():
    a, b = tables()
    with pytest.raises(FoldwiseError, match="same ids"):
        ensemble.mix([a, b.iloc[:2]], "image_id")


def test_max_refuses_weights_in_one_line_naming_both():
    a, b = tables()
    with pytest.raises(FoldwiseError, match=r"^ensemble\.method: max ignores ensemble\.weights \[3, 1\]") as refused:
        ensemble.mix([a, b], "image_id", method="max", weights=[3, 1])
    assert "\n" not in str(refused.value)
    np.testing.assert_allclose(ensemble.mix([a, b], "image_id", method="max", weights=None).p, [0.7, 0.5, 0.9])


MEMBERS = ["a/base", "a/distill", "b/base", "b/distill"]


def test_weights_by_experiment_and_stage_leave_unnamed_members_at_zero():
    assert configs.member_weights({"a": 2, "b": {"distill": 1}}, MEMBERS) == [2, 2, 0, 1]
    assert configs.member_weights({"base": 1, "distill": 3}, ["base", "distill"]) == [1, 3]
    assert configs.member_weights([1, 2, 3, 4], MEMBERS) == [1, 2, 3, 4]
    assert configs.member_weights("fit", MEMBERS) == "fit" and configs.member_weights(None, MEMBERS) is None


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"c": 1}, "names 'c', which is none of the members"),
        ({"a": {"pseudo": 1}}, "names 'a/pseudo'"),
        ([1, 2], "2 value\\(s\\) for the 4 members"),
        ({"a": 0}, "every member .* weight 0"),
    ],
)
def test_weights_that_name_no_member_are_refused_in_one_line(setting, message):
    with pytest.raises(FoldwiseError, match=message) as refused:
        configs.member_weights(setting, MEMBERS)
    assert "\n" not in str(refused.value)


def test_or_labels_a_class_where_any_member_reaches_its_own_threshold():
    rng = np.random.default_rng(0)
    stack = rng.random((3, 200, 4))
    cuts = rng.uniform(0.1, 0.9, (3, 4))
    mixed = ensemble.combine(stack, "or", cuts=cuts)
    np.testing.assert_array_equal(mixed >= 0.5, (stack >= cuts[:, None, :]).any(axis=0))
    assert mixed.min() >= 0 and mixed.max() <= 1


def test_or_refuses_weights():
    with pytest.raises(FoldwiseError, match="method: or ignores ensemble.weights fit"):
        ensemble.blend_oof(np.zeros((2, 4, 1)), np.zeros((4, 1)), np.zeros(4), "or", "fit", "roc_auc")


def informative_members(rng, rows=400, classes=3):
    """Truth, and three members: informative, pure noise, and the informative one with less noise."""
    truth = (rng.random((rows, classes)) < 0.3).astype(float)
    good = truth + rng.normal(0, 0.8, truth.shape)
    better = truth + rng.normal(0, 0.6, truth.shape)
    return truth, np.stack([good, rng.normal(0, 1, truth.shape), better])


def test_hill_climb_leaves_noise_out_and_beats_the_best_member():
    rng = np.random.default_rng(1)
    truth, stack = informative_members(rng)
    weights = ensemble.hill_climb(stack, truth, metrics.mean_column_auc)
    assert weights[1] == 0 and weights[2] > weights[0] and np.isclose(weights.sum(), 1)
    best_single = max(metrics.mean_column_auc(truth, member) for member in stack)
    assert metrics.mean_column_auc(truth, ensemble.combine(stack, "mean", weights)) >= best_single


@pytest.mark.parametrize("method, weights", [("mean", "fit"), ("rank", "fit"), ("or", None)])
def test_a_folds_blend_is_fitted_without_its_labels(method, weights):
    """Relabelling fold 0 after the noise member changes nothing of fold 0's blended rows: weights (or the
    members' thresholds) were fitted on the other folds only. A fit on all rows would see the new labels."""
    rng = np.random.default_rng(2)
    truth, stack = informative_members(rng)
    stack = 1 / (1 + np.exp(-stack))  # probabilities, for the thresholds of or
    folds = np.arange(len(truth)) % 4
    blended, state = ensemble.blend_oof(stack, truth, folds, method, weights, "roc_auc")
    relabelled = truth.copy()
    relabelled[folds == 0] = stack[1][folds == 0] > 0.5
    again, state_again = ensemble.blend_oof(stack, relabelled, folds, method, weights, "roc_auc")
    np.testing.assert_array_equal(blended[folds == 0], again[folds == 0])
    assert not np.array_equal(blended[folds == 1], again[folds == 1])  # the other folds' fits saw it
    if weights == "fit":
        assert state["fold_weights"]["0"] == state_again["fold_weights"]["0"]
        assert state["cv_in_sample"] >= metrics.mean_column_auc(truth, blended) - 0.01
