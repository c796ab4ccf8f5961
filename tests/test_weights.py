import pytest
import safetensors.torch
import timm
import torch

from foldwise import FoldwiseError, models, weights


def hub_cache(root, model: str, state_dict: dict) -> None:
    """A Hugging Face hub cache holding ``state_dict`` as timm ``model``'s default weights, laid out
    as hf_hub_download leaves a download (refs/main -> snapshots/<commit>/model.safetensors)."""
    repo = root / ("models--" + timm.get_pretrained_cfg(model).hf_hub_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "snapshots" / commit).mkdir(parents=True)
    safetensors.torch.save_file(state_dict, repo / "snapshots" / commit / "model.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_fetch_stores_the_hub_weights_and_training_loads_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub's cache only, even where there is a network
    torch.manual_seed(1)
    published = timm.create_model("test_resnet").state_dict()
    hub_cache(tmp_path / "hub", "test_resnet", published)
    stored = tmp_path / "resources/weights/test_resnet.safetensors"

    weights.fetch("test_resnet", stored, cache_dir=tmp_path / "hub")

    assert safetensors.torch.load_file(stored).keys() == published.keys()
    assert all(torch.equal(tensor, published[name]) for name, tensor in safetensors.torch.load_file(stored).items())
    torch.manual_seed(2)  # another random init, which the file must override
    model = models.create("test_resnet", num_classes=3, in_chans=4, pretrained=str(stored))
    body = {name: tensor for name, tensor in model.state_dict().items() if not name.startswith(("conv1", "fc"))}
    assert body and all(torch.equal(tensor, published[name]) for name, tensor in body.items())


@pytest.mark.parametrize("why", ["HF_HUB_OFFLINE", "hub does not answer"])
def test_offline_without_the_file_is_one_line_naming_where_to_place_it(tmp_path, monkeypatch, why):
    if why == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(weights.hub_constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    stored = tmp_path / "resources/weights/test_resnet.safetensors"
    with pytest.raises(FoldwiseError) as error:
        weights.fetch("test_resnet", stored, cache_dir=tmp_path / "empty-hub")
    message = str(error.value)
    assert "\n" not in message and "offline" in message and f"place them at {stored}" in message
    assert not stored.parent.exists() or not any(stored.parent.iterdir())


def test_unknown_model_is_named_before_any_download(tmp_path):
    with pytest.raises(FoldwiseError, match="unknown timm model 'resnet1888'"):
        weights.fetch("resnet1888", tmp_path / "resnet1888.safetensors")
