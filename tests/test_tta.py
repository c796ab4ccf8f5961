import pytest
import torch

from foldwise import tta


def test_every_transform_is_inverted():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    for name in tta.TRANSFORMS:
        assert torch.equal(tta.invert(tta.apply(x, name), name), x), name


def test_the_eight_transforms_are_the_distinct_dihedral_views():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    views = {tuple(tta.apply(x, name).flatten().tolist()) for name in tta.TRANSFORMS}
    assert len(views) == 8
    assert torch.equal(tta.apply(x, "rot90"), torch.rot90(x, 1, (2, 3)))
    assert torch.equal(tta.apply(x, "transpose")[0, 0], x[0, 0].T)


def test_reduce_mean_and_max():
    scores = torch.tensor([[[0.2, 0.8]], [[0.6, 0.4]]])
    assert torch.allclose(tta.reduce(scores, "mean"), torch.tensor([[0.4, 0.6]]))
    assert torch.allclose(tta.reduce(scores, "max"), torch.tensor([[0.6, 0.8]]))


def test_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="hflip"):
        tta.check(["hflipp"], "mean")
