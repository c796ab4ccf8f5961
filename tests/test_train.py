import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import DEVICE

from foldwise import FoldwiseError, losses, train


def toy_data(n=48, size=16, seed=0, contrast=150):
    """Two learnable classes: bright images vs dark images, with a few channels."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n)
    images = (rng.integers(0, 80, (n, size, size, 3)) + target[:, None, None, None] * contrast).astype(np.uint8)
    ids = [f"i{k}" for k in range(n)]
    index = pd.DataFrame({"id": ids, "split": "train"})
    labels = pd.DataFrame({"id": ids, "dark": 1.0 - target, "bright": target.astype(float)})
    folds = pd.DataFrame({"id": ids, "fold": np.arange(n) % 3})
    data = train.fold_data(index, folds, labels, labels, fold=0)
    return images, data


STATS = {"mean": [0.5, 0.5, 0.5], "std": [0.3, 0.3, 0.3]}
CFG = train.TrainConfig(
    model="test_resnet",
    epochs=3,
    batch_size=8,
    optimizer={"name": "adam", "lr": 3e-3},
    augment=[{"name": "HorizontalFlip", "p": 0.5}],
    channels_last=False,
)


# a harder toy task that learns slowly: its best epoch is the last one, after the resume below
SLOW = train.TrainConfig(**{**CFG.__dict__, "epochs": 4, "optimizer": {"name": "adam", "lr": 3e-4}})


def run(tmp_path, cfg=CFG, name="ckpt.pt", contrast=150):
    images, data = toy_data(contrast=contrast)
    return train.train_fold(cfg, data, images, STATS, "multiclass", torch.device(DEVICE), tmp_path / name, seed=5)


def test_learns_the_toy_task_and_keeps_history(tmp_path):
    result = run(tmp_path, train.TrainConfig(**{**CFG.__dict__, "epochs": 4}))
    assert result["history"].columns.tolist() == [
        "epoch",
        "train_loss",
        "val_loss",
        "roc_auc",
        "lr",
        "images_per_s",
        "seconds",
    ]
    assert result["history"].train_loss.iloc[-1] < result["history"].train_loss.iloc[0]
    assert result["best_metric"] > 0.9
    assert result["val_scores"].shape == (16, 2)


class Killed(Exception):
    pass


def test_resume_after_a_kill_repeats_the_uninterrupted_run(tmp_path, monkeypatch):
    full = run(tmp_path, SLOW, name="full.pt", contrast=40)
    assert full["best_epoch"] > 2  # the compared weights are trained after the resume
    save = train.save_checkpoint
    saves = []

    def save_then_die(state, path):  # the process dies right after epoch 2's checkpoint
        save(state, path)
        saves.append(state["epoch"])
        if state["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        run(tmp_path, SLOW, name="resumed.pt", contrast=40)
    resumed = run(tmp_path, SLOW, name="resumed.pt", contrast=40)
    assert saves == [0, 1, 2, 3]  # the second run did epochs 3 and 4 only
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
        train.train_fold(
            CFG, data, images, STATS, "multiclass", torch.device(DEVICE), tmp_path / "c.pt", seed=5, name="base fold 0"
        )


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


def test_loss_follows_the_task_and_a_mismatch_is_refused():
    assert losses.for_task("auto", "multiclass") == "soft_ce"
    assert losses.for_task("auto", "multilabel") == "bce"
    assert losses.for_task("focal+lovasz", "multilabel") == "focal+lovasz"
    with pytest.raises(FoldwiseError, match=r"train.loss: soft_ce is a multiclass loss but the dataset is multilabel"):
        losses.for_task("soft_ce", "multilabel")
    with pytest.raises(FoldwiseError, match=r"train.loss: focal\+lovasz is a multilabel loss .* multiclass"):
        losses.for_task("focal+lovasz", "multiclass")
    images, data = toy_data()
    with pytest.raises(FoldwiseError, match="soft_ce is a multiclass loss"):
        train.train_fold(
            train.TrainConfig(**{**CFG.__dict__, "loss": "soft_ce"}),
            data,
            images,
            STATS,
            "multilabel",
            torch.device(DEVICE),
            "unused.pt",
            seed=5,
        )


def optimizer_steps(checkpoint) -> int:
    state = torch.load(checkpoint, weights_only=True)["optimizer"]["state"]
    return int(next(iter(state.values()))["step"])


def test_gradient_accumulation_updates_once_per_group_of_batches(tmp_path):
    run(tmp_path, name="plain.pt")  # 32 training rows, batches of 8: 4 updates an epoch
    run(tmp_path, train.TrainConfig(**{**CFG.__dict__, "accumulate": 2}), name="accumulated.pt")
    assert optimizer_steps(tmp_path / "plain.pt") == 3 * 4
    assert optimizer_steps(tmp_path / "accumulated.pt") == 3 * 2


def test_gradient_clipping_bounds_every_update(tmp_path):
    lr, clip = 0.1, 1e-4
    sgd = {"name": "momentum", "lr": lr, "momentum": 0.0}  # plain SGD: an update is lr * gradient
    cfg = train.TrainConfig(
        **{
            **CFG.__dict__,
            "optimizer": sgd,
            "scheduler": {"name": "step"},
            "augment": [],
            "clip_grad_norm": clip,
            "drop_rate": 0.0,
        }
    )
    torch.manual_seed(5)
    initial = train.models.create("test_resnet", 2, 3)
    result = run(tmp_path, cfg)
    moved = torch.sqrt(
        sum(
            ((result["state_dict"][k] - v) ** 2).sum()
            for k, v in initial.state_dict().items()
            if v.is_floating_point() and "running" not in k
        )
    )
    updates = 3 * 4
    assert moved <= updates * lr * clip * 1.001  # SGD moves each update by at most lr * clip
    unclipped = run(tmp_path, train.TrainConfig(**{**cfg.__dict__, "clip_grad_norm": None}), name="free.pt")
    moved_free = torch.sqrt(
        sum(
            ((unclipped["state_dict"][k] - v) ** 2).sum()
            for k, v in initial.state_dict().items()
            if v.is_floating_point() and "running" not in k
        )
    )
    assert moved_free > 10 * moved


def test_checkpoint_of_other_code_is_refused_but_system_settings_may_change(tmp_path):
    images, data = toy_data()
    short = train.TrainConfig(**{**CFG.__dict__, "epochs": 1})

    def fit(cfg, code):
        return train.train_fold(
            cfg, data, images, STATS, "multiclass", torch.device(DEVICE), tmp_path / "c.pt", seed=5, code=code
        )

    fit(short, code="v1")
    with pytest.raises(FoldwiseError, match="checkpoint of another configuration"):
        fit(short, code="v2")  # losses.py edited after a kill: the old weights must not be resumed
    system = train.TrainConfig(**{**short.__dict__, "eval_batch_size": 3, "num_workers": 1})
    assert fit(system, code="v1")["best_epoch"] == 1  # resumed: nothing left to train


def test_the_workflow_keeps_every_system_setting_out_of_the_rule_params():
    """A setting missing from common.smk's list would retrain every model when changed."""
    common = (Path(__file__).resolve().parents[1] / "workflow/rules/common.smk").read_text()
    listed = re.search(r"^TRAIN_SYSTEM_SETTINGS = \((.*)\)$", common, re.M)[1]
    assert set(train.SYSTEM_SETTINGS) <= {name.strip(' "') for name in listed.split(",")}


