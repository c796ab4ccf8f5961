"""Models by name, over timm: any timm backbone, any channel count, pretrained weights from a local file."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
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


class WithHead(nn.Module):
    """A timm backbone that returns pooled features, followed by one of the recipe heads."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


HEADS = {"linear": None, "hpa": HPAHead, "bn_l2": NormalizedLinearHead}
POOL_WIDTH = {"catavgmax": 2}  # pooled width per backbone feature


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
) -> nn.Module:
    """A timm model with ``num_classes`` outputs and ``in_chans`` input channels.

    Args:
        name: a timm model name, e.g. "resnet18", "seresnext50_32x4d", "test_resnet".
        pretrained: path to a local weights file (.pth/.bin/.safetensors), e.g. the one
            ``weights.fetch`` stored, or None for random init. Never downloads: a missing
            file is an error. A 3-channel stem is adapted to ``in_chans`` and a classifier
            of another size is replaced, both by timm.
        global_pool: timm pooling, e.g. "avg" or "catavgmax" (concat of average and max pool).
        head: "linear" (timm's classifier), "hpa" (HPAHead; use with global_pool "catavgmax")
            or "bn_l2" (NormalizedLinearHead); any backbone.

    >>> create("test_resnet", num_classes=4, in_chans=4)(torch.zeros(1, 4, 32, 32)).shape
    torch.Size([1, 4])
    """
    check_name(name)
    if head not in HEADS:
        raise FoldwiseError(f"train.head: unknown head {head!r}; known: {sorted(HEADS)}")
    kwargs = dict(
        num_classes=num_classes if head == "linear" else 0,
        in_chans=in_chans,
        global_pool=global_pool,
        drop_rate=drop_rate if head == "linear" else 0.0,
    )
    if pretrained:
        if not Path(pretrained).is_file():
            raise FoldwiseError(
                f"{pretrained}: pretrained weights file not found (train.pretrained); foldwise never downloads weights"
            )
        kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(pretrained)))
    backbone = timm.create_model(name, **kwargs)
    if head == "linear":
        return backbone
    width = backbone.num_features * POOL_WIDTH.get(global_pool, 1)
    return WithHead(backbone, HEADS[head](width, num_classes, drop_rate))


def save(path: str | Path, state_dict: dict, meta: dict) -> None:
    """A trained model: its weights and what is needed to rebuild and feed it (name, classes, stats...)."""
    with artifacts.atomic_path(path) as tmp:
        torch.save({"state_dict": state_dict, "meta": meta}, tmp)


def load(path: str | Path, device: torch.device) -> tuple[nn.Module, dict]:
    """(model on ``device`` in eval mode, meta) from a file written by ``save``."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    meta = saved["meta"]
    model = create(
        meta["model"], meta["num_classes"], meta["in_chans"], None, 0.0, meta["global_pool"], meta.get("head", "linear")
    )
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), meta
