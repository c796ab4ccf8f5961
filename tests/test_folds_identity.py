import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, folds


def whales(n_individuals=300, seed=0):
    """Happywhale-like: sightings per individual geometric (many seen once, a few seen often)."""
    rng = np.random.default_rng(seed)
    counts = np.minimum(rng.geometric(0.4, n_individuals), 30)
    who = np.repeat(np.arange(n_individuals), counts)
    ids = pd.Series([f"img{i:05d}" for i in rng.permutation(len(who))])  # id order is not individual order
    return ids, pd.Series([f"whale{w:03d}" for w in who])


def by_fold(result, ids, identities, k):
    """Per fold: (validation individuals, training individuals, the row table)."""
    table = result.merge(pd.DataFrame({"id": ids, "who": identities}), on="id")
    return [(set(table.who[table.fold == f]), set(table.who[table.fold != f]), table) for f in range(k)]


def singleton_share(identities):
    return float((identities.map(identities.value_counts()) == 1).mean())


def test_same_seed_same_folds_other_seed_other_folds():
    ids, identities = whales()
    a = folds.split_identity(ids, identities, 5, seed=1, new_share=0.3)
    assert a.equals(folds.split_identity(ids, identities, 5, seed=1, new_share=0.3))
    assert not a.equals(folds.split_identity(ids, identities, 5, seed=2, new_share=0.3))
    assert a.id.is_monotonic_increasing and list(a.columns) == ["id", "fold"]


def test_row_order_does_not_change_the_fold_of_an_id():
    ids, identities = whales()
    pairs = pd.DataFrame({"id": ids[:40:2].to_numpy(), "match_id": ids[1:40:2].to_numpy()})
    order = np.random.default_rng(9).permutation(len(ids))
    shuffled = folds.split_identity(
        ids.iloc[order].reset_index(drop=True),
        identities.iloc[order].reset_index(drop=True),
        5,
        seed=1,
        new_share=0.3,
        duplicates=pairs.iloc[::-1],
    )
    assert shuffled.equals(folds.split_identity(ids, identities, 5, seed=1, new_share=0.3, duplicates=pairs))


@pytest.mark.parametrize("target", [0.2, 0.35, 0.5])
def test_every_fold_validates_about_the_target_share_of_new_rows(target):
    ids, identities = whales()
    result = folds.split_identity(ids, identities, 5, seed=0, new_share=target)
    shares = folds.new_shares(result, ids, identities)
    assert len(shares) == 5
    # folds of ~140 rows; individuals kept whole are pairs: a row or two either way
    assert np.abs(np.array(shares) - target).max() <= 0.02, shares
    sizes = result.fold.value_counts()
    assert sizes.max() - sizes.min() <= 2


def test_the_default_share_is_that_of_single_sighting_rows():
    ids, identities = whales()
    result = folds.split_identity(ids, identities, 5, seed=0)
    expected = singleton_share(identities)
    assert 0.1 < expected < 0.4  # the data really has singletons and repeat sightings
    assert np.abs(np.array(folds.new_shares(result, ids, identities)) - expected).max() <= 0.02


def test_known_rows_train_elsewhere_and_new_rows_nowhere():
    ids, identities = whales()
    k = 5
    result = folds.split_identity(ids, identities, k, seed=3, new_share=0.35)
    for f, (validating, training, table) in enumerate(by_fold(result, ids, identities, k)):
        known, new = validating & training, validating - training  # new: in no training row of the fold
        assert known and new  # every fold validates both kinds
        # new_shares counts the rows of exactly those individuals
        rows = table[table.fold == f]
        assert folds.new_shares(result, ids, identities)[f] == pytest.approx(rows.who.isin(new).mean())


def test_single_sighting_individuals_validate_as_new():
    ids, identities = whales()
    result = folds.split_identity(ids, identities, 5, seed=0, new_share=0.0)
    table = result.merge(pd.DataFrame({"id": ids, "who": identities}), on="id")
    folds_per_individual = table.groupby("who").fold.nunique()
    counts = identities.value_counts()
    assert (folds_per_individual[counts[counts > 1].index] >= 2).all()  # share 0: every repeat is spread
    assert folds.new_shares(result, ids, identities) == pytest.approx([singleton_share(identities)] * 5, abs=0.02)


def test_near_duplicate_pairs_share_a_fold_and_all_duplicate_individuals_are_new():
    ids, identities = whales()
    order = np.argsort(identities.to_numpy(), kind="stable")
    sorted_ids, sorted_who = ids[order].to_numpy(), identities[order].to_numpy()
    # pairs within an individual, and across individuals (a detector crop seen twice, say)
    same = [(a, b) for a, b, wa, wb in zip(sorted_ids, sorted_ids[1:], sorted_who, sorted_who[1:]) if wa == wb][:30]
    across = [(ids[i], ids[i + 7]) for i in range(0, 60, 6)]
    pairs = pd.DataFrame(same + across, columns=["id", "match_id"])
    pairs.loc[len(pairs)] = ["img99999", ids[0]]  # an id outside the training rows is ignored
    counts = identities.value_counts()
    twins = [w for w in counts[counts == 2].index if w in set(identities[ids.isin([a for a, _ in same])])]
    assert twins  # an individual seen twice, both sightings near-duplicates: it cannot be known anywhere
    result = folds.split_identity(ids, identities, 5, seed=0, new_share=0.0, duplicates=pairs)
    fold = result.set_index("id").fold
    for a, b in same + across:
        assert fold[a] == fold[b]
    table = result.merge(pd.DataFrame({"id": ids, "who": identities}), on="id")
    assert (table[table.who.isin(twins)].groupby("who").fold.nunique() == 1).all()


@pytest.mark.parametrize(
    ("k", "rows", "share", "message"),
    [
        (1, 10, None, r"folds.k must be at least 2, got 1"),
        (5, 3, None, r"folds.k = 5 folds but only 3 training rows"),
        (2, 10, 1.0, r"folds.new_share must be in \[0, 1\), got 1.0"),
        (2, 10, -0.1, r"folds.new_share must be in \[0, 1\), got -0.1"),
    ],
)
def test_bad_settings_are_one_line_errors(k, rows, share, message):
    ids = pd.Series([f"i{i}" for i in range(rows)])
    with pytest.raises(FoldwiseError, match=message):
        folds.split_identity(ids, pd.Series(["w"] * rows), k, seed=0, new_share=share)


def test_too_few_units_for_the_folds_is_an_error():
    ids = pd.Series([f"i{i}" for i in range(6)])
    identities = pd.Series(["a", "a", "a", "b", "b", "b"])
    pairs = pd.DataFrame({"id": ["i0", "i1", "i3", "i4"], "match_id": ["i1", "i2", "i4", "i5"]})
    with pytest.raises(FoldwiseError, match=r"only 2 unit\(s\).*lower folds.k"):
        folds.split_identity(ids, identities, 3, seed=0, duplicates=pairs)
