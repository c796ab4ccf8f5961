"""Models by name, over timm: any timm backbone, any channel count, pretrained weights from a local file.

Classifier heads return (B, num_classes) logits; the "embedding" head (GeM or timm pooling and a
linear + BN neck, or DOLG) returns (B, embedding_size) embeddings for ArcFace and retrieval.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from foldwise import FoldwiseError, artifacts


class HPAHead(nn.Module):
    """HPA 2018 1st place: BN, dropout, linear 1024, ReLU, BN, dropout, linear (after concat(avg, max) pooling)."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.5, hidden: int = 1024):
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm1d(in_features),
            nn.Dropout(drop_rate),
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(drop_rate),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class NormalizedLinearHead(nn.Module):
    """Plant Pathology 2020 1st place: BN, L2-normalised features, linear."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.normalize(self.norm(features), dim=1))


class GeM(nn.Module):
    """Generalised mean pooling (Radenovic et al. 2018): (mean of x^p over space)^(1/p), p learnt.

    p=1 is average pooling; p -> infinity tends to max pooling. timm 1.0 has no GeM layer.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) feature map -> (B, C)."""
        if x.ndim != 4:
            raise FoldwiseError(f"GeM pools (B, C, H, W) feature maps; got shape {tuple(x.shape)}")
        return x.clamp(min=self.eps).pow(self.p).mean((-2, -1)).pow(1.0 / self.p)


class LinearBNNeck(nn.Module):
    """Pooled features to an embedding: dropout, linear, BatchNorm1d (Happywhale 2022 recipes)."""

    def __init__(self, in_features: int, embedding_size: int, drop_rate: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Dropout(drop_rate), nn.Linear(in_features, embedding_size), nn.BatchNorm1d(embedding_size)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class MultiAtrous(nn.Module):
    """DOLG's multi-atrous block: 3x3 convs at several dilations and a global-average branch, concatenated."""

    def __init__(self, in_chans: int, branch_chans: int, dilations: tuple[int, ...]):
        super().__init__()
        self.dilated = nn.ModuleList(nn.Conv2d(in_chans, branch_chans, 3, padding=d, dilation=d) for d in dilations)
        self.image_level = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_chans, branch_chans, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, H, W) -> (B, branch_chans * (len(dilations) + 1), H, W)."""
        image_level = self.image_level(x).expand(-1, -1, *x.shape[-2:])
        return torch.cat([conv(x) for conv in self.dilated] + [image_level], 1)


class SpatialAttention(nn.Module):
    """DOLG's local attention: conv-BN features, L2-normalised over channels, weighted per location
    by an attention map from ReLU, 1x1 conv to one channel, softplus."""

    def __init__(self, chans: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(chans, chans, 1, bias=False), nn.BatchNorm2d(chans))
        self.score = nn.Sequential(nn.ReLU(), nn.Conv2d(chans, 1, 1), nn.Softplus())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        return F.normalize(features, dim=1) * self.score(features)


def orthogonal_fusion(local: torch.Tensor, global_: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """DOLG fusion: each local vector minus its projection on the global vector, then the global vector.

    Args:
        local: (B, D, H, W) local features.
        global_: (B, D) global descriptor.

    Returns:
        (B, 2D, H, W): channels [:D] are orthogonal to ``global_`` at every location, [D:] repeat it.
    """
    dots = torch.einsum("bdhw,bd->bhw", local, global_)  # (B, H, W): each location's f_l . f_g
    norm2 = global_.pow(2).sum(1).clamp(min=eps)  # |f_g|^2: the projection divides by the squared norm
    projection = (dots / norm2[:, None, None])[:, None] * global_[:, :, None, None]
    return torch.cat([local - projection, global_[:, :, None, None].expand_as(local)], 1)


class OrthogonalFusion(nn.Module):
    """``orthogonal_fusion`` as a module, so a forward hook can read the fused map."""

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        return orthogonal_fusion(local, global_)


DOLG_DEFAULTS = {"local_dim": 512, "dilations": (3, 6, 9)}


class DOLG(nn.Module):
    """Deep Orthogonal Local and Global features (Yang et al. 2021, arXiv 2108.02927) to an embedding.

    The backbone gives its last two stages (timm ``features_only``). Local branch on the second-to-last:
    MultiAtrous (each branch ``local_dim`` wide), 1x1 conv to ``local_dim``, ReLU, SpatialAttention.
    Global branch: GeM of the last stage, linear to ``local_dim``. Orthogonal fusion, average pooling
    (B, 2 * local_dim), then the linear + BN neck to ``embedding_size``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        embedding_size: int,
        drop_rate: float = 0.0,
        local_dim: int = 512,
        dilations: tuple[int, ...] = (3, 6, 9),
    ):
        super().__init__()
        local_chans, global_chans = backbone.feature_info.channels()
        self.backbone = backbone
        self.local = nn.Sequential(
            MultiAtrous(local_chans, local_dim, tuple(dilations)),
            nn.Conv2d(local_dim * (len(dilations) + 1), local_dim, 1),
            nn.ReLU(),
            SpatialAttention(local_dim),
        )
        self.global_pool = GeM()
        self.global_fc = nn.Linear(global_chans, local_dim)
        self.fusion = OrthogonalFusion()
        self.neck = LinearBNNeck(2 * local_dim, embedding_size, drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, embedding_size) unnormalised embeddings."""
        local, last = self.backbone(x)
        fused = self.fusion(self.local(local), self.global_fc(self.global_pool(last)))
        return self.neck(fused.mean((-2, -1)))


class WithHead(nn.Module):
    """A timm backbone, optionally a pooling of its feature map (GeM), then one of the recipe heads."""

    def __init__(self, backbone: nn.Module, head: nn.Module, pool: nn.Module | None = None):
        super().__init__()
        self.backbone, self.head = backbone, head
        self.pool = nn.Identity() if pool is None else pool  # Identity has no state: older files still load

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.backbone(x)))


def linear_head(in_features: int, num_classes: int, drop_rate: float = 0.0) -> nn.Module:
    """timm's classifier (dropout, linear), for a pooling timm lacks (GeM)."""
    return nn.Sequential(nn.Dropout(drop_rate), nn.Linear(in_features, num_classes))


