import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from foldwise import FoldwiseError, dedup, folds


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
    with pytest.raises(FoldwiseError, match=r"class 'b' has only 2 training row\(s\); lower folds.k to at most 2"):
        folds.split(ids, labels, 5, seed=0, classes=["a", "b", "c", "d"])
    labels[1] = [1, 0, 0, 0]  # one row of b: no valid folds.k (the schema wants 2 or more) would do
    with pytest.raises(FoldwiseError, match=r"has only 1 training row\(s\); add samples of it or remove its row"):
        folds.split(ids, labels, 5, seed=0, classes=["a", "b", "c", "d"])


def multilabel_groups(seed=0, n_groups=150):
    """HPA-like: class 0 on every row (so the lowest positive index says nothing), rarer classes
    beside it, groups of 1 to 4 rows."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), rng.integers(1, 5, n_groups))
    labels = (rng.random((len(groups), 8)) < [1, 0.3, 0.2, 0.15, 0.1, 0.08, 0.06, 0.05]).astype(float)
    return pd.Series([f"s{i:04d}" for i in range(len(groups))]), labels, pd.Series([f"g{g}" for g in groups])


def worst_class_deviation(ids, labels, result, k):
    fold_of = result.set_index("id").fold[ids].to_numpy()
    per_fold = np.stack([labels[fold_of == f].sum(0) for f in range(k)])
    return np.abs(per_fold - labels.sum(0) / k).max()


def test_multilabel_groups_stratify_every_class():
    ids, labels, groups = multilabel_groups()
    result = folds.split(ids, labels, 5, seed=0, task="multilabel", groups=groups)
    group_of = dict(zip(ids, groups))
    assert result.assign(group=result.id.map(group_of)).groupby("group").fold.nunique().max() == 1
    assert worst_class_deviation(ids, labels, result, 5) <= 3  # positives per fold, groups of up to 4 rows
    # stratifying on the lowest positive class index (the former way) leaves the rarer classes to chance
    lowest = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0).split(ids, labels.argmax(1), groups)
    former = pd.DataFrame({"id": ids, "fold": 0})
    for number, (_, val) in enumerate(lowest):
        former.loc[val, "fold"] = number
    assert worst_class_deviation(ids, labels, former, 5) > 6


def test_planted_near_duplicate_train_pairs_never_straddle_folds():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, (300, 2), dtype=np.uint64)  # unrelated rows: ~32 of 64 bits apart

    def near(h, bits):  # flip `bits` random bits of each channel
        flips = [sum(1 << int(b) for b in rng.choice(64, bits, replace=False)) for _ in h]
        return h ^ np.array(flips, np.uint64)

    planted = [(i, i + 1) for i in range(0, 60, 2)]
    for a, b in planted:
        hashes[b] = near(hashes[a], 10)
    hashes[62] = near(hashes[61], 12)  # a chain: 61 ~ 62 ~ 63, 61 and 63 further apart
    hashes[63] = near(hashes[62], 12)
    ids = pd.Series([f"id{i:04d}" for i in range(300)])
    table = pd.DataFrame({"id": ids, "split": "train", "hash:a": hashes[:, 0], "hash:b": hashes[:, 1]})
    pairs = dedup.train_duplicates(table, threshold=12)
    expected = {(f"id{a:04d}", f"id{b:04d}") for a, b in [*planted, (61, 62), (62, 63)]}
    assert expected <= set(zip(pairs.id, pairs.match_id)) <= expected | {("id0061", "id0063")}

    labels = np.eye(3)[rng.integers(0, 3, 300)]
    groups = pd.Series([f"g{i // 2}" if i >= 200 else f"own{i}" for i in range(300)])
    result = folds.split(ids, labels, 5, seed=0, groups=groups, duplicates=pairs).set_index("id").fold
    for a, b in [*planted, (61, 62), (62, 63)]:
        assert result[f"id{a:04d}"] == result[f"id{b:04d}"]
    assert (result[ids[200::2]].to_numpy() == result[ids[201::2]].to_numpy()).all()  # groups still hold
    assert result.value_counts().min() >= 55  # and the folds stay balanced
