import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, folds


def dataset(n=120, seed=0):
    rng = np.random.default_rng(seed)
    target = rng.choice(4, size=n, p=[0.4, 0.1, 0.25, 0.25])
    return pd.Series([f"id{i:04d}" for i in range(n)]), np.eye(4)[target]


def test_every_fold_keeps_the_class_proportions():
    ids, labels = dataset()
    result = folds.split(ids, labels, k=5, seed=1)
    assert sorted(result.fold.unique()) == [0, 1, 2, 3, 4]
    by_id = dict(zip(ids, labels.argmax(1)))
    totals = np.bincount(labels.argmax(1), minlength=4)
    for f in range(5):
        counts = np.bincount([by_id[i] for i in result.id[result.fold == f]], minlength=4)
        assert np.all(np.abs(counts - totals / 5) <= 1)


def test_same_seed_same_folds_other_seed_other_folds():
    ids, labels = dataset()
    a, b = folds.split(ids, labels, 5, seed=1), folds.split(ids, labels, 5, seed=1)
    assert a.equals(b)
    assert not a.equals(folds.split(ids, labels, 5, seed=2))


def test_row_order_does_not_change_the_fold_of_an_id():
    ids, labels = dataset()
    order = np.random.default_rng(9).permutation(len(ids))
    shuffled = folds.split(ids.iloc[order].reset_index(drop=True), labels[order], 5, seed=1)
    assert shuffled.equals(folds.split(ids, labels, 5, seed=1))


def test_multilabel_uses_iterative_stratification():
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 6)) < [0.5, 0.3, 0.2, 0.1, 0.1, 0.05]).astype(float)
    ids = pd.Series([f"s{i}" for i in range(200)])
    result = folds.split(ids, labels, 4, seed=0, task="multilabel")
    fold_of = result.set_index("id").fold[ids].to_numpy()  # result rows are sorted by id
    per_fold = np.stack([labels[fold_of == f].sum(0) for f in range(4)])
    assert np.all(np.abs(per_fold - labels.sum(0) / 4) <= 2)


def test_groups_never_span_two_folds():
    ids, labels = dataset()
    groups = pd.Series([f"g{i // 3}" for i in range(len(ids))])
    result = folds.split(ids, labels, 4, seed=0, groups=groups)
    group_of = dict(zip(ids, groups))
    assert result.assign(group=result.id.map(group_of)).groupby("group").fold.nunique().max() == 1


def test_more_folds_than_the_rarest_class_is_an_error():
    ids, labels = dataset(n=30)
    labels[:, 1] = 0
    labels[:2] = [0, 1, 0, 0]
    with pytest.raises(FoldwiseError, match=r"class 'b' has only 2 training row\(s\)"):
        folds.split(ids, labels, 5, seed=0, classes=["a", "b", "c", "d"])