HEADS = {"linear": None, "hpa": HPAHead, "bn_l2": NormalizedLinearHead, "embedding": None}
NECKS = ("linear_bn", "dolg")
POOL_WIDTH = {"catavgmax": 2}  # pooled width per backbone feature
OWN_POOLS = {"gem": GeM}  # poolings foldwise adds to timm's (avg, max, avgmax, catavgmax)


def check_name(name: str) -> None:
    """Raise a FoldwiseError naming similar models when timm has no model ``name``."""
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('.')[0][:6]}*")[:8]
        raise FoldwiseError(f"unknown timm model {name!r}" + (f"; similar: {close}" if close else ""))


def create(
    name: str,
    num_classes: int,
    in_chans: int = 3,
    pretrained: str | None = None,
    drop_rate: float = 0.0,
    global_pool: str = "avg",
    head: str = "linear",
    embedding_size: int = 512,
    neck: str = "linear_bn",
    dolg: dict | None = None,
    drop_path_rate: float = 0.0,
) -> nn.Module:
    """A timm model with ``num_classes`` outputs (or an embedding) and ``in_chans`` input channels.

    Args:
        name: a timm model name, e.g. "resnet18", "seresnext50_32x4d", "test_resnet".
        pretrained: path to a local weights file (.pth/.bin/.safetensors), e.g. the one
            ``weights.fetch`` stored, or None for random init. Never downloads: a missing
            file is an error. A 3-channel stem is adapted to ``in_chans`` and a classifier
            of another size is replaced, both by timm.
        global_pool: timm pooling, e.g. "avg" or "catavgmax" (concat of average and max pool),
            or "gem" (GeM with a learnt p), for any head.
        head: "linear" (timm's classifier), "hpa" (HPAHead; use with global_pool "catavgmax"),
            "bn_l2" (NormalizedLinearHead) or "embedding"; any backbone.
        embedding_size, neck, dolg: head "embedding" only (ignored otherwise). The model returns
            (B, embedding_size) unnormalised embeddings and ``num_classes`` is unused: the class
            weights live in the loss (``losses.create("arcface", ...)``). ``neck`` "linear_bn"
            pools with ``global_pool``, then LinearBNNeck; "dolg" is DOLG on the backbone's last
            two stages, its global branch always GeM, ``global_pool`` unused, settings in ``dolg``
            (keys of DOLG_DEFAULTS: local_dim, dilations; missing ones take the defaults).
        drop_path_rate: stochastic depth of the backbone (timm's), when over 0; a backbone without
            it is an error.

    >>> create("test_resnet", num_classes=4, in_chans=4).eval()(torch.zeros(1, 4, 32, 32)).shape
    torch.Size([1, 4])
    >>> create("test_resnet", 0, head="embedding", embedding_size=8, global_pool="gem").eval()(
    ...     torch.zeros(1, 3, 64, 64)
    ... ).shape
    torch.Size([1, 8])
    """
    check_name(name)
    if head not in HEADS:
        raise FoldwiseError(f"train.head: unknown head {head!r}; known: {sorted(HEADS)}")
    if head == "embedding" and neck not in NECKS:
        raise FoldwiseError(f"train.embedding.neck: unknown neck {neck!r}; known: {list(NECKS)}")
    own_pool = OWN_POOLS.get(global_pool)
    timm_head = head == "linear" and own_pool is None  # timm builds pooling and classifier itself
    kwargs = dict(in_chans=in_chans)
    if drop_path_rate:
        kwargs["drop_path_rate"] = drop_path_rate
    if pretrained:
        if not Path(pretrained).is_file():
            raise FoldwiseError(
                f"{pretrained}: pretrained weights file not found (train.pretrained); foldwise never downloads weights"
            )
        kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(pretrained)))
    try:
        if head == "embedding" and neck == "dolg":
            settings = dolg_settings(dolg)
            backbone = timm.create_model(name, features_only=True, out_indices=(-2, -1), **kwargs)
            return DOLG(backbone, embedding_size, drop_rate, **settings)
        backbone = timm.create_model(
            name,
            num_classes=num_classes if timm_head else 0,
            global_pool="" if own_pool else global_pool,  # "": the feature map, for our own pooling
            drop_rate=drop_rate if timm_head else 0.0,
            **kwargs,
        )
    except TypeError as error:
        if "drop_path_rate" not in str(error):
            raise
        raise FoldwiseError(f"train.drop_path_rate: timm model {name} has no stochastic depth; set it to 0") from None
    if timm_head:
        return backbone
    width = backbone.num_features * POOL_WIDTH.get(global_pool, 1)
    if head == "embedding":
        top = LinearBNNeck(width, embedding_size, drop_rate)
    else:
        top = (HEADS[head] or linear_head)(width, num_classes, drop_rate)
    return WithHead(backbone, top, own_pool() if own_pool else None)


