import logging
import tracemalloc

import numpy as np
import pytest
import torch

from foldwise import FoldwiseError, cache, manifest, predict, stats


def test_cache_rows_follow_the_manifest(demo_manifest, tmp_path):
    table = demo_manifest.head(20)
    cache.build(table, 3, (24, 32), tmp_path / "images.npy", tmp_path / "index.parquet", threads=2, chunk=6)
    images = cache.load(tmp_path / "images.npy")
    assert images.shape == (20, 24, 32, 3) and images.dtype == np.uint8
    from foldwise import images as image_io

    expected = cache.fit(image_io.read_sample(manifest.paths(table)[7], 3), (24, 32))
    assert np.abs(images[7].astype(int) - expected.astype(int)).max() <= 8  # JPEG draft decoding
    assert not list(tmp_path.glob(".*part*"))


def test_a_truncated_image_fails_the_cache_and_leaves_no_file(demo_manifest, tmp_path):
    table = demo_manifest.head(5).copy()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(open(table["path:image"].iloc[3], "rb").read()[:400])
    table.loc[table.index[3], "path:image"] = str(broken)
    with pytest.raises(FoldwiseError, match="broken.jpg: cannot decode image"):
        cache.build(table, 3, (24, 32), tmp_path / "out/images.npy", tmp_path / "out/index.parquet")
    assert not list((tmp_path / "out").iterdir())


def test_fit_transposes_portrait_images():
    portrait = np.zeros((40, 20, 1), np.uint8)
    portrait[:, :5] = 255
    out = cache.fit(portrait, (20, 40), transpose_portrait=True)
    assert out.shape == (20, 40, 1) and out[:5].mean() == 255


def test_pad_letterboxes_and_crop_cuts_the_centre_keeping_the_aspect():
    wide = np.full((20, 80, 1), 200, np.uint8)  # 1:4, into a square
    wide[:, :10] = 50  # the left edge
    padded = cache.fit(wide, (40, 40), resize="pad")
    assert padded.shape == (40, 40, 1)
    assert (padded[:15] == 0).all() and (padded[-15:] == 0).all()  # black bands above and below
    assert padded[15:25, 10:].min() == 200 and padded[15:25, :5].max() == 50  # the whole image, 10 px high
    cropped = cache.fit(wide, (40, 40), resize="crop")
    assert (cropped == 200).all()  # the centre 20x20, the dark left edge cut off, no band
    stretched = cache.fit(wide, (40, 40))
    assert stretched[:, :5].max() == 50 and (stretched[:, 6:] > 150).all()  # the edge spread to 5 px
    with pytest.raises(FoldwiseError, match="cache.resize must be one of stretch, pad, crop"):
        cache.fit(wide, (40, 40), resize="fill")


def test_channel_stats_against_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 8, 8, 4), dtype=np.uint8)
    rows = np.array([0, 3, 4, 9])
    result = stats.channel_stats(images, rows, chunk_bytes=3 * 8 * 8 * 4)
    pixels = images[rows].reshape(-1, 4) / 255.0
    assert result["mean"] == pytest.approx(pixels.mean(0).tolist(), rel=1e-12)
    assert result["std"] == pytest.approx(pixels.std(0).tolist(), rel=1e-12)
    assert result["count"] == 4
    assert stats.channel_stats(images, rows, chunk_bytes=1) == result  # exact sums: blocks do not matter


def test_channel_stats_memory_is_bounded_by_the_chunk(tmp_path):
    # a 4 MB memmapped cache read in 256 KB steps: the peak stays near the step (uint8 block, its
    # uint16 squares, numpy's 64 KB cast buffer), below the step's own float64 copy (2 MB)
    cache_file = np.lib.format.open_memmap(tmp_path / "images.npy", mode="w+", dtype=np.uint8, shape=(1024, 32, 32, 4))
    cache_file[:] = np.random.default_rng(0).integers(0, 256, cache_file.shape, dtype=np.uint8)
    cache_file.flush()
    images = cache.load(tmp_path / "images.npy")
    chunk = 256 << 10
    tracemalloc.start()
    try:
        stats.channel_stats(images, np.arange(len(images)), chunk_bytes=chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * chunk, peak


def test_combined_stats_equal_those_over_both_caches():
    rng = np.random.default_rng(1)
    train, test = (
        rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8),
        rng.integers(50, 200, (3, 8, 8, 3), dtype=np.uint8),
    )
    combined = stats.combine([stats.channel_stats(train, np.arange(7)), stats.channel_stats(test, np.arange(3))])
    both = stats.channel_stats(np.concatenate([train, test]), np.arange(10))
    assert combined["mean"] == pytest.approx(both["mean"]) and combined["std"] == pytest.approx(both["std"])
    assert combined["count"] == 10


def test_a_constant_channel_is_normalised_with_the_std_floor_and_named(caplog):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (6, 8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = 255  # RGBA, opaque everywhere
    parts = [stats.channel_stats(rgba, np.arange(6))]
    with caplog.at_level(logging.WARNING, logger="foldwise.stats"):
        result = stats.combine(parts)  # as compute_stats writes stats.json
    inputs = predict.Normalize(result["mean"], result["std"])(torch.from_numpy(rgba).permute(0, 3, 1, 2))
    nan = int(torch.isnan(inputs).sum())
    assert nan == 0, f"{nan} of {inputs.numel()} inputs NaN with std {result['std']}"
    assert (inputs[:, 3] == 0).all()  # constant in, zeros out
    assert result["std"][3] == stats.STD_FLOOR and result["mean"][3] == 1.0
    assert result["std"][:3] == pytest.approx((rgba[..., :3].reshape(-1, 3) / 255).std(0).tolist())  # untouched
    assert "channel 3 is (nearly) constant: std 0" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="foldwise.stats"):
        stats.combine(parts, channels=["red", "green", "blue", "alpha"])
    assert [r.getMessage().split(" is ")[0] for r in caplog.records] == ["alpha"]
