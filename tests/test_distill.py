import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, distill


def test_soft_labels_join_on_id_not_on_row_position():
    hard = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 0.0, 0.0], "y": [0.0, 1.0, 1.0]})
    oof = pd.DataFrame({"id": ["c", "a", "b"], "x": [0.5, 0.9, 0.2], "y": [0.5, 0.1, 0.8]})
    out = distill.soft_labels(hard, oof.sample(frac=1, random_state=1), alpha=0.7)
    assert out.id.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(out.x, [0.7 + 0.3 * 0.9, 0.3 * 0.2, 0.3 * 0.5])
    np.testing.assert_allclose(out.y, [0.3 * 0.1, 0.7 + 0.3 * 0.8, 0.7 + 0.3 * 0.5])


def test_missing_oof_row_is_an_error():
    hard = pd.DataFrame({"id": ["a", "b"], "x": [1.0, 0.0]})
    with pytest.raises(FoldwiseError, match="no out-of-fold prediction"):
        distill.soft_labels(hard, pd.DataFrame({"id": ["a"], "x": [0.5]}), alpha=0.7)


def test_distilled_and_mixed_cv_say_they_are_optimistic():
    assert distill.cv_caveat("base") == {"biased": False}
    for stage in ("distill", "mix"):
        caveat = distill.cv_caveat(stage)
        assert caveat["biased"] and "optimistic" in caveat["note"]


def test_nested_teachers_never_see_the_left_out_fold():
    folds = pd.DataFrame({"id": list("abcdef"), "fold": [0, 1, 2, 0, 1, 2]})
    assert distill.teacher_folds(folds, "base") is folds
    assert distill.teacher_folds(folds, "nested1").id.tolist() == ["a", "c", "d", "f"]
    assert distill.cv_caveat("distill", teachers="nested") == {"biased": False}