def dolg_settings(dolg: dict | None) -> dict:
    """DOLG_DEFAULTS updated by ``dolg``; an unknown key is an error, not ignored."""
    unknown = sorted(set(dolg or {}) - set(DOLG_DEFAULTS))
    if unknown:
        raise FoldwiseError(f"train.embedding.dolg: unknown settings {unknown}; known: {sorted(DOLG_DEFAULTS)}")
    settings = {**DOLG_DEFAULTS, **(dolg or {})}
    return {"local_dim": int(settings["local_dim"]), "dilations": tuple(int(d) for d in settings["dilations"])}


def save(path: str | Path, state_dict: dict, meta: dict) -> None:
    """A trained model: its weights and what is needed to rebuild and feed it (name, classes, stats...).

    ``load`` reads "model", "num_classes", "in_chans", "global_pool", "head" and, for head
    "embedding", "embedding_size", "neck" and "dolg" (the arguments of ``create``).
    """
    with artifacts.atomic_path(path) as tmp:
        torch.save({"state_dict": state_dict, "meta": meta}, tmp)


def load(path: str | Path, device: torch.device) -> tuple[nn.Module, dict]:
    """(model on ``device`` in eval mode, meta) from a file written by ``save``."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    meta = saved["meta"]
    model = create(
        meta["model"],
        meta["num_classes"],
        meta["in_chans"],
        None,
        0.0,
        meta["global_pool"],
        meta.get("head", "linear"),
        # embedding heads only; files written before them lack these keys
        embedding_size=meta.get("embedding_size", 512),
        neck=meta.get("neck", "linear_bn"),
        dolg=meta.get("dolg"),
    )
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), meta
