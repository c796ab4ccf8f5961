"""benchmarks/real_pixels_identity.py: its Happywhale-layout dataset against the dataset contract, the signal
it holds and its pixel baseline, on a tiny set; no workflow run."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import load_benchmark

from foldwise import retrieval

real_pixels_identity = load_benchmark("real_pixels_identity")
TRAIN, TEST, INDIVIDUALS, SIZE = 60, 20, 20, 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    real_pixels_identity.build(out, 0, TRAIN, TEST, SIZE, INDIVIDUALS, new_share=0.3)
    return out


def test_files_follow_happywhale_and_the_manifest_reads_them(tiny):
    train, sample = pd.read_csv(tiny / "train.csv"), pd.read_csv(tiny / "sample_submission.csv")
    assert list(train.columns) == ["image", "species", "individual_id"] and len(train) == TRAIN
    assert list(sample.columns) == ["image", "predictions"] and len(sample) == TEST
    assert train.individual_id.nunique() == INDIVIDUALS
    assert (train.individual_id.value_counts() == 1).mean() == pytest.approx(0.4, abs=0.05)  # Happywhale's singletons
    assert train.groupby("individual_id").species.nunique().eq(1).all()  # an individual is of one species
    dataset = yaml.safe_load((tiny / "dataset.yaml").read_text())["dataset"]
    assert dataset["task"] == "identity" and dataset["label_column"] == "individual_id"
    # every image where its split's template says (the workflow's test side reads test_images)
    assert all(Path(dataset["images"].format(id=image)).is_file() for image in train.image)
    assert all(Path(dataset["test_images"].format(id=image)).is_file() for image in sample.image)
    shapes = {cv2.imread(str(p)).shape for p in (tiny / "test_images").glob("*.jpg")}
    assert shapes == {(SIZE, SIZE, 3)}


def test_the_truth_holds_the_new_share_of_individuals_train_never_shows(tiny):
    train, truth = pd.read_csv(tiny / "train.csv"), real_pixels_identity.truth_of(tiny)
    new = truth == retrieval.NEW
    assert new.sum() == round(0.3 * TEST)
    assert truth[~new].isin(set(train.individual_id)).all()


def test_sightings_of_one_individual_are_alike_but_never_identical(tiny):
    # a sighting that ignored its individual's square would leave the nearest neighbour at chance (1/20)
    result = real_pixels_identity.baseline(tiny)
    assert result["test_top1_known"] > 0.5
    train = pd.read_csv(tiny / "train.csv")
    twice = train.individual_id.value_counts().index[0]
    first, second = real_pixels_identity.pixels(tiny / "train_images", train.image[train.individual_id == twice][:2])
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 2  # moved, turned or lit: not a copy


def test_a_sighting_shows_its_square_turned_and_shifted_but_centred():
    rng = np.random.default_rng(0)
    photo = np.zeros((200, 200, 3), np.uint8)
    photo[90:110, 90:110] = 255  # a bright spot at the square's centre
    image = real_pixels_identity.sighting(rng, photo, (100.0, 100.0, 80.0), 40)
    ys, xs = np.nonzero(image[..., 0] > image[..., 0].mean())
    # the spot's centre moves by at most the shift (8% of the side, 3.2 px of 40) and the rounding of the warp
    assert abs(ys.mean() - 19.5) < 4.5 and abs(xs.mean() - 19.5) < 4.5
