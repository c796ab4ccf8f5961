"""Models by name, over timm: any timm backbone, any channel count, local pretrained weights."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

from foldwise import FoldwiseError, artifacts


def create(name: str, num_classes: int, in_chans: int = 3, pretrained: str | None = None,
           drop_rate: float = 0.0, global_pool: str = "avg") -> nn.Module:
    """A timm model with ``num_classes`` outputs and ``in_chans`` input channels.

    Args:
        name: a timm model name, e.g. "resnet18", "seresnext50_32x4d", "test_resnet".
        pretrained: path to a local weights file (.pth/.bin/.safetensors) or None for random
            init. Never downloads: a missing file is an error. A 3-channel stem is adapted to
            ``in_chans`` and a classifier of another size is replaced, both by timm.
        global_pool: timm pooling, e.g. "avg" or "catavgmax" (concat of average and max pool).

    >>> create("test_resnet", num_classes=4, in_chans=4)(torch.zeros(1, 4, 32, 32)).shape
    torch.Size([1, 4])
    """
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('.')[0][:6]}*")[:8]
        raise FoldwiseError(f"unknown timm model {name!r}" + (f"; similar: {close}" if close else ""))
    kwargs = dict(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, global_pool=global_pool)
    if pretrained:
        if not Path(pretrained).is_file():
            raise FoldwiseError(f"{pretrained}: pretrained weights file not found (train.pretrained); "
                                "foldwise never downloads weights")
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(pretrained)), **kwargs)
    return timm.create_model(name, pretrained=False, **kwargs)


def save(path: str | Path, state_dict: dict, meta: dict) -> None:
    """A trained model: its weights and what is needed to rebuild and feed it (name, classes, stats...)."""
    with artifacts.atomic_path(path) as tmp:
        torch.save({"state_dict": state_dict, "meta": meta}, tmp)


def load(path: str | Path, device: torch.device) -> tuple[nn.Module, dict]:
    """(model on ``device`` in eval mode, meta) from a file written by ``save``."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    meta = saved["meta"]
    model = create(meta["model"], meta["num_classes"], meta["in_chans"], None, 0.0, meta["global_pool"])
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), meta
