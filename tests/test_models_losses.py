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
