"""Seeded K-fold splits of the training rows, stratified by label.

Single-label: StratifiedKFold; multi-label: MultilabelStratifiedKFold. Rows that must share a
fold (one value of the group column, or near-duplicate images) are linked into groups, split by
StratifiedGroupKFold. Identity datasets (one individual per row, Happywhale) are split by
``split_identity``: each fold validates known individuals and new ones, in a set share. Rows are
sorted by id first, so the fold of an id does not depend on the order of train.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from foldwise import FoldwiseError


def split(
    ids: pd.Series,
    labels: np.ndarray,
    k: int,
    seed: int,
    task: str = "multiclass",
    groups: pd.Series | None = None,
    duplicates: pd.DataFrame | None = None,
    classes: list[str] | None = None,
) -> pd.DataFrame:
    """Assign a fold 0..k-1 to every id.

    Args:
        ids: sample ids, unique.
        labels: (n, classes) 0/1 (or soft) labels, row-aligned with ids.
        k: number of folds.
        seed: shuffles the split; same seed, same folds.
        task: "multiclass" (stratify on the arg-max class) or "multilabel" (on every class).
        groups: optional group per row, row-aligned with ids; a group never spans two folds.
        duplicates: optional pairs of ids (columns ``id``, ``match_id``) that must share a fold,
            such as near-duplicate images; linked with the groups.
        classes: class names, for error messages.

    Returns:
        DataFrame with columns id, fold, sorted by id.
    """
    order = np.argsort(ids.to_numpy(str), kind="stable")
    ids = ids.iloc[order].reset_index(drop=True)
    labels = np.asarray(labels)[order]
    classes = classes or [str(i) for i in range(labels.shape[1])]
    if k < 2:
        raise FoldwiseError(f"folds.k must be at least 2, got {k}")
    if len(ids) < k:
        raise FoldwiseError(f"folds.k = {k} folds but only {len(ids)} training rows")
    if task == "multilabel":
        counts = (labels >= 0.5).sum(axis=0)
        target = (labels >= 0.5).astype(int)
    else:
        target = labels.argmax(axis=1)
        counts = np.bincount(target, minlength=labels.shape[1])
    present = counts > 0
    if (counts[present] < k).any():
        rare = int(np.flatnonzero(present & (counts < k))[0])
        fix = (
            f"lower folds.k to at most {counts[rare]} or add samples"
            if counts[rare] >= 2
            else "add samples of it or remove its row from train.csv (one row cannot be both trained and validated)"
        )
        raise FoldwiseError(
            f"folds.k = {k} folds but class {classes[rare]!r} has only {counts[rare]} training row(s); {fix}"
        )
    linked = linked_groups(ids, None if groups is None else groups.iloc[order].to_numpy(), duplicates)
    if linked is not None and linked.max() + 1 < k:
        raise FoldwiseError(
            f"folds.k = {k} folds but the training rows form only {linked.max() + 1} group(s) "
            "(group column and near-duplicates); lower folds.k"
        )
    rows = np.arange(len(ids))  # the row of each entry handed to the splitter
    if linked is not None:
        if task == "multilabel":
            # one entry per positive label (or "no label"), so that StratifiedGroupKFold balances the
            # positives of every class, counted over the rows of each group
            rows, target = np.nonzero(np.column_stack([target, target.sum(axis=1) == 0]))
        parts = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target, linked[rows])
    elif task == "multilabel":
        parts = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target)
    else:
        parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, target)
    fold = np.full(len(ids), -1, np.int64)
    for number, (_, val) in enumerate(parts):
        fold[rows[val]] = number
    return pd.DataFrame({"id": ids, "fold": fold})


def linked_groups(ids: pd.Series, groups: np.ndarray | None, duplicates: pd.DataFrame | None) -> np.ndarray | None:
    """Group number 0..G-1 of every row: rows sharing a group value or a duplicate pair are linked.

    None when nothing links rows (no group column, no duplicate pair).
    """
    if groups is None and (duplicates is None or duplicates.empty):
        return None
    n = len(ids)
    position = pd.Series(np.arange(n), index=ids.to_numpy())
    sources, targets = [], []
    if groups is not None:  # each row to a node of its group value
        sources.append(np.arange(n))
        targets.append(n + pd.factorize(groups)[0])
    if duplicates is not None and not duplicates.empty:
        sources.append(position[duplicates.id].to_numpy())
        targets.append(position[duplicates.match_id].to_numpy())
    sources, targets = np.concatenate(sources), np.concatenate(targets)
    size = max(n, int(targets.max()) + 1)
    graph = coo_matrix((np.ones(len(sources)), (sources, targets)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    return pd.factorize(component[:n])[0]


def split_identity(
    ids: pd.Series,
    identities: pd.Series,
    k: int,
    seed: int,
    new_share: float | None = None,
    duplicates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assign a fold 0..k-1 to every id of an identity dataset (Happywhale: one individual per row).

    Each fold validates known individuals (their other sightings train in the other folds) and new
    ones (every sighting in that fold, as ``new_individual`` in the test set), new rows making about
    ``new_share`` of every fold. Single-sighting individuals are new wherever they fall. Of the
    others, the fewest-sighted (seeded ties) are kept whole in one fold until the share is reached;
    the rest are spread, as evenly as their sightings allow, over the folds. Near-duplicate pairs
    share a fold: an individual whose sightings are all duplicates of each other is new.

    Args:
        ids: sample ids, unique.
        identities: individual of every row, row-aligned with ids.
        k: number of folds.
        seed: shuffles the split; same seed, same folds, whatever the row order.
        new_share: target share of new rows in each fold's validation, in [0, 1); None: the share of
            rows whose individual has one sighting. Reached from below only as far as singletons and
            duplicates allow (see ``new_shares`` for the realised share).
        duplicates: optional pairs of ids (columns ``id``, ``match_id``) that must share a fold; pairs
            naming an id outside ``ids`` are ignored.

    Returns:
        DataFrame with columns id, fold, sorted by id.
    """
    if k < 2:
        raise FoldwiseError(f"folds.k must be at least 2, got {k}")
    if len(ids) < k:
        raise FoldwiseError(f"folds.k = {k} folds but only {len(ids)} training rows")
    if new_share is not None and not 0 <= new_share < 1:
        raise FoldwiseError(f"folds.new_share must be in [0, 1), got {new_share}")
    order = np.argsort(ids.to_numpy(str), kind="stable")
    ids = ids.iloc[order].reset_index(drop=True)
    who = pd.factorize(identities.iloc[order].to_numpy())[0]  # individual 0..I-1 per row
    n, sightings = len(ids), np.bincount(who)
    if duplicates is not None and not duplicates.empty:
        duplicates = duplicates[duplicates.id.isin(ids) & duplicates.match_id.isin(ids)]
    target = float(np.mean(sightings[who] == 1)) if new_share is None else float(new_share)
    rng = np.random.default_rng(seed)

    # 1. which individuals stay whole (new): those that cannot split, then the fewest-sighted
    blocks = linked_groups(ids, None, duplicates)
    blocks = np.arange(n) if blocks is None else blocks
    spreadable = pd.Series(blocks).groupby(who).nunique().to_numpy() > 1
    whole = ~spreadable
    new_rows = int(sightings[whole].sum())
    candidates = np.flatnonzero(spreadable)
    candidates = candidates[np.lexsort((rng.random(len(candidates)), sightings[candidates]))]
    for individual in candidates:
        count = int(sightings[individual])
        if new_rows + count / 2 > target * n:  # adding it would overshoot more than stopping short
            break
        whole[individual] = True
        new_rows += count

    # 2. units that go to one fold: duplicate-linked rows, plus every row of a whole individual
    units = linked_groups(ids, np.where(whole[who], who, len(sightings) + np.arange(n)), duplicates)
    if units.max() + 1 < k:
        raise FoldwiseError(
            f"folds.k = {k} folds but the training rows form only {units.max() + 1} unit(s) "
            "(individuals kept whole and near-duplicates); lower folds.k"
        )
    unit_size = np.bincount(units)
    unit_new = np.bincount(units, weights=whole[who]) > 0
    fold_rank = rng.permutation(k)  # breaks ties between equally loaded folds
    unit_fold = np.full(len(unit_size), -1, np.int64)
    load, new_load = np.zeros(k, np.int64), np.zeros(k, np.int64)

    # 3. whole units, largest first, each to the fold with the fewest new rows
    new_units = np.flatnonzero(unit_new)
    for unit in new_units[np.lexsort((rng.random(len(new_units)), -unit_size[new_units]))]:
        fold = int(np.lexsort((fold_rank, load, new_load))[0])
        unit_fold[unit] = fold
        load[fold] += unit_size[unit]
        new_load[fold] += unit_size[unit]

    # 4. spread individuals, most-sighted first: each unit to the fold holding fewest of its rows, then
    #    the least loaded fold
    rows_of = np.split(np.argsort(who, kind="stable"), np.cumsum(sightings)[:-1])
    spread = np.flatnonzero(~whole)
    for individual in spread[np.lexsort((rng.random(len(spread)), -sightings[spread]))]:
        mine = units[rows_of[individual]]
        placed = unit_fold[mine]
        held = np.bincount(placed[placed >= 0], minlength=k)
        todo = np.unique(mine[placed < 0])
        for unit in todo[np.lexsort((rng.random(len(todo)), -unit_size[todo]))]:
            fold = int(np.lexsort((fold_rank, load, held))[0])
            unit_fold[unit] = fold
            load[fold] += unit_size[unit]
            held[fold] += np.count_nonzero(mine == unit)
    return pd.DataFrame({"id": ids, "fold": unit_fold[units]})


def new_shares(folds: pd.DataFrame, ids: pd.Series, identities: pd.Series) -> list[float]:
    """Per fold, the share of its validation rows whose individual is in no other fold (new there).

    Args:
        folds: columns id, fold (``split_identity``).
        ids, identities: the individual of every id, row-aligned with each other; joined to folds on id.

    Returns:
        k floats, fold 0 first.
    """
    table = folds.merge(pd.DataFrame({"id": ids.to_numpy(), "who": identities.to_numpy()}), on="id", how="left")
    new = table.groupby("who").fold.transform("nunique") == 1
    return [float(x) for x in new.groupby(table.fold).mean().sort_index()]
