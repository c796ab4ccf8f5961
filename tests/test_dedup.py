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
