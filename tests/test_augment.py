"""Augmentation: the outcomes of random transforms have the frequencies their ``p`` promise,
are reproducible from a seed, and do not depend on which DataLoader worker draws them."""

import collections
import subprocess
import sys

import numpy as np
import pytest
import torch

from foldwise import augment, train

IMAGE = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
SQUARE = np.arange(6 * 6 * 3, dtype=np.uint8).reshape(6, 6, 3)
FLIPS = [{"name": "HorizontalFlip", "p": 0.5}, {"name": "VerticalFlip", "p": 0.5}]
DIHEDRAL = [*FLIPS, {"name": "Transpose", "p": 0.5}, {"name": "RandomRotate90", "p": 0.5}]


def dihedral_views(image):
    """The 8 images the dihedral group makes of a square one (4 for a non-square one)."""
    views = {}
    for k in range(4):
        views[f"rot{90 * k}"] = np.rot90(image, k)
        views[f"rot{90 * k}+t"] = np.rot90(image, k).transpose(1, 0, 2)
    return {name: view for name, view in views.items() if view.shape == image.shape}


def outcome(image, out):
    return next(name for name, view in dihedral_views(image).items() if np.array_equal(view, out))


def frequencies(entries, image, draws, seed=0):
    """Outcome counts of ``draws`` samples, each reseeded as the training sampler does."""
    transform = augment.create(entries)
    seeds = np.random.default_rng(seed).integers(0, 2**32, draws)
    counts = collections.Counter()
    for s in seeds:
        augment.reseed(transform, int(s))
        counts[outcome(image, transform(image=image.copy())["image"])] += 1
    return counts


@pytest.mark.parametrize(("entries", "image", "outcomes"), [(FLIPS, IMAGE, 4), (DIHEDRAL, SQUARE, 8)])
def test_each_flip_outcome_is_equally_likely(entries, image, outcomes):
    draws = 1600
    counts = frequencies(entries, image, draws)
    assert len(counts) == outcomes, counts  # the old lockstep seeding gave only 2 of the 4 flips
    expected = draws / outcomes
    # 5 binomial standard deviations: a fair sampler fails this about once in a million runs
    tolerance = 5 * np.sqrt(draws * (1 / outcomes) * (1 - 1 / outcomes))
    assert all(abs(n - expected) < tolerance for n in counts.values()), counts


def test_flips_are_independent_within_one_seeded_stream():
    transform = augment.create(FLIPS, seed=11)
    counts = collections.Counter(outcome(IMAGE, transform(image=IMAGE.copy())["image"]) for _ in range(800))
    assert len(counts) == 4 and min(counts.values()) > 150, counts


def test_a_seed_repeats_its_outcomes():
    assert frequencies(DIHEDRAL, SQUARE, 200, seed=3) == frequencies(DIHEDRAL, SQUARE, 200, seed=3)
    first, again = augment.create(DIHEDRAL, seed=5), augment.create(DIHEDRAL, seed=5)
    for _ in range(20):
        np.testing.assert_array_equal(first(image=SQUARE.copy())["image"], again(image=SQUARE.copy())["image"])


def epoch_batches(num_workers, epoch=0, seed=1):
    """One epoch of random 4x4 crops of 16 identical 12x12 images, batches of 4."""
    images = np.repeat(np.arange(144, dtype=np.uint8).reshape(1, 12, 12, 1), 16, axis=0)
    dataset = train.CachedImages(
        images, np.arange(16), np.zeros((16, 1)), augment.create([{"name": "RandomCrop", "height": 4, "width": 4}])
    )
    sampler = train.EpochSampler(len(dataset), seed, range(epoch, epoch + 1))
    loader = train.make_loader(dataset, sampler, 4, num_workers, torch.device("cpu"))
    return [x for x, _ in loader]


def test_workers_draw_different_crops_and_a_rerun_repeats_them():
    batches = epoch_batches(num_workers=2)
    # consecutive batches come from different workers: with shared seeds they were identical
    assert not torch.equal(batches[0], batches[1])
    crops = {tuple(x.flatten().tolist()) for batch in batches for x in batch}
    assert len(crops) > 8  # 16 samples, 81 possible crops
    for again, first in zip(epoch_batches(num_workers=2), batches):
        assert torch.equal(again, first)


def test_crops_depend_on_the_epoch_not_on_the_number_of_workers():
    for serial, parallel in zip(epoch_batches(num_workers=0), epoch_batches(num_workers=2)):
        assert torch.equal(serial, parallel)
    assert not all(torch.equal(a, b) for a, b in zip(epoch_batches(0, epoch=0), epoch_batches(0, epoch=1)))


def test_one_stream_over_epochs_repeats_each_epoch_alone():
    """The stream that lets workers prefetch across epochs holds exactly the epochs' own samples,
    so a run resumed at epoch 2 sees what an uninterrupted one sees there."""
    whole = list(train.EpochSampler(10, seed=3, epochs=range(0, 3), per_epoch=8))
    assert len(whole) == 24
    for epoch in range(3):
        alone = list(train.EpochSampler(10, seed=3, epochs=range(epoch, epoch + 1), per_epoch=8))
        assert whole[8 * epoch : 8 * (epoch + 1)] == alone
        assert len({i for i, _ in alone}) == 8  # a permutation, cut to whole batches
    assert whole[:8] != whole[8:16]


def test_workers_start_after_the_parent_used_opencv_threads(tmp_path):
    """A forked worker must not touch OpenCV's thread pool configuration: after the parent ran a
    parallel OpenCV op, ``cv2.setNumThreads`` in a worker hung every GPU benchmark run."""
    script = tmp_path / "fork.py"
    script.write_text(
        "import cv2, numpy as np, torch\n"
        "from foldwise import augment, train\n"
        "big = np.random.rand(3000, 3000, 3).astype(np.float32)\n"
        "cv2.resize(big, (2000, 2000), interpolation=cv2.INTER_CUBIC)  # starts OpenCV's pool\n"
        "images = np.zeros((8, 16, 16, 3), np.uint8)\n"
        "flip = augment.create([{'name': 'HorizontalFlip'}])\n"
        "data = train.CachedImages(images, np.arange(8), np.zeros((8, 1)), flip)\n"
        "loader = train.make_loader(data, train.EpochSampler(8, 0), 4, 2, torch.device('cpu'))\n"
        "print(len(list(loader)), 'batches')\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "2 batches" in run.stdout, run.stderr[-2000:]
