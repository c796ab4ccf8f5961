"""Near-duplicates by per-channel phash distance: of external samples among train and test, and
among the training rows themselves.

A pair is a duplicate when its distance is within the threshold on every channel (the HPA
2018 rule, 12 of 64 bits); duplicated external samples are dropped from training, and
duplicated training rows are kept in one fold (``folds.split``), so that none validates
a copy of itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from foldwise import phash

# query rows per distance block: the peak is CHUNK x reference x (channels + 1) bytes (the uint8
# distances of the block and one uint8 channel of it), 49 MiB at 512 x 20,000 x 4
CHUNK = 512


def within(query: np.ndarray, reference: np.ndarray, threshold: int) -> Iterator[tuple[np.ndarray, ...]]:
    """Pairs of (n, C) and (m, C) uint64 hashes within ``threshold`` on every channel, block by block.

    Yields (query rows, reference rows, their (pairs, C) distances).
    """
    query, reference = (np.ascontiguousarray(h, np.uint64) for h in (query, reference))  # once, not per block
    for start in range(0, len(query), CHUNK):
        dist = phash.hamming(query[start : start + CHUNK], reference)
        close = dist.max(axis=2)
        i, j = np.nonzero(np.less_equal(close, threshold, out=close))  # in place: no second block
        pairs = dist[i, j]
        del dist, close  # before the next block is counted, not after
        yield start + i, j, pairs


def find_duplicates(hashes: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Pairs (external_id, match_id, match_split, distance, distance:<channel>) within ``threshold``.

    ``distance`` is the largest per-channel distance of the pair, the one held to the threshold.
    """
    columns = phash.hash_columns(hashes)
    external = hashes[hashes.split == "external"]
    reference = hashes[hashes.split != "external"]
    pairs = []
    for i, j, dist in within(external[columns].to_numpy(np.uint64), reference[columns].to_numpy(np.uint64), threshold):
        block = pd.DataFrame(
            {
                "external_id": external.id.to_numpy()[i],
                "match_id": reference.id.to_numpy()[j],
                "match_split": reference.split.to_numpy()[j],
                "distance": dist.max(axis=1).astype(np.int64),
            }
        )
        for c, name in enumerate(columns):
            block["distance:" + name.removeprefix("hash:")] = dist[:, c].astype(np.int64)
        pairs.append(block)
    if not pairs:
        return pd.DataFrame(columns=["external_id", "match_id", "match_split", "distance"])
    return pd.concat(pairs, ignore_index=True).sort_values(["external_id", "distance", "match_id"], ignore_index=True)


def train_duplicates(hashes: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Pairs of training rows (id, match_id, distance) within ``threshold`` on every channel, each pair once."""
    train = hashes[hashes.split == "train"]
    values, ids = train[phash.hash_columns(hashes)].to_numpy(np.uint64), train.id.to_numpy()
    pairs = [
        pd.DataFrame({"id": ids[i[i < j]], "match_id": ids[j[i < j]], "distance": dist[i < j].max(axis=1)})
        for i, j, dist in within(values, values, threshold)
    ]
    columns = {"id": str, "match_id": str, "distance": np.int64}
    return pd.concat(pairs, ignore_index=True).astype(columns) if pairs else pd.DataFrame(columns=list(columns))


def kept_external(hashes: pd.DataFrame, duplicates: pd.DataFrame) -> pd.DataFrame:
    """The external ids with no near-duplicate in train or test, sorted: one column ``id``."""
    ids = hashes.id[(hashes.split == "external") & ~hashes.id.isin(duplicates.external_id)]
    return pd.DataFrame({"id": sorted(ids)})
