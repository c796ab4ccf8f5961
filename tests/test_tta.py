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


def test_random_crops_are_seeded_and_inside_the_image():
    from foldwise import predict

    boxes = predict.crop_boxes((40, 50), {"size": [32, 32], "count": 4}, seed=3)
    assert boxes == predict.crop_boxes((40, 50), {"size": [32, 32], "count": 4}, seed=3)
    assert len(set(boxes)) > 1
    assert all(0 <= top <= 8 and 0 <= left <= 18 and (h, w) == (32, 32) for top, left, h, w in boxes)
    assert predict.crop_boxes((40, 50), None) == [(0, 0, 40, 50)]


def test_prediction_is_the_reduction_over_crops_times_transforms():
    import numpy as np

    from foldwise import predict

    class FirstPixel(torch.nn.Module):  # "logits" that depend on the view
        def forward(self, x):
            return torch.stack([x[:, 0, 0, 0], x[:, 0, -1, -1]], dim=1)

    images = np.random.default_rng(0).integers(0, 255, (3, 12, 12, 1), dtype=np.uint8)
    normalize = predict.Normalize([0.0], [1.0])
    crop = {"size": [8, 8], "count": 2}
    got = predict.predict(
        FirstPixel(),
        normalize,
        images,
        np.arange(3),
        "multilabel",
        torch.device("cpu"),
        ["identity", "hflip"],
        "max",
        crop=crop,
        seed=1,
        channels_last=False,
    )
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    views = []
    for top, left, h, w in predict.crop_boxes((12, 12), crop, seed=1):
        for name in ["identity", "hflip"]:
            views.append(torch.sigmoid(FirstPixel()(tta.apply(x[:, :, top : top + h, left : left + w], name))))
    np.testing.assert_allclose(got, torch.stack(views).amax(0).numpy(), rtol=1e-6)