def multilabel_toy(n=48, size=16, seed=0):
    """Three independent labels, each a bright third of the image."""
    rng = np.random.default_rng(seed)
    target = rng.random((n, 3)) < 0.4
    images = rng.integers(0, 60, (n, size, size, 3))
    for c in range(3):
        images[:, :, c * size // 3 : (c + 1) * size // 3, :] += target[:, c, None, None, None] * 150
    ids = [f"i{k}" for k in range(n)]
    index = pd.DataFrame({"id": ids, "split": "train"})
    labels = pd.DataFrame({"id": ids, **{f"c{c}": target[:, c].astype(float) for c in range(3)}})
    folds = pd.DataFrame({"id": ids, "fold": np.arange(n) % 3})
    return images.astype(np.uint8), train.fold_data(index, folds, labels, labels, fold=0)


def test_multilabel_epochs_report_the_validation_loss_and_threshold_free_measures(tmp_path):
    images, data = multilabel_toy()
    cfg = train.TrainConfig(**{**CFG.__dict__, "metric": "macro_f1", "loss": "bce", "epochs": 2})
    result = train.train_fold(cfg, data, images, STATS, "multilabel", torch.device(DEVICE), tmp_path / "m.pt", seed=1)
    history = result["history"]
    assert {"val_loss", "macro_f1", "roc_auc", "average_precision"} <= set(history.columns)
    # the validation loss is the training loss over the validation fold: recompute it from the kept model
    model = __import__("foldwise").models.create("test_resnet", 3, 3)
    model.load_state_dict(result["state_dict"])
    normalize = __import__("foldwise").predict.Normalize(STATS["mean"], STATS["std"])
    logits = __import__("foldwise").predict.predict(
        model, normalize, images, data.val_rows, "multilabel", torch.device(DEVICE), activate=False, channels_last=False
    )
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(data.val_targets)
    )
    assert history.val_loss.iloc[-1] == pytest.approx(float(expected), rel=1e-5)


