import tracemalloc

import numpy as np
import pandas as pd

from foldwise import dedup, manifest, phash


def hashes_table(ext, ref):
    rows = [(f"e{i}", "external", *h) for i, h in enumerate(ext)] + [(f"t{i}", "train", *h) for i, h in enumerate(ref)]
    table = pd.DataFrame(rows, columns=["id", "split", "hash:a", "hash:b"])
    return table.astype({"hash:a": np.uint64, "hash:b": np.uint64})


def test_duplicate_needs_every_channel_within_threshold():
    # e0 matches t0 on both channels (2 and 3 bits); e1 matches t0 on channel a only (0 and 20 bits)
    table = hashes_table([(0b11, 0b111), (0, (1 << 20) - 1)], [(0, 0), ((1 << 40) - 1, (1 << 40) - 1)])
    pairs = dedup.find_duplicates(table, threshold=12)
    assert pairs[["external_id", "match_id", "distance"]].values.tolist() == [["e0", "t0", 3]]
    assert pairs[["distance:a", "distance:b"]].values.tolist() == [[2, 3]]
    assert dedup.kept_external(table, pairs).id.tolist() == ["e1"]


def test_threshold_is_inclusive():
    table = hashes_table([(0b111, 0)], [(0, 0)])
    assert len(dedup.find_duplicates(table, threshold=3)) == 1
    assert len(dedup.find_duplicates(table, threshold=2)) == 0


def test_finds_the_demo_planted_pairs(demo_dir, demo_manifest):
    hashes = phash.hash_manifest(demo_manifest, manifest.channels(demo_manifest), threads=2)
    pairs = dedup.find_duplicates(hashes, threshold=12)
    found = set(zip(pairs.external_id, pairs.match_id))
    planted = pd.read_csv(demo_dir / "external_duplicates.csv")
    truth = set(zip(planted.external_id, planted.source_id))
    assert len(truth) == 20
    recall, precision = len(found & truth) / len(truth), len(found & truth) / len(found)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


def near_copies(rng, reference, rows, most_bits):
    """Hashes of ``rows`` reference rows with 0..most_bits random bits flipped per channel."""
    copies = reference[rng.integers(0, len(reference), rows)].copy()
    for row in copies:
        for c in range(copies.shape[1]):
            for bit in rng.choice(64, rng.integers(0, most_bits + 1), replace=False):
                row[c] ^= np.uint64(1) << np.uint64(bit)
    return copies


def whole_xor_pairs(query, reference, threshold):
    """The pairs as the first dedup found them: one uint64 XOR of whole (n, m, C) arrays, then the popcount."""
    dist = np.bitwise_count(query[:, None, :] ^ reference[None, :, :])
    i, j = np.nonzero(dist.max(axis=2) <= threshold)
    return i, j, dist[i, j]


def test_pairs_are_those_of_one_whole_xor(monkeypatch):
    monkeypatch.setattr(dedup, "CHUNK", 64)  # five blocks, the last one short
    rng = np.random.default_rng(5)
    reference = rng.integers(0, np.iinfo(np.uint64).max, (400, 3), dtype=np.uint64, endpoint=True)
    query = np.concatenate([near_copies(rng, reference, 200, 20), reference[:60]])  # exact copies too
    query = query[rng.permutation(len(query))]
    blocks = list(dedup.within(query, reference, threshold=12))
    found = [np.concatenate(parts) for parts in zip(*blocks)]
    expected = whole_xor_pairs(query, reference, threshold=12)
    assert 100 < len(expected[0]) < 260  # some near copies are beyond the threshold on a channel
    for got, want in zip(found, expected):
        np.testing.assert_array_equal(got, want)
    assert found[2].dtype == np.uint8


def test_peak_memory_is_the_stated_bound():
    # two full blocks and a short one against 10,000 reference rows of 4 channels: CHUNK x reference x
    # (channels + 1) bytes, where a uint64 XOR of the block held another 8 x channels
    rng = np.random.default_rng(6)
    reference = rng.integers(0, np.iinfo(np.uint64).max, (10_000, 4), dtype=np.uint64, endpoint=True)
    query = near_copies(rng, reference, 2 * dedup.CHUNK + 100, 8)
    bound = dedup.CHUNK * len(reference) * (reference.shape[1] + 1)
    tracemalloc.start()
    try:
        pairs = sum(len(i) for i, _, _ in dedup.within(query, reference, threshold=12))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pairs >= len(query)
    assert peak < 1.05 * bound, f"peak {peak / 2**20:.1f} MiB, stated {bound / 2**20:.1f} MiB"
