"""Near-duplicates of external samples among train and test, by per-channel phash distance.

A pair is a duplicate when its distance is within the threshold on every channel (the HPA
2018 rule, 12 of 64 bits); duplicated external samples are dropped from training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foldwise import phash

CHUNK = 512  # external rows per distance block: bounds memory at CHUNK x reference x channels bytes


def find_duplicates(hashes: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Pairs (external_id, match_id, match_split, distance, distance:<channel>) within ``threshold``.

    ``distance`` is the largest per-channel distance of the pair, the one held to the threshold.
    """
    columns = phash.hash_columns(hashes)
    external = hashes[hashes.split == "external"]
    reference = hashes[hashes.split != "external"]
    ref_hashes = reference[columns].to_numpy(np.uint64)
    ext_hashes = external[columns].to_numpy(np.uint64)
    pairs = []
    for start in range(0, len(external), CHUNK):
        dist = phash.hamming(ext_hashes[start : start + CHUNK], ref_hashes)
        worst = dist.max(axis=2)
        i, j = np.nonzero(worst <= threshold)
        block = pd.DataFrame({
            "external_id": external.id.to_numpy()[start + i],
            "match_id": reference.id.to_numpy()[j],
            "match_split": reference.split.to_numpy()[j],
            "distance": worst[i, j].astype(np.int64),
        })
        for c, name in enumerate(columns):
            block["distance:" + name.removeprefix("hash:")] = dist[i, j, c].astype(np.int64)
        pairs.append(block)
    if not pairs:
        return pd.DataFrame(columns=["external_id", "match_id", "match_split", "distance"])
    return pd.concat(pairs, ignore_index=True).sort_values(["external_id", "distance", "match_id"], ignore_index=True)


def kept_external(hashes: pd.DataFrame, duplicates: pd.DataFrame) -> pd.DataFrame:
    """The external ids with no near-duplicate in train or test, sorted: one column ``id``."""
    ids = hashes.id[(hashes.split == "external") & ~hashes.id.isin(duplicates.external_id)]
    return pd.DataFrame({"id": sorted(ids)})
