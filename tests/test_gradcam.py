"""gradcam: the target layer of timm backbones, heat maps on the evidence, each fold's own model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from foldwise import FoldwiseError, gradcam, models, predict


@pytest.mark.parametrize(
    ("name", "size", "layer"),
    [
        ("test_resnet", (224, 224), "layer4"),
        ("test_resnet", (32, 48), "layer2"),  # layer3 and layer4 would be 2 and 1 cells a side
        ("test_efficientnet", (128, 128), "blocks.4"),
        ("test_convnext", (64, 64), "stages.2"),
    ],
)
def test_target_layer_is_the_deepest_stage_with_a_fine_enough_map(name, size, layer):
    model = models.create(name, num_classes=3)
    assert gradcam.target_layer(model, size) is model.get_submodule(layer)


def test_target_layer_is_found_behind_a_recipe_head():
    model = models.create("test_resnet", num_classes=3, global_pool="catavgmax", head="hpa")
    assert gradcam.target_layer(model, (128, 128)) is model.backbone.layer4


def test_a_model_without_feature_info_is_a_clear_error():
    with pytest.raises(FoldwiseError, match="feature_info"):
        gradcam.target_layer(nn.Sequential(nn.Conv2d(3, 3, 1)), (32, 32))


class Brightness(nn.Module):
    """Class 1 scores how bright the image is, class 0 how dark: the evidence for class 1 is
    where the image is bright, and there is none for class 0 in a bright spot."""

    feature_info = [{"module": "features", "reduction": 1}]

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1, bias=False)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.features.weight.fill_(1 / 3)
            self.fc.weight.copy_(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))

    def forward(self, x):
        return self.fc(self.features(x).relu().mean(dim=(2, 3)))


def test_heatmap_lights_up_the_evidence_of_its_class():
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[0, 20:28, 4:12] = 255
    normalize = predict.Normalize([0.0] * 3, [1.0] * 3)
    bright, dark = gradcam.heatmaps(Brightness(), normalize, np.concatenate([image, image]), [1, 0])
    assert bright.shape == (32, 32) and 0 <= bright.min() and bright.max() <= 1
    inside = np.zeros((32, 32), bool)
    inside[20:28, 4:12] = True
    assert bright[inside].min() > 0.99 and bright[~inside].max() < 0.01
    assert dark.max() == 0  # all its gradients are negative: ReLU leaves nothing


def test_each_sample_is_explained_by_its_own_folds_model(tmp_path):
    paths, fold_models = [], []
    for fold in range(2):
        torch.manual_seed(fold)
        model = models.create("test_resnet", num_classes=3).eval()
        meta = {
            "model": "test_resnet",
            "num_classes": 3,
            "in_chans": 3,
            "global_pool": "avg",
            "head": "linear",
            "mean": [0.5] * 3,
            "std": [0.25] * 3,
        }
        models.save(tmp_path / f"fold{fold}.pt", model.state_dict(), meta)
        paths.append(str(tmp_path / f"fold{fold}.pt"))
        fold_models.append(model)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    samples = pd.DataFrame({"fold": [1, 0, 1], "target": [2, 0, 1]})
    maps = gradcam.explain(samples, pixels, paths)
    normalize = predict.Normalize([0.5] * 3, [0.25] * 3)
    for i, (fold, target) in enumerate(zip(samples.fold, samples.target)):
        own = gradcam.heatmaps(fold_models[fold], normalize, pixels[[i]], [target])[0]
        other = gradcam.heatmaps(fold_models[1 - fold], normalize, pixels[[i]], [target])[0]
        np.testing.assert_allclose(maps[i], own, atol=1e-5)
        assert np.abs(maps[i] - other).max() > 0.05


def test_error_cells_pair_each_image_with_its_heatmap():
    worst = pd.DataFrame(
        {"id": ["s1"], "fold": [2], "target": [1], "confidence": [0.9], "truth": ["a"], "predicted": ["b"]}
    )
    pixels = np.full((1, 8, 8, 3), 128, np.uint8)
    maps = np.zeros((1, 8, 8), np.float32)
    maps[0, :4] = 1.0
    (image, caption), (heat, heat_caption) = gradcam.error_cells(worst, pixels, maps, ["r", "g", "b"], ["a", "b"])
    assert (image == 128).all() and caption == "fold 2 s1\ntrue: a"
    assert heat_caption == "predicted: b\nGrad-CAM b (0.90)"
    assert not np.array_equal(heat[0, 0], heat[7, 7])  # hot top, cold bottom
