"""The identity recipe (Happywhale 2022): embedding heads (GeM, linear + BN, DOLG) and ArcFace."""

import math

import pytest
import timm
import torch
from torch import nn

from foldwise import FoldwiseError, losses, models

torch.set_num_threads(1)  # tiny models: threads cost more than they give


def embedder(neck="linear_bn", in_chans=3, name="test_resnet", **kwargs):
    dolg = {"local_dim": 16} if neck == "dolg" else None
    return models.create(
        name, 0, in_chans, head="embedding", embedding_size=8, neck=neck, dolg=dolg, global_pool="gem", **kwargs
    )


@pytest.mark.parametrize("name", ["test_resnet", "test_efficientnet"])
@pytest.mark.parametrize("neck", ["linear_bn", "dolg"])
@pytest.mark.parametrize("in_chans", [3, 4])
def test_embedding_head_gives_one_embedding_per_image(name, neck, in_chans):
    model = embedder(neck, in_chans, name)
    assert model(torch.rand(2, in_chans, 64, 64)).shape == (2, 8)
    assert next(model.parameters()).shape[1] == in_chans  # the stem takes every channel


def test_linear_bn_neck_and_pools():
    model = embedder("linear_bn", drop_rate=0.3)
    layers = [type(m).__name__ for m in model.head.layers]
    assert layers == ["Dropout", "Linear", "BatchNorm1d"]
    assert model.head.layers[0].p == 0.3 and model.head.layers[1].in_features == model.backbone.num_features
    assert isinstance(model.pool, models.GeM)
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    before = model(x)
    with torch.no_grad():
        model.pool.p.fill_(1.0)
    assert not torch.allclose(model(x), before)  # the embedding pools with GeM, p and all
    # timm's own pools still work, catavgmax doubling the neck's input
    catavgmax = models.create("test_resnet", 0, head="embedding", embedding_size=8, global_pool="catavgmax")
    assert catavgmax.head.layers[1].in_features == 2 * catavgmax.backbone.num_features
    assert catavgmax(torch.rand(2, 3, 64, 64)).shape == (2, 8)
    # GeM under a classifier head too
    classifier = models.create("test_resnet", num_classes=5, global_pool="gem")
    assert classifier(torch.rand(2, 3, 64, 64)).shape == (2, 5)
    with pytest.raises(FoldwiseError, match="unknown neck 'dolgg'"):
        models.create("test_resnet", 0, head="embedding", neck="dolgg")
    with pytest.raises(FoldwiseError, match=r"unknown settings \['local_dims'\]"):
        models.create("test_resnet", 0, head="embedding", neck="dolg", dolg={"local_dims": 8})


def test_gem_is_average_pooling_at_p_one_and_tends_to_max_pooling():
    x = torch.rand(2, 3, 5, 4) + 0.1
    gem = models.GeM()
    assert gem.p.item() == 3.0 and gem.p.requires_grad  # learnt, from the usual start
    with torch.no_grad():
        gem.p.fill_(1.0)
    assert torch.allclose(gem(x), x.mean((-2, -1)), atol=1e-6)
    with torch.no_grad():
        gem.p.fill_(3.0)
    assert torch.allclose(gem(x), x.pow(3).mean((-2, -1)).pow(1 / 3), atol=1e-6)
    with torch.no_grad():
        gem.p.fill_(200.0)
    peak = x.amax((-2, -1))
    assert torch.all(gem(x) <= peak + 1e-6)
    assert torch.allclose(gem(x), peak, rtol=0.02)  # 20 locations: mean^(1/p) >= peak * 20^(-1/200)


def test_orthogonal_fusion_keeps_only_the_part_of_local_features_orthogonal_to_global():
    # local = 2 * g + u with u orthogonal to g at one location: the fused local part is u, not 2g + u
    g = torch.tensor([[3.0, 4.0, 0.0]])
    u = torch.tensor([[4.0, -3.0, 5.0]])
    local = (2 * g + u)[:, :, None, None]
    fused = models.orthogonal_fusion(local, g)
    assert fused.shape == (1, 6, 1, 1)
    assert torch.allclose(fused[0, :3, 0, 0], u[0], atol=1e-5)  # a projection divided by |g|, not |g|^2, fails
    assert torch.equal(fused[0, 3:, 0, 0], g[0])
    # random maps: every location's local part is orthogonal to the global vector
    local, g = torch.randn(2, 5, 3, 4), torch.randn(2, 5)
    orth = models.orthogonal_fusion(local, g)[:, :5]
    cosines = torch.einsum("bdhw,bd->bhw", orth, g) / (orth.norm(dim=1) * g.norm(dim=1)[:, None, None])
    assert cosines.abs().max() < 1e-5


