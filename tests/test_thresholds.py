import numpy as np
import pytest
from sklearn.metrics import f1_score

from foldwise import metrics, thresholds


def test_fitted_thresholds_maximise_each_class_f1():
    rng = np.random.default_rng(0)
    truth = (rng.random((300, 3)) < [0.5, 0.2, 0.05]).astype(int)
    scores = np.clip(truth * 0.35 + rng.random((300, 3)) * 0.65, 0, 1)
    fitted = thresholds.fit_f1(truth, scores)
    for c in range(3):
        best = max(f1_score(truth[:, c], scores[:, c] >= t, zero_division=0) for t in thresholds.GRID)
        assert f1_score(truth[:, c], scores[:, c] >= fitted[c], zero_division=0) == pytest.approx(best)
    flat = f1_score(truth, scores >= 0.5, average="macro", zero_division=0)
    assert f1_score(truth, scores >= fitted, average="macro", zero_division=0) > flat


def test_match_rates_hits_the_rates():
    scores = np.random.default_rng(1).random((1000, 2))
    t = thresholds.match_rates(scores, [0.1, 0.5])
    np.testing.assert_allclose((scores >= t).mean(axis=0), [0.1, 0.5], atol=0.002)


def test_every_sample_gets_a_label_and_hpa_format():
    scores = np.array([[0.9, 0.1, 0.8], [0.2, 0.3, 0.1]])
    decisions = thresholds.decide(scores, np.array([0.5, 0.5, 0.5]))
    assert decisions.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert thresholds.as_indices(decisions) == ["0 2", "1"]


def test_choose_by_method():
    from foldwise import FoldwiseError

    rng = np.random.default_rng(2)
    truth = (rng.random((200, 2)) < [0.3, 0.1]).astype(int)
    oof, test = rng.random((200, 2)), rng.random((500, 2))
    np.testing.assert_array_equal(thresholds.choose("f1", truth, oof, test), thresholds.fit_f1(truth, oof))
    by_rate = thresholds.choose("rates", truth, oof, test)
    np.testing.assert_allclose((test >= by_rate).mean(axis=0), truth.mean(axis=0), atol=0.005)
    with pytest.raises(FoldwiseError, match="3 value"):
        thresholds.choose("rates", truth, oof, test, rates=[0.1, 0.2, 0.3])


def test_out_of_fold_f1_scores_each_fold_with_thresholds_it_did_not_fit():
    rng = np.random.default_rng(4)
    n, classes = 120, 6
    truth = rng.random((n, classes)) < 0.2
    noise = rng.random((n, classes))  # scores that carry no information about the labels
    folds = np.arange(n) % 4
    in_sample = metrics.macro_f1(truth, thresholds.decide(noise, thresholds.fit_f1(truth, noise)))
    held_out = thresholds.out_of_fold_f1("f1", truth, noise, folds)
    # fitted on its own rows, noise looks informative; scored out of fold it does not
    assert in_sample > held_out + 0.05

    expected = np.zeros_like(truth, dtype=np.int8)
    for fold in range(4):
        held = folds == fold
        expected[held] = thresholds.decide(noise[held], thresholds.fit_f1(truth[~held], noise[~held]))
    assert held_out == metrics.macro_f1(truth, expected)


def test_out_of_fold_rates_use_the_other_folds_label_rates():
    rng = np.random.default_rng(5)
    truth = rng.random((100, 3)) < [0.1, 0.3, 0.5]
    scores = np.clip(truth + rng.normal(0, 0.6, truth.shape), 0, 1)
    folds = np.arange(100) % 5
    expected = np.zeros_like(truth, dtype=np.int8)
    for fold in range(5):
        held = folds == fold
        fitted = thresholds.match_rates(scores[held], truth[~held].mean(axis=0))
        expected[held] = thresholds.decide(scores[held], fitted)
    assert thresholds.out_of_fold_f1("rates", truth, scores, folds) == metrics.macro_f1(truth, expected)