def test_a_flat_threshold_f1_is_refused_as_a_selection_measure(tmp_path):
    images, data = multilabel_toy()
    cfg = train.TrainConfig(**{**CFG.__dict__, "metric": "macro_f1", "loss": "bce", "select": "best"})
    with pytest.raises(FoldwiseError, match=r"macro_f1 at a flat 0.5 is no selection measure.*val_loss"):
        train.train_fold(cfg, data, images, STATS, "multilabel", torch.device(DEVICE), tmp_path / "m.pt", seed=1)


def test_select_by_validation_loss_keeps_its_lowest_epoch(tmp_path):
    images, data = multilabel_toy()
    cfg = train.TrainConfig(
        **{**CFG.__dict__, "metric": "macro_f1", "loss": "bce", "select": "best", "select_by": "val_loss", "epochs": 4}
    )
    result = train.train_fold(cfg, data, images, STATS, "multilabel", torch.device(DEVICE), tmp_path / "m.pt", seed=1)
    assert result["best_epoch"] == int(result["history"].val_loss.idxmin()) + 1


# every regularisation option on: timm's EMA, mixup/cutmix, label smoothing, drop path, random erasing
REGULARISED = train.TrainConfig(
    **{
        **SLOW.__dict__,
        "ema": {"decay": 0.9, "warmup": True},
        "select": "ema",
        "mixup": {"mixup_alpha": 0.4, "cutmix_alpha": 1.0, "switch_prob": 0.5, "prob": 0.8},
        "label_smoothing": 0.1,
        "drop_path_rate": 0.1,
        "augment": [{"name": "HorizontalFlip", "p": 0.5}, {"name": "RandomErasing", "p": 0.5}],
    }
)


def test_resume_after_a_kill_is_bit_identical_with_every_regularisation_on(tmp_path, monkeypatch):
    full = run(tmp_path, REGULARISED, name="full.pt", contrast=40)
    assert {"ema_val_loss", "ema_roc_auc"} <= set(full["history"].columns)
    save = train.save_checkpoint

    def save_then_die(state, path):
        save(state, path)
        if state["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        run(tmp_path, REGULARISED, name="resumed.pt", contrast=40)
    monkeypatch.setattr(train, "save_checkpoint", save)
    resumed = run(tmp_path, REGULARISED, name="resumed.pt", contrast=40)
    for key, value in full["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    pd.testing.assert_frame_equal(
        full["history"].drop(columns=["images_per_s", "seconds"]),
        resumed["history"].drop(columns=["images_per_s", "seconds"]),
    )


def test_select_ema_keeps_the_averaged_weights(tmp_path):
    last = run(tmp_path, train.TrainConfig(**{**CFG.__dict__, "epochs": 2}), name="last.pt")
    # decay 1: the average is the model after its first update (timm starts it there) and never moves
    frozen = {"epochs": 2, "ema": {"decay": 1.0, "warmup": False}, "select": "ema"}
    kept = run(tmp_path, train.TrainConfig(**{**CFG.__dict__, **frozen}), name="frozen.pt")
    assert kept["history"].ema_val_loss.nunique() == 1 and kept["history"].val_loss.nunique() == 2
    assert not torch.equal(kept["state_dict"]["conv1.0.weight"], last["state_dict"]["conv1.0.weight"])
    assert kept["best_metric"] == kept["history"].ema_roc_auc.iloc[-1]
    # decay 0: the average is the model
    follows = {"epochs": 2, "ema": {"decay": 0.0, "warmup": False}, "select": "ema"}
    followed = run(tmp_path, train.TrainConfig(**{**CFG.__dict__, **follows}), name="follows.pt")
    assert all(torch.equal(last["state_dict"][k], followed["state_dict"][k]) for k in last["state_dict"])
    with pytest.raises(FoldwiseError, match="select: ema keeps the EMA weights: set train.ema"):
        run(tmp_path, train.TrainConfig(**{**CFG.__dict__, "select": "ema"}), name="none.pt")
