"""batch_augment: label smoothing, timm's mixup/cutmix and random erasing on a batch, checked by the
distribution of what they do."""

import numpy as np
import pytest
import torch

from foldwise import FoldwiseError, batch_augment

CPU = torch.device("cpu")


def batch(n=8, classes=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 16, 16, generator=generator)
    y = torch.nn.functional.one_hot(torch.arange(n) % classes, classes).float()
    return x, y


def test_label_smoothing_follows_timms_single_and_multi_label_conventions():
    _, y = batch()
    _, single = batch_augment.BatchAugment("multiclass", 4, CPU, label_smoothing=0.2)(*batch())
    assert torch.allclose(single, y * 0.8 + 0.05) and torch.allclose(single.sum(1), torch.ones(8))
    _, multi = batch_augment.BatchAugment("multilabel", 4, CPU, label_smoothing=0.2)(*batch())
    assert torch.allclose(multi, y * 0.8 + 0.1)


def test_mixup_mixes_images_and_targets_by_one_beta_drawn_weight():
    mixer = batch_augment.BatchAugment("multiclass", 4, CPU, mixup={"mixup_alpha": 1.0, "cutmix_alpha": 0.0})
    mixer.reseed(0)
    weights = []
    for seed in range(300):
        x, y = batch(seed=seed)
        mixed_x, mixed_y = mixer(x.clone(), y)
        lam = float(mixed_y[0, 0])  # row 0 is class 0, row 7 (its partner) class 3
        assert torch.allclose(mixed_y, lam * y + (1 - lam) * y.flip(0), atol=1e-6)
        assert torch.allclose(mixed_x, lam * x + (1 - lam) * x.flip(0), atol=1e-5)
        weights.append(lam)
    assert abs(np.mean(weights) - 0.5) < 0.05 and np.std(weights) > 0.25  # Beta(1, 1): mean 0.5, std 0.29


def test_cutmix_pastes_a_box_of_the_partner_and_weighs_targets_by_its_area():
    mixer = batch_augment.BatchAugment("multilabel", 4, CPU, mixup={"mixup_alpha": 0.0, "cutmix_alpha": 1.0})
    mixer.reseed(1)
    x, y = batch()
    mixed_x, mixed_y = mixer(x.clone(), y)
    from_partner = (mixed_x == x.flip(0)).all(dim=1)[0]  # (16, 16) pixels taken from the partner image
    assert ((mixed_x == x) | (mixed_x == x.flip(0))).all()
    lam = 1 - from_partner.float().mean()
    assert torch.allclose(mixed_y, lam * y + (1 - lam) * y.flip(0), atol=1e-6)


def test_random_erasing_erases_the_configured_share_of_images():
    entries, erasing = batch_augment.split_erasing([{"name": "HorizontalFlip"}, {"name": "RandomErasing", "p": 0.3}])
    assert entries == [{"name": "HorizontalFlip"}] and erasing == {"p": 0.3}
    eraser = batch_augment.BatchAugment("multiclass", 4, CPU, erasing=erasing)
    eraser.reseed(2)
    changed = 0
    for seed in range(50):
        x, _ = batch(seed=seed)
        erased, _ = eraser(x.clone(), torch.zeros(8, 4))
        changed += int((erased != x).flatten(1).any(1).sum())
    assert 0.22 < changed / 400 < 0.38


def test_reseeding_repeats_the_draws():
    mixer = batch_augment.BatchAugment(
        "multiclass", 4, CPU, mixup={"mixup_alpha": 0.4, "cutmix_alpha": 1.0, "switch_prob": 0.5}, erasing={"p": 0.5}
    )
    runs = []
    for _ in range(2):
        mixer.reseed(7)
        runs.append([mixer(*batch(seed=s))[0] for s in range(5)])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_settings_that_cannot_work_say_so():
    with pytest.raises(FoldwiseError, match="identities train ArcFace"):
        batch_augment.BatchAugment("identity", 4, CPU, mixup={"mixup_alpha": 1.0})
    with pytest.raises(FoldwiseError, match="unknown settings \\['alpha'\\]"):
        batch_augment.BatchAugment("multiclass", 4, CPU, mixup={"alpha": 1.0})
    with pytest.raises(FoldwiseError, match="batch_size must be even, got 7"):
        batch_augment.BatchAugment("multiclass", 4, CPU, mixup={"mixup_alpha": 1.0})(*batch(n=7))
    with pytest.raises(FoldwiseError, match="RandomErasing appears 2 times"):
        batch_augment.split_erasing([{"name": "RandomErasing"}, {"name": "RandomErasing"}])
