"""Grad-CAM heat maps (the grad-cam package) of a fold's model, for any timm backbone.

The target layer is a feature stage that timm lists in the model's ``feature_info`` (4-D maps
before pooling, whatever the architecture): the deepest one that is not too coarse to show where.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from foldwise import FoldwiseError, models, plots, predict

MIN_CELLS = 4  # cells a side of the explained feature map


def target_layer(model: nn.Module, image_size: tuple[int, int]) -> nn.Module:
    """The deepest feature stage that timm lists in ``feature_info`` whose map, for images of
    ``image_size``, keeps at least ``MIN_CELLS`` cells a side (a 1x1 map's Grad-CAM is flat);
    the shallowest stage if none does. Also found inside a recipe head's wrapper.

    >>> from foldwise import models
    >>> model = models.create("test_resnet", 4)
    >>> target_layer(model, (224, 224)) is model.layer4, target_layer(model, (32, 32)) is model.layer2
    (True, True)
    """
    for module in model.modules():
        stages = getattr(module, "feature_info", None)
        if stages:
            fine = [s for s in stages if min(image_size) // s["reduction"] >= MIN_CELLS] or stages[:1]
            return module.get_submodule(fine[-1]["module"])
    raise FoldwiseError(f"{type(model).__name__}: no timm feature_info, so no layer for Grad-CAM")


def heatmaps(model: nn.Module, normalize: nn.Module, images: np.ndarray, targets: list[int]) -> np.ndarray:
    """Grad-CAM of class ``targets[i]`` for image i.

    Args:
        model: a classifier in eval mode, on the CPU.
        normalize: its input normalisation (``predict.Normalize``).
        images: (N, H, W, C) uint8, as in the image cache.
    Returns:
        (N, H, W) float32 heat maps in [0, 1].
    """
    if len(images) == 0:
        return np.zeros((0, *images.shape[1:3]), np.float32)
    network = nn.Sequential(normalize, model).eval()
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    with GradCAM(network, [target_layer(model, images.shape[1:3])]) as cam:
        return cam(batch, targets=[ClassifierOutputTarget(int(t)) for t in targets]).astype(np.float32)


def overlay(rgb: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """An RGB uint8 image with its (H, W) heat map in [0, 1] blended over it (jet colours)."""
    return show_cam_on_image(rgb.astype(np.float32) / 255, heatmap, use_rgb=True)


def explain(samples: pd.DataFrame, pixels: np.ndarray, model_paths: list[str]) -> np.ndarray:
    """Heat maps of ``samples`` (columns ``fold`` and ``target``; ``pixels`` their cache rows),
    each from the model of its own fold, ``model_paths[fold]``: (N, H, W) in [0, 1]."""
    out = np.zeros((len(samples), *pixels.shape[1:3]), np.float32)
    for fold, rows in samples.groupby("fold").indices.items():
        model, meta = models.load(model_paths[fold], torch.device("cpu"))
        normalize = predict.Normalize(meta["mean"], meta["std"])
        out[rows] = heatmaps(model, normalize, pixels[rows], samples.target.to_numpy()[rows].tolist())
    return out


def error_cells(
    worst: pd.DataFrame, pixels: np.ndarray, maps: np.ndarray, channels: list[str], classes: list[str]
) -> list[tuple[np.ndarray, str]]:
    """Gallery cells of the worst samples: each image with its labels, then its Grad-CAM for the
    class that was most confidently wrong."""
    cells = []
    for sample, image, heatmap in zip(worst.itertuples(index=False), pixels, maps):
        rgb = plots.to_rgb(image, channels)
        cells.append((rgb, f"fold {sample.fold} {sample.id}\ntrue: {sample.truth or '-'}"))
        cells.append(
            (
                overlay(rgb, heatmap),
                f"predicted: {sample.predicted or '-'}\nGrad-CAM {classes[sample.target]} ({sample.confidence:.2f})",
            )
        )
    return cells
