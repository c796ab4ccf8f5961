import math

import pytest
import timm
import torch

from foldwise import FoldwiseError, losses, models


def test_any_channel_count_and_class_count():
    model = models.create("test_resnet", num_classes=7, in_chans=4)
    assert model(torch.zeros(2, 4, 32, 32)).shape == (2, 7)


def test_unknown_model_is_named():
    with pytest.raises(FoldwiseError, match="unknown timm model 'resnet1888'"):
        models.create("resnet1888", num_classes=2)


def test_missing_pretrained_file_is_an_error_not_a_download(tmp_path):
    with pytest.raises(FoldwiseError, match="pretrained weights file not found"):
        models.create("test_resnet", num_classes=2, pretrained=str(tmp_path / "nope.pth"))


def test_local_pretrained_weights_adapt_stem_and_head(tmp_path):
    source = timm.create_model("test_resnet", num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    model = models.create("test_resnet", num_classes=3, in_chans=4, pretrained=str(tmp_path / "weights.pth"))
    stem = next(model.parameters())
    assert stem.shape[1] == 4
    # the body comes from the file
    name = "layer1.0.conv1.weight"
    assert torch.equal(model.state_dict()[name], source.state_dict()[name])


def test_soft_target_cross_entropy_matches_formula():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    target = torch.tensor([[0.7, 0.3, 0.0]])
    expected = -(target * logits.log_softmax(-1)).sum()
    assert torch.allclose(losses.create("soft_ce")(logits, target), expected)
    with pytest.raises(ValueError, match="bce"):
        losses.create("focall")


def test_focal_loss_matches_formula_and_gamma_zero_is_bce():
    logits = torch.tensor([[1.5, -0.5], [0.2, 2.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    expected = (-((1 - p_t) ** 2) * torch.log(p_t)).mean()
    assert torch.allclose(losses.create("focal")(logits, target), expected, atol=1e-6)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert torch.allclose(losses.create("focal", focal_gamma=0.0)(logits, target), bce)


def test_focal_loss_on_soft_targets_matches_a_hand_computation():
    # logit 0 (p 0.5) for target 0.3, logit ln 3 (p 0.75) for target 0.8; gamma 2
    logits, target = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[0.3, 0.8]])
    bce = [math.log(2.0), -(0.8 * math.log(0.75) + 0.2 * math.log(0.25))]
    expected = sum((1 - math.exp(-b)) ** 2 * b for b in bce) / 2  # p_t = exp(-bce), the target's share
    assert losses.create("focal")(logits, target).item() == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.12682, abs=1e-4)


def test_lovasz_hinge_of_a_mixed_case_matches_a_hand_computation():
    # labels 1, 0, 1 with logits 2, 0.5, -1: hinge errors -1, 1.5, 2; sorted 2 (pos), 1.5 (neg), -1 (pos);
    # Jaccard losses after each: 1/2, 2/3, 1, so gradients 1/2, 1/6, 1/3; loss 2/2 + 1.5/6 + 0 = 1.25
    logits, target = torch.tensor([[2.0], [0.5], [-1.0]]), torch.tensor([[1.0], [0.0], [1.0]])
    assert losses.create("lovasz")(logits, target).item() == pytest.approx(1.25)
    # a second class, labels 0, 1, 0 with logits -2, -0.5, 1: the same errors, now sorted neg, pos,
    # neg; Jaccard losses 1/2, 1, 1, gradients 1/2, 1/2, 0: loss 1 + 0.75. Classes are averaged.
    two = torch.cat([logits, -logits], 1), torch.cat([target, 1 - target], 1)
    assert losses.create("lovasz")(*two).item() == pytest.approx((1.25 + 1.75) / 2)


def test_lovasz_hinge_is_zero_when_every_margin_exceeds_one_and_sums_weigh():
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    confident = (target * 2 - 1) * 3.0
    assert losses.create("lovasz")(confident, target).item() == 0.0
    wrong = -confident
    assert losses.create("lovasz")(wrong, target).item() > 1.0
    logits = torch.randn(3, 2)
    combined = losses.create("bce*0.5+lovasz")(logits, target)
    expected = 0.5 * losses.create("bce")(logits, target) + losses.create("lovasz")(logits, target)
    assert torch.allclose(combined, expected)


def test_recipe_heads_on_any_backbone():
    hpa = models.create("test_resnet", num_classes=5, in_chans=4, global_pool="catavgmax", head="hpa", drop_rate=0.5)
    layers = [type(m).__name__ for m in hpa.head.layers]
    assert layers == ["BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert hpa.head.layers[2].in_features == 2 * hpa.backbone.num_features  # concat(avg, max)
    assert hpa.head.layers[2].out_features == 1024
    assert hpa(torch.zeros(2, 4, 32, 32)).shape == (2, 5)
    plant = models.create("test_efficientnet", num_classes=4, head="bn_l2").eval()
    assert plant(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    with pytest.raises(FoldwiseError, match="unknown head"):
        models.create("test_resnet", num_classes=2, head="fancy")