def test_dolg_fuses_attended_local_features_orthogonal_to_its_global_descriptor():
    model = embedder("dolg").eval()
    assert [type(m).__name__ for m in model.local] == ["MultiAtrous", "Conv2d", "ReLU", "SpatialAttention"]
    assert [c.dilation for c in model.local[0].dilated] == [(3, 3), (6, 6), (9, 9)]
    assert model.backbone.feature_info.out_indices == (-2, -1)  # the last two stages
    seen = {}
    model.fusion.register_forward_hook(lambda module, args, out: seen.update(local=args[0], g=args[1], fused=out))
    out = model(torch.rand(2, 3, 64, 64))
    local, g, fused = seen["local"], seen["g"], seen["fused"]
    assert torch.allclose(out, model.neck(fused.mean((-2, -1))), atol=1e-6)  # the embedding is of the fused map
    assert g.shape == (2, 16) and local.shape[:2] == (2, 16) and fused.shape[1] == 32
    dots = torch.einsum("bdhw,bd->bhw", fused[:, :16], g)
    scale = fused[:, :16].norm(dim=1) * g.norm(dim=1)[:, None, None]
    assert (dots / scale).abs().max() < 1e-4
    assert torch.allclose(fused[:, 16:], g[:, :, None, None].expand_as(local))
    # the attended local features: unit vectors scaled by the (softplus, positive) attention map
    attention = model.local[-1]
    features = torch.randn(2, 16, 3, 3)
    score = attention.score(attention.features(features))
    assert score.shape == (2, 1, 3, 3) and torch.all(score > 0)
    assert torch.allclose(attention(features).norm(dim=1), score[:, 0], atol=1e-5)


def test_arcface_matches_a_hand_computation_with_the_margin_in_radians():
    criterion = losses.create("arcface", num_classes=2, embedding_size=2, margin=0.5, scale=30.0)
    assert criterion.margin == pytest.approx(0.5)  # radians in, pml stores radians after its own conversion
    with torch.no_grad():
        criterion.W.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))  # class 0 along x, class 1 along y (norms ignored)
    theta = 0.3  # the embedding's angle from class 0; pi/2 - theta from class 1
    embeddings = 5.0 * torch.tensor([[math.cos(theta), math.sin(theta)]] * 2)  # norms ignored too
    target = torch.tensor([0, 1])
    # target 0: logits s*cos(theta + m), s*cos(pi/2 - theta); target 1: s*cos(theta), s*cos(pi/2 - theta + m)
    first = torch.tensor([30 * math.cos(theta + 0.5), 30 * math.sin(theta)])
    second = torch.tensor([30 * math.cos(theta), 30 * math.cos(math.pi / 2 - theta + 0.5)])
    expected = (-first.log_softmax(0)[0] - second.log_softmax(0)[1]) / 2
    assert criterion(embeddings, target).item() == pytest.approx(expected.item(), rel=1e-5)
    # float class indices are indices too
    assert criterion(embeddings, target.float()).item() == pytest.approx(expected.item(), rel=1e-5)


def test_arcface_keeps_its_class_centres_float32_and_refuses_what_it_cannot_use():
    criterion = losses.create("arcface", num_classes=3, embedding_size=4)
    criterion(torch.randn(2, 4, dtype=torch.bfloat16), torch.tensor([0, 2]))
    assert criterion.W.dtype == torch.float32  # pml would have cast W to bfloat16
    assert list(criterion.state_dict()) == ["W"] and criterion.W.shape == (4, 3)
    with pytest.raises(ValueError, match=r"class indices of shape \(B,\)"):
        criterion(torch.randn(2, 4), torch.eye(3)[:2])  # one-hot rows are not indices
    with pytest.raises(FoldwiseError, match="needs num_classes and embedding_size"):
        losses.create("arcface")
    with pytest.raises(ValueError, match="cannot be summed or weighted"):
        losses.create("arcface+bce", num_classes=3, embedding_size=4)
    assert isinstance(losses.create("focal", 2.0, 3, None), losses.FocalLoss)  # the trainer passes them always


def test_identity_task_defaults_to_arcface_and_refuses_classification_losses():
    assert losses.for_task("auto", "identity") == "arcface"
    assert losses.for_task("arcface", "identity") == "arcface"
    with pytest.raises(FoldwiseError, match=r"arcface is an identity loss but the dataset is multiclass"):
        losses.for_task("arcface", "multiclass")
    with pytest.raises(FoldwiseError, match=r"bce is a multilabel loss but the dataset is identity; .*\['arcface'\]"):
        losses.for_task("bce", "identity")


