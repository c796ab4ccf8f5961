"""Losses by name. Each maps (logits, target) to a scalar; targets may be soft.

``create("focal+lovasz")`` sums losses; ``create("bce*0.5+lovasz")`` weights them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.loss import SoftTargetCrossEntropy
from torch import nn

from foldwise import FoldwiseError


class FocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al. 2017) per class, mean over elements: BCE * (1 - p_t)^gamma."""

    def __init__(self, gamma: float = 2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p_t = torch.exp(-bce)  # probability given to the target, soft targets included
        return ((1 - p_t) ** self.gamma * bce).mean()


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors (Berman et al. 2018)."""
    positives = gt_sorted.sum()
    intersection = positives - gt_sorted.cumsum(0)
    union = positives + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


class LovaszHinge(nn.Module):
    """Lovasz hinge per class column (a surrogate of each class's Jaccard over the batch), averaged."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        labels = (target >= 0.5).float()
        losses = []
        for c in range(logits.shape[1]):
            signs = 2 * labels[:, c] - 1
            errors = 1 - logits[:, c] * signs
            errors_sorted, order = torch.sort(errors, descending=True)
            losses.append(torch.dot(F.relu(errors_sorted), lovasz_grad(labels[order, c])))
        return torch.stack(losses).mean()


class WeightedSum(nn.Module):
    def __init__(self, parts: list[tuple[float, nn.Module]]):
        super().__init__()
        self.weights = [w for w, _ in parts]
        self.parts = nn.ModuleList(loss for _, loss in parts)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(w * loss(logits, target) for w, loss in zip(self.weights, self.parts))


LOSSES = {
    "soft_ce": SoftTargetCrossEntropy,  # single-label; soft targets for distillation
    "bce": nn.BCEWithLogitsLoss,  # multi-label, one sigmoid per class
    "focal": FocalLoss,
    "lovasz": LovaszHinge,
}


# what each loss's targets mean: one softmax distribution per row, or one sigmoid per class;
# it must match the activation that predictions use (predict.activation)
TASKS = {"soft_ce": "multiclass", "bce": "multilabel", "focal": "multilabel", "lovasz": "multilabel"}
DEFAULTS = {"multiclass": "soft_ce", "multilabel": "bce"}


def for_task(name: str, task: str) -> str:
    """The loss to train ``task`` with: ``auto`` picks the task's default; a loss whose targets
    mean something else (softmax cross-entropy on multi-hot labels) is refused."""
    if name == "auto":
        return DEFAULTS[task]
    wrong = sorted(
        {
            key
            for key, _, _ in (t.partition("*") for t in name.lower().replace(" ", "").split("+"))
            if TASKS.get(key, task) != task
        }
    )
    if wrong:
        fits = sorted(k for k, t in TASKS.items() if t == task)
        raise FoldwiseError(
            f"train.loss: {'+'.join(wrong)} is a {TASKS[wrong[0]]} loss but the dataset is {task}; "
            f"use one of {fits} (or auto)"
        )
    return name


def create(name: str, focal_gamma: float = 2.0) -> nn.Module:
    """The loss called ``name``: one of LOSSES, or a sum such as "focal+lovasz" or "bce*0.5+lovasz"."""
    parts = []
    for term in name.lower().replace(" ", "").split("+"):
        key, _, weight = term.partition("*")
        if key not in LOSSES:
            raise ValueError(f"unknown loss {key!r} in {name!r}; known: {sorted(LOSSES)}, summed with '+'")
        parts.append((float(weight or 1.0), LOSSES[key](focal_gamma) if key == "focal" else LOSSES[key]()))
    return parts[0][1] if len(parts) == 1 and parts[0][0] == 1.0 else WeightedSum(parts)
