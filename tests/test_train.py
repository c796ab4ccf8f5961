import math

import numpy as np
import pandas as pd
import pytest
import torch

from foldwise import FoldwiseError, train

from conftest import DEVICE


def toy_data(n=48, size=16, seed=0):
    """Two learnable classes: bright images vs dark images, with a few channels."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n)
    images = (rng.integers(0, 80, (n, size, size, 3)) + target[:, None, None, None] * 150).astype(np.uint8)
    ids = [f"i{k}" for k in range(n)]
    index = pd.DataFrame({"id": ids, "split": "train"})
    labels = pd.DataFrame({"id": ids, "dark": 1.0 - target, "bright": target.astype(float)})
    folds = pd.DataFrame({"id": ids, "fold": np.arange(n) % 3})
    data = train.fold_data(index, folds, labels, labels, fold=0)
    return images, data


STATS = {"mean": [0.5, 0.5, 0.5], "std": [0.3, 0.3, 0.3]}
CFG = train.TrainConfig(model="test_resnet", epochs=3, batch_size=8, optimizer={"name": "adam", "lr": 3e-3},
                        augment=[{"name": "HorizontalFlip", "p": 0.5}], channels_last=False)


def run(tmp_path, cfg=CFG, name="ckpt.pt"):
    images, data = toy_data()
    return train.train_fold(cfg, data, images, STATS, "multiclass", torch.device(DEVICE), tmp_path / name, seed=5)


def test_learns_the_toy_task_and_keeps_history(tmp_path):
    result = run(tmp_path, train.TrainConfig(**{**CFG.__dict__, "epochs": 4}))
    assert result["history"].columns.tolist() == ["epoch", "train_loss", "roc_auc", "lr", "images_per_s", "seconds"]
    assert result["history"].train_loss.iloc[-1] < result["history"].train_loss.iloc[0]
    assert result["best_metric"] > 0.9
    assert result["val_scores"].shape == (16, 2)


class Killed(Exception):
    pass


def test_resume_after_a_kill_repeats_the_uninterrupted_run(tmp_path, monkeypatch):
    full = run(tmp_path, name="full.pt")
    save = train.save_checkpoint
    saves = []

    def save_then_die(state, path):  # the process dies right after epoch 2's checkpoint
        save(state, path)
        saves.append(state["epoch"])
        if state["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        run(tmp_path, name="resumed.pt")
    resumed = run(tmp_path, name="resumed.pt")
    assert saves == [0, 1, 2]  # the second run did epoch 3 only
    for key, value in full["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    columns = ["epoch", "train_loss", "roc_auc", "lr"]
    pd.testing.assert_frame_equal(full["history"][columns], resumed["history"][columns])
    np.testing.assert_array_equal(full["val_scores"], resumed["val_scores"])


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    run(tmp_path, name="ckpt.pt")
    other = train.TrainConfig(**{**CFG.__dict__, "model": "test_efficientnet"})
    with pytest.raises(FoldwiseError, match="ckpt.pt: checkpoint of another configuration"):
        run(tmp_path, other, name="ckpt.pt")


def test_cosine_schedule_restarts():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = train.create_scheduler(optimizer, {"name": "cosine", "cycle_epochs": 2, "min_lr": 0.0}, 4, 10)
    lrs = []
    for step in range(40):
        scheduler.step_update(step)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(1.0) and lrs[20] == pytest.approx(1.0)  # restart at epoch 2
    assert lrs[10] == pytest.approx(0.5) and lrs[19] < 0.01


def test_nan_loss_names_fold_and_epoch(tmp_path):
    images, data = toy_data()
    data.train_targets = np.full_like(data.train_targets, np.nan)
    with pytest.raises(FoldwiseError, match=r"base fold 0: training loss is nan at epoch 1"):
        train.train_fold(CFG, data, images, STATS, "multiclass", torch.device(DEVICE), tmp_path / "c.pt", seed=5,
                         name="base fold 0")


def test_explicit_step_rates_as_in_hpa_2018():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=3e-4)
    spec = {"name": "step", "milestones": [26, 31, 36, 41], "lrs": [3e-4, 1.5e-4, 7.5e-5, 3e-5, 1e-5]}
    scheduler = train.create_scheduler(optimizer, spec, 45, updates_per_epoch=2)
    seen = {}
    for epoch in (0, 25, 26, 30, 31, 36, 41, 44):
        scheduler.step_update(epoch * 2)
        seen[epoch] = optimizer.param_groups[0]["lr"]
    assert seen == {0: 3e-4, 25: 3e-4, 26: 1.5e-4, 30: 1.5e-4, 31: 7.5e-5, 36: 3e-5, 41: 1e-5, 44: 1e-5}
    with pytest.raises(FoldwiseError, match="5 lrs need 4 milestones"):
        train.create_scheduler(optimizer, {**spec, "milestones": [26]}, 45, 2)
