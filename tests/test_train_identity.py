"""The one training loop with an embedding head and ArcFace: identity folds, learning, resume with the
loss's class centres, and the pseudo stage's stacked caches."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import DEVICE

from foldwise import cache, predict, retrieval, train

STATS = {"mean": [0.5, 0.5, 0.5], "std": [0.3, 0.3, 0.3]}
CFG = train.TrainConfig(
    model="test_resnet",
    head="embedding",
    global_pool="gem",
    embedding={"size": 16},
    arcface={"margin": 0.3, "scale": 16.0, "lr_scale": 10.0},
    loss="arcface",
    metric="map@5",
    epochs=4,
    batch_size=8,
    optimizer={"name": "adam", "lr": 3e-3},
    channels_last=False,
)


def toy_identities(individuals=6, sightings=6, size=32, seed=0):
    """Each individual a fixed pattern of bright squares, seen with noise and a shifted background."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((individuals, 4, 4)) > 0.5
    images, names = [], []
    for k in range(individuals):
        for _ in range(sightings):
            image = rng.integers(0, 60, (size, size, 3)) + rng.integers(0, 60)
            image += np.kron(patterns[k], np.ones((size // 4, size // 4), int))[..., None] * 150
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            names.append(f"whale{k}")
    ids = [f"img{i}.jpg" for i in range(len(names))]
    identities = pd.DataFrame({"id": ids, "identity": names})
    index = pd.DataFrame({"id": ids, "split": "train"})
    folds = pd.DataFrame({"id": ids, "fold": np.arange(len(ids)) % 3})
    return np.stack(images), index, identities, folds


def test_identity_fold_data_marks_individuals_that_do_not_train_as_new():
    _, index, identities, folds = toy_identities(individuals=3, sightings=3)
    folds.loc[identities.identity == "whale2", "fold"] = 0  # whale2 seen only in fold 0
    data = train.identity_fold_data(index, folds, identities, fold=0)
    assert data.classes == ["whale0", "whale1"]
    val = identities.set_index("id").identity[folds.id[folds.fold == 0]]
    expected = [-1 if name == "whale2" else data.classes.index(name) for name in val]
    assert data.val_targets.tolist() == expected and data.train_targets.dtype == np.int64


def fit(tmp_path, name, cfg=CFG):
    images, index, identities, folds = toy_identities()
    data = train.identity_fold_data(index, folds, identities, fold=0)
    return train.train_fold(cfg, data, images, STATS, "identity", torch.device(DEVICE), tmp_path / name, seed=3), data


def test_embeddings_learn_the_individuals(tmp_path):
    result, data = fit(tmp_path, "learn.pt", train.TrainConfig(**{**CFG.__dict__, "epochs": 16}))
    history = result["history"]
    assert history["map@5"].iloc[-1] > 0.9 and history.train_loss.iloc[-1] < history.train_loss.iloc[0]
    # the kept model's embeddings retrieve each validation image's individual from the training rows
    images, index, identities, folds = toy_identities()
    from foldwise import models

    model = models.create("test_resnet", 6, 3, head="embedding", global_pool="gem", embedding_size=16)
    model.load_state_dict(result["state_dict"])
    normalize = predict.Normalize(STATS["mean"], STATS["std"])
    embeddings = predict.predict(model, normalize, images, np.arange(len(images)), "identity", torch.device(DEVICE))
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    gallery, queries = data.train_rows, data.val_rows
    ranked = retrieval.search(
        embeddings[gallery], identities.identity[gallery].to_numpy(), embeddings[queries], index.id[queries].to_numpy()
    )
    truth = identities.set_index("id").identity
    assert retrieval.top1_accuracy(ranked, truth) > 0.9


class Killed(Exception):
    pass


def test_resume_after_a_kill_restores_the_class_centres_too(tmp_path, monkeypatch):
    full, _ = fit(tmp_path, "full.pt")
    save, saves = train.save_checkpoint, []

    def save_then_die(state, path):
        save(state, path)
        saves.append(state["epoch"])
        assert "W" in state["criterion"]  # ArcFace's class centres travel with the model
        if state["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        fit(tmp_path, "resumed.pt")
    resumed, _ = fit(tmp_path, "resumed.pt")
    assert saves == [0, 1, 2, 3]
    for key, value in full["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    pd.testing.assert_frame_equal(
        full["history"][["epoch", "train_loss", "map@5"]], resumed["history"][["epoch", "train_loss", "map@5"]]
    )


def test_the_class_centres_learn_at_their_own_rate():
    model, criterion = torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)
    optimizer = train.create_optimizer(model, criterion, {"name": "adam", "lr": 1e-3, "weight_decay": 0.01}, 10.0)
    rates = sorted({group["lr"] for group in optimizer.param_groups})
    assert rates == [1e-3, 1e-2]
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0]
    assert sum(p.numel() for g in no_decay for p in g["params"]) == 4 + 2 * 4 + 2  # biases and the loss


def test_stacked_caches_read_as_one():
    first, second = np.arange(2 * 2 * 2 * 1).reshape(2, 2, 2, 1), 100 + np.arange(3 * 2 * 2 * 1).reshape(3, 2, 2, 1)
    stacked = cache.Stacked(first.astype(np.uint8), second.astype(np.uint8))
    together = np.concatenate([first, second]).astype(np.uint8)
    assert stacked.shape == together.shape and len(stacked) == 5
    rows = np.array([4, 0, 2, 1, 3])
    np.testing.assert_array_equal(stacked[rows], together[rows])
    np.testing.assert_array_equal(stacked[3], together[3])


def test_saved_models_are_predicted_in_the_precision_they_were_trained_in(tmp_path, monkeypatch):
    images, index, identities, folds = toy_identities(individuals=2, sightings=3)
    data = train.identity_fold_data(index, folds, identities, fold=0)
    cfg = train.TrainConfig(**{**CFG.__dict__, "precision": "fp32", "channels_last": False})
    meta = train.model_meta(cfg, data, images, STATS, "identity")
    from foldwise import models

    model = models.create("test_resnet", 2, 3, head="embedding", global_pool="gem", embedding_size=16)
    models.save(tmp_path / "model.pt", model.state_dict(), {**meta, "classes": data.classes})
    seen = {}

    def recording(*args, **kwargs):
        seen.update(precision=kwargs["precision"], channels_last=kwargs["channels_last"])
        return np.zeros((len(args[3]), 16), np.float32)

    monkeypatch.setattr(predict, "predict", recording)
    settings = {"tta": ["identity"], "reduce": "mean", "batch_size": 4, "crop": None}
    predict.predict_saved(
        tmp_path / "model.pt", images, index.id.to_numpy()[:3], np.arange(3), settings, torch.device("cpu")
    )
    assert seen == {"precision": "fp32", "channels_last": False}
