import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, ensemble


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
