import numpy as np
import pytest
from sklearn.metrics import f1_score

from foldwise import thresholds


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
