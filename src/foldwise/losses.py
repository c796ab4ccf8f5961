"""Losses by name. Each maps (logits, target) to a scalar; targets may be soft.

``create("focal+lovasz")`` sums losses; ``create("bce*0.5+lovasz")`` weights them. The identity
loss "arcface" maps (embeddings, class indices) to a scalar and holds the class centres itself:
its parameters train with the model's and its state_dict is checkpointed with it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pytorch_metric_learning.losses import ArcFaceLoss, SubCenterArcFaceLoss
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


class IdentityTargets:
    """pytorch-metric-learning's ArcFace fed the way it must be: float32 embeddings, (B,) class indices.

    pml's ``cast_types`` rewrites ``W.data`` to the embeddings' dtype on every call, so bfloat16
    embeddings from autocast would turn the class centres (and their optimizer updates) bfloat16
    for good; casting here keeps W float32 whatever the model's precision.
    """

    def forward(self, embeddings: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.ndim != 1:
            raise ValueError(f"arcface targets are class indices of shape (B,); got shape {tuple(target.shape)}")
        return super().forward(embeddings.float(), target.long())


class ArcFace(IdentityTargets, ArcFaceLoss):
    """ArcFace (Deng et al. 2019): CE over s * cos(theta + m) for the target class, s * cos(theta) for the others."""


class SubCenterArcFace(IdentityTargets, SubCenterArcFaceLoss):
    """Sub-center ArcFace (Deng et al. 2020): each class's cosine is the max over its K sub-centres."""


def arcface(
    num_classes: int | None, embedding_size: int | None, margin: float = 0.5, scale: float = 30.0, sub_centers: int = 1
) -> nn.Module:
    """ArcFace, or sub-center ArcFace when ``sub_centers`` > 1, with its own class weights W (E, C * K).

    Args:
        margin: additive angular margin in radians, as in the paper (0.5); pml takes degrees.
        scale: logit scale s (30 in the Happywhale recipes).
    """
    if not num_classes or not embedding_size:
        raise FoldwiseError(
            f"loss arcface needs num_classes and embedding_size (got {num_classes}, {embedding_size}): "
            "it holds one weight vector per class, as wide as the embedding"
        )
    kwargs = dict(num_classes=num_classes, embedding_size=embedding_size, margin=math.degrees(margin), scale=scale)
    if sub_centers > 1:
        return SubCenterArcFace(sub_centers=sub_centers, **kwargs)
    return ArcFace(**kwargs)


def class_scores(criterion: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
    """(B, C) cosine similarity of each embedding to each class centre of an arcface ``criterion``
    (the max over a class's sub-centres), without margin or scale: validation by class centres."""
    weights = F.normalize(criterion.W.float(), dim=0)  # (E, C * K), unit columns
    cosine = F.normalize(embeddings.float().to(weights.device), dim=1) @ weights
    return cosine.view(len(embeddings), criterion.num_classes, -1).amax(2)  # pml's layout: column c * K + k


LOSSES = {
    "soft_ce": SoftTargetCrossEntropy,  # single-label; soft targets for distillation
    "bce": nn.BCEWithLogitsLoss,  # multi-label, one sigmoid per class
    "focal": FocalLoss,
    "lovasz": LovaszHinge,
    "arcface": arcface,  # identity: (embeddings, class indices), see create
}


# what each loss's targets mean: one softmax distribution per row, or one sigmoid per class;
# it must match the activation that predictions use (predict.activation)
# identity: one embedding per image, trained against class centres held by the loss (Happywhale)
TASKS = {
    "soft_ce": "multiclass",
    "bce": "multilabel",
    "focal": "multilabel",
    "lovasz": "multilabel",
    "arcface": "identity",
}
DEFAULTS = {"multiclass": "soft_ce", "multilabel": "bce", "identity": "arcface"}


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
        kind = TASKS[wrong[0]]
        article = "an" if kind[0] in "aeiou" else "a"
        raise FoldwiseError(
            f"train.loss: {'+'.join(wrong)} is {article} {kind} loss but the dataset is {task}; "
            f"use one of {fits} (or auto)"
        )
    return name


def create(
    name: str,
    focal_gamma: float = 2.0,
    num_classes: int | None = None,
    embedding_size: int | None = None,
    margin: float = 0.5,
    scale: float = 30.0,
    sub_centers: int = 1,
) -> nn.Module:
    """The loss called ``name``: one of LOSSES, or a sum such as "focal+lovasz" or "bce*0.5+lovasz".

    Args:
        focal_gamma: focal only.
        num_classes, embedding_size, margin, scale, sub_centers: arcface only (see ``arcface``;
            margin in radians). Arcface stands alone: its input is embeddings, not logits, so it
            is never summed or weighted. Feed it float32 embeddings and (B,) class indices.
    """
    terms = [term.partition("*") for term in name.lower().replace(" ", "").split("+")]
    parts = []
    for key, star, weight in terms:
        if key not in LOSSES:
            raise ValueError(f"unknown loss {key!r} in {name!r}; known: {sorted(LOSSES)}, summed with '+'")
        if key == "arcface":
            if len(terms) > 1 or star:
                raise ValueError(f"{name!r}: arcface takes embeddings, not logits; it cannot be summed or weighted")
            return arcface(num_classes, embedding_size, margin, scale, sub_centers)
        parts.append((float(weight or 1.0), LOSSES[key](focal_gamma) if key == "focal" else LOSSES[key]()))
    return parts[0][1] if len(parts) == 1 and parts[0][0] == 1.0 else WeightedSum(parts)
