"""A plain reference training loop, nothing of foldwise: a timm model trained from scratch on random
crops and flips with Adam and a cosine schedule, to measure the workflow's training against.

    predict = plain_loop.train(images, targets, crop=(56, 56), epochs=10)
    probabilities = predict(test_images, tta=True)

Multi-hot targets (N, classes) train with BCE-with-logits and predict sigmoids; class indices (N,)
train with cross-entropy and predict softmaxes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import timm
import torch
import torch.nn.functional as F

log = logging.getLogger("plain_loop")


def train(
    images: np.ndarray,
    targets: np.ndarray,
    model: str = "resnet18",
    image_size: tuple[int, int] | None = None,
    crop: tuple[int, int] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    num_classes: int | None = None,
    threads: int = 1,
    seed: int = 0,
    device: str = "cpu",
) -> Callable[..., np.ndarray]:
    """Train a fresh ``model`` on (images, targets); return its predict function.

    Args:
        images: (N, C, H, W), uint8 (scaled by 1/255) or float; standardised per channel by their own mean and std.
        targets: (N, classes) multi-hot, or (N,) class indices.
        image_size: (height, width) every image is resized to first; None: as given.
        crop: (height, width) of the random training crop, and of the centre crop predicted; None: the whole image.
        num_classes: with class indices, how many classes (default: the largest index + 1).
    Returns:
        ``predict(images, tta=False)``: (N, classes) probabilities of the centre crop, or with ``tta`` their
        mean over the crop and its horizontal and vertical flips.
    """
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(seed)

    def prepare(array: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(array).float() / (255 if array.dtype == np.uint8 else 1)
        return x if image_size is None else F.interpolate(x, size=image_size, mode="bilinear", antialias=True)

    x = prepare(images)
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True) + 1e-6
    multilabel = targets.ndim == 2
    y = torch.as_tensor(targets, dtype=torch.float32 if multilabel else torch.long)
    classes = y.shape[1] if multilabel else num_classes or int(y.max()) + 1
    height, width = crop or x.shape[2:]
    net = timm.create_model(model, pretrained=False, in_chans=x.shape[1], num_classes=classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * math.ceil(len(x) / batch_size))
    criterion = torch.nn.BCEWithLogitsLoss() if multilabel else torch.nn.CrossEntropyLoss()

    for epoch in range(epochs):
        net.train()
        for rows in torch.randperm(len(x), generator=generator).split(batch_size):
            if len(rows) == 1:  # BatchNorm cannot train on a single sample
                continue
            tops = torch.randint(0, x.shape[2] - height + 1, (len(rows),), generator=generator).tolist()
            lefts = torch.randint(0, x.shape[3] - width + 1, (len(rows),), generator=generator).tolist()
            batch = torch.stack([x[r, :, t : t + height, s : s + width] for r, t, s in zip(rows, tops, lefts)])
            for dim in (-1, -2):
                flip = torch.rand(len(rows), generator=generator) < 0.5
                batch[flip] = batch[flip].flip(dim)
            loss = criterion(net(((batch - mean) / std).to(device)), y[rows].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        log.info("plain loop: epoch %d/%d, last batch loss %.4f", epoch + 1, epochs, loss.item())

    @torch.no_grad()
    def predict(images: np.ndarray, tta: bool = False) -> np.ndarray:
        net.eval()
        x = prepare(images)
        top, left = (x.shape[2] - height) // 2, (x.shape[3] - width) // 2
        x = (x[:, :, top : top + height, left : left + width] - mean) / std
        activation = torch.sigmoid if multilabel else lambda logits: logits.softmax(1)
        out = []
        for batch in x.split(2 * batch_size):
            views = [batch, batch.flip(-1), batch.flip(-2)] if tta else [batch]
            out.append(torch.stack([activation(net(v.to(device))) for v in views]).mean(0).cpu())
        return torch.cat(out).numpy()

    return predict