def test_sub_center_arcface_scores_each_class_by_its_closest_sub_centre():
    criterion = losses.create("arcface", num_classes=2, embedding_size=2, sub_centers=2)
    assert criterion.W.shape == (2, 4)
    angles = torch.tensor([0.0, math.pi / 2, math.pi, 1.2])  # columns c * K + k: class 0 at 0, pi/2; class 1 at pi, 1.2
    with torch.no_grad():
        criterion.W.copy_(torch.stack([angles.cos(), angles.sin()]))
    phi = torch.tensor([0.3, 1.5])  # embedding angles
    embeddings = torch.stack([phi.cos(), phi.sin()], 1)
    cosines = (phi[:, None] - angles[None]).cos()  # (2, 4)
    expected = torch.stack([cosines[:, :2].amax(1), cosines[:, 2:].amax(1)], 1)
    assert torch.allclose(losses.class_scores(criterion, embeddings), expected, atol=1e-6)
    assert torch.allclose(losses.class_scores(criterion, embeddings), criterion.get_cosine(embeddings), atol=1e-6)
    # the loss is ArcFace on those max cosines: the first embedding, target 1 (closest sub-centre at 1.2)
    theta = 1.2 - 0.3
    logits = torch.tensor([30 * expected[0, 0].item(), 30 * math.cos(theta + 0.5)])
    assert criterion(embeddings[:1], torch.tensor([1])).item() == pytest.approx(-logits.log_softmax(0)[1].item())
    # plain ArcFace: one centre per class, the cosine itself
    plain = losses.create("arcface", num_classes=3, embedding_size=4)
    e = torch.randn(5, 4)
    direct = nn.functional.normalize(e, dim=1) @ nn.functional.normalize(plain.W, dim=0)
    assert torch.allclose(losses.class_scores(plain, e), direct, atol=1e-6)


@pytest.mark.parametrize("neck", ["linear_bn", "dolg"])
def test_saved_embedding_model_loads_to_the_same_embeddings(tmp_path, neck):
    model = embedder(neck)
    model(torch.rand(4, 3, 64, 64))  # a train-mode pass moves the BN running statistics
    gem = model.pool if neck == "linear_bn" else model.global_pool
    with torch.no_grad():
        gem.p.fill_(2.5)  # GeM's p is saved with the weights
    meta = {"model": "test_resnet", "num_classes": 7, "in_chans": 3, "global_pool": "gem", "head": "embedding"}
    meta |= {"embedding_size": 8, "neck": neck, "dolg": {"local_dim": 16} if neck == "dolg" else None}
    models.save(tmp_path / "model.pt", model.state_dict(), meta)
    loaded, read = models.load(tmp_path / "model.pt", torch.device("cpu"))
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(loaded(x), model.eval()(x), atol=1e-6)
    assert read == meta


def test_files_without_the_embedding_keys_still_load(tmp_path):
    model = models.create("test_resnet", num_classes=3, global_pool="catavgmax", head="hpa")
    assert not any(key.startswith("pool.") for key in model.state_dict())  # the same keys as before GeM
    meta = {"model": "test_resnet", "num_classes": 3, "in_chans": 3, "global_pool": "catavgmax", "head": "hpa"}
    models.save(tmp_path / "model.pt", model.state_dict(), meta)
    loaded, _ = models.load(tmp_path / "model.pt", torch.device("cpu"))
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(loaded(x), model.eval()(x))


def test_dolg_backbone_reads_local_pretrained_weights_and_adapts_the_stem(tmp_path):
    source = timm.create_model("test_resnet", num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    model = models.create(
        "test_resnet", 0, 4, str(tmp_path / "weights.pth"), head="embedding", neck="dolg", dolg={"local_dim": 16}
    )
    assert next(model.parameters()).shape[1] == 4
    name = "layer3.0.conv1.weight"
    assert torch.equal(model.backbone.state_dict()[name], source.state_dict()[name])
    with pytest.raises(FoldwiseError, match="pretrained weights file not found"):
        models.create("test_resnet", 0, pretrained=str(tmp_path / "nope.pth"), head="embedding", neck="dolg")


def test_a_few_steps_on_a_separable_problem_lower_the_arcface_loss():
    torch.manual_seed(0)
    model = embedder("linear_bn")
    criterion = losses.create("arcface", num_classes=2, embedding_size=8)
    optimizer = torch.optim.Adam(nn.ModuleList([model, criterion]).parameters(), lr=3e-3)
    # dark images are class 0, bright ones class 1
    x = torch.cat([torch.rand(4, 3, 64, 64) * 0.3, 0.7 + torch.rand(4, 3, 64, 64) * 0.3])
    y = torch.tensor([0] * 4 + [1] * 4)
    centres = criterion.W.detach().clone()
    history = []
    for _ in range(8):
        loss = criterion(model(x).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.5 * history[0]
    assert not torch.equal(criterion.W, centres)  # the class centres learnt with the model
