"""The HPA demo's antibodies: columns, shared classes, group sizes, known test groups, look, seeds."""

from __future__ import annotations

import hashlib
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from foldwise import demo

SPEC = demo.DemoSpec(
    train_size=150, test_size=50, external_size=30, image_size=(48, 48), label_noise=0.0, seed=7, layout="hpa"
)


@pytest.fixture(scope="module")
def hpa(tmp_path_factory):
    out = tmp_path_factory.mktemp("hpa")
    demo.generate(out, SPEC)
    return out


def read(out, name):
    return pd.read_csv(out / name, dtype=str)


def labelled(out) -> pd.DataFrame:
    """Train, test (from the truth) and the external samples that are not planted duplicates."""
    planted = read(out, "external_duplicates.csv").external_id
    external = read(out, "external.csv")
    return pd.concat([read(out, "train.csv"), read(out, "test_truth.csv"), external[~external.Id.isin(planted)]])


def classes(target: str) -> frozenset[int]:
    return frozenset(int(c) for c in target.split())


def centre(label_sets: list[frozenset]) -> tuple[frozenset, int] | None:
    """A label set every member of a group holds or is one class from, the one most members hold:
    (that set, the members that differ); None when there is no such set."""
    toggles = {s ^ {c} for s in label_sets for c in range(len(demo.HPA_CLASSES))}
    near = [c for c in set(label_sets) | toggles if all(len(s ^ c) <= 1 for s in label_sets)]
    if not near:
        return None
    best = min(near, key=lambda c: (sum(s != c for s in label_sets), sorted(c)))
    return best, sum(s != best for s in label_sets)


def test_files_and_columns(hpa):
    columns = {
        "train.csv": ["Id", "Target", "antibody"],
        "test.csv": ["Id"],  # as HPA's sample submission: no antibody, no labels
        "test_truth.csv": ["Id", "Target", "antibody"],
        "external.csv": ["Id", "Target", "antibody"],
        "external_duplicates.csv": ["external_id", "source_id", "transform"],
    }
    for name, expected in columns.items():
        assert list(read(hpa, name).columns) == expected, name
    train, test, truth = (read(hpa, n) for n in ("train.csv", "test.csv", "test_truth.csv"))
    assert (len(train), len(test), len(read(hpa, "external.csv"))) == (150, 50, 30)
    assert truth.Id.tolist() == test.Id.tolist()
    every = pd.concat([train, truth, read(hpa, "external.csv")])
    assert every.antibody.str.fullmatch(r"ab\d{4}").all()
    assert every.Target.map(lambda t: bool(classes(t)) and max(classes(t)) < len(demo.HPA_CLASSES)).all()
    names = sorted(f"{i}_{c}.png" for i in pd.concat([train.Id, test.Id, every.Id]).unique() for c in demo.HPA_CHANNELS)
    assert sorted(p.name for p in (hpa / "images").iterdir()) == names
    with Image.open(hpa / "images" / f"{train.Id[0]}_green.png") as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == (48, 48)


def test_an_antibody_s_samples_share_its_classes(hpa, tmp_path):
    groups = [[classes(t) for t in g.Target] for _, g in labelled(hpa).groupby("antibody")]
    differ = 0
    for label_sets in groups:
        found = centre(label_sets)
        assert found, label_sets  # one class off the antibody's at most
        differ += found[1]
    share = differ / sum(map(len, groups))
    assert 0.03 <= share <= 0.2, share  # antibody_label_drift 0.1: rare, yet there
    demo.generate(tmp_path, demo.DemoSpec(**{**SPEC.__dict__, "antibody_label_drift": 0.0}))
    for _, group in labelled(tmp_path).groupby("antibody"):
        assert group.Target.nunique() == 1, group


def test_antibody_sizes_range_with_repeats(hpa):
    for table in (labelled(hpa).iloc[:200], labelled(hpa).iloc[200:]):  # train + test, then fresh external
        sizes = table.antibody.value_counts()
        assert sizes.max() <= len(demo.ANTIBODY_SIZES)
    sizes = labelled(hpa).iloc[:200].antibody.value_counts()
    assert (sizes == 1).any() and (sizes >= 4).any()
    assert sizes.between(2, 4).mean() > 0.6
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 1000):
        drawn = demo.antibody_sizes(rng, n)
        assert drawn.sum() == n and (drawn >= 1).all() and (drawn <= 6).all()
    assert np.isin(drawn, [2, 3, 4]).mean() > 0.65 and set(drawn) == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("share", [0.0, 0.6, 0.9])
def test_truth_holds_the_share_of_known_antibodies(tmp_path, share):
    spec = demo.DemoSpec(
        **{**SPEC.__dict__, "test_known_group_share": share, "antibody_label_drift": 0.0, "image_size": (32, 32)}
    )
    demo.generate(tmp_path, spec)
    train, truth = read(tmp_path, "train.csv"), read(tmp_path, "test_truth.csv")
    known = truth.antibody.isin(train.antibody)
    assert abs(known.mean() - share) <= 1 / len(truth)
    group_classes = train.groupby("antibody").Target.first()
    assert (truth.Target[known] == group_classes[truth.antibody[known]].to_numpy()).all()
    assert train.groupby("antibody").Target.nunique().max() == 1
    external = read(tmp_path, "external.csv")
    fresh = external[~external.Id.isin(read(tmp_path, "external_duplicates.csv").external_id)]
    assert not fresh.antibody.isin(pd.concat([train.antibody, truth.antibody])).any()  # antibodies of their own


def test_known_test_samples_need_train_samples():
    spec = demo.DemoSpec(train_size=3, test_size=40, external_size=0, layout="hpa", test_known_group_share=1.0)
    with pytest.raises(ValueError, match="test_known_group_share"):
        demo._stained_samples(np.random.default_rng(0), spec)


def test_class_balance_is_hpa_labels_per_sample():
    rng = np.random.default_rng(1)
    expected = np.mean([np.isin(range(6), demo.hpa_labels(rng)) for _ in range(20000)], axis=0)
    spec = demo.DemoSpec(train_size=4000, test_size=1000, external_size=0, layout="hpa")
    samples, _ = demo._stained_samples(np.random.default_rng(2), spec)
    rates = np.mean([np.isin(range(6), s.labels) for s in samples], axis=0)
    assert np.abs(rates - expected).max() < 0.05, (rates, expected)


def _small_green(out, sample_id) -> np.ndarray:
    """The green channel at 16x16, standardised: a dot product of two is their correlation."""
    with Image.open(out / "images" / f"{sample_id}_green.png") as image:
        g = np.asarray(image.resize((16, 16), Image.BILINEAR), np.float64).ravel()
    return (g - g.mean()) / (g.std() + 1e-9) / np.sqrt(g.size)


def _channels(out, sample_id) -> np.ndarray:
    return np.stack(
        [np.asarray(Image.open(out / "images" / f"{sample_id}_{c}.png"), np.float32) for c in demo.HPA_CHANNELS]
    )


def test_samples_of_an_antibody_look_alike_but_are_not_copies(hpa):
    train = read(hpa, "train.csv")
    greens = np.stack([_small_green(hpa, i) for i in train.Id])
    correlation = greens @ greens.T
    antibody, target = train.antibody.to_numpy(), train.Target.to_numpy()
    same = (antibody[:, None] == antibody[None]) & ~np.eye(len(train), dtype=bool)
    other = antibody[:, None] != antibody[None]
    same_classes_other_antibody = other & (target[:, None] == target[None])
    assert correlation[same].mean() > correlation[other].mean() + 0.25
    assert (
        correlation[same].mean() > correlation[same_classes_other_antibody].mean() + 0.25
    )  # the stain, not the classes
    pairs = [pair for _, g in train.groupby("antibody") for pair in combinations(g.Id, 2)]
    assert len(pairs) >= 50
    for first, second in pairs:
        a, b = _channels(hpa, first), _channels(hpa, second)
        assert np.abs(a - b).mean() > 3 and np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.95, (first, second)


def test_planted_duplicates_keep_their_source_s_antibody_and_classes(hpa):
    sources = pd.concat([read(hpa, "train.csv"), read(hpa, "test_truth.csv")]).set_index("Id")
    planted = read(hpa, "external_duplicates.csv").merge(
        read(hpa, "external.csv"), left_on="external_id", right_on="Id"
    )
    assert len(planted) == round(30 * SPEC.external_duplicates)
    assert (planted.antibody.to_numpy() == sources.antibody[planted.source_id].to_numpy()).all()
    assert (planted.Target.to_numpy() == sources.Target[planted.source_id].to_numpy()).all()


def test_same_seed_same_files(hpa, tmp_path):
    demo.generate(tmp_path / "again", SPEC)
    demo.generate(tmp_path / "other", demo.DemoSpec(**{**SPEC.__dict__, "seed": 8}))
    files = sorted(p.relative_to(hpa) for p in hpa.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((hpa / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    assert (hpa / "train.csv").read_bytes() != (tmp_path / "other" / "train.csv").read_bytes()


# The other layouts' CSVs for one seed, from before the HPA antibodies: they hold every label and,
# through the external set drawn after the images, every draw of the generator. Change these only
# when changing those layouts on purpose.
OTHER_LAYOUTS = {
    "plant_pathology": {
        "train.csv": "56fcb15843ba7a14",
        "test.csv": "75a90a9e7e03d01f",
        "external.csv": "7020c662a030fe33",
        "external_duplicates.csv": "5a9c1ae31c75fd6a",
    },
    "identity": {
        "train.csv": "f2985ed7e8fda002",
        "test.csv": "bd149e3e647a3509",
        "test_truth.csv": "c0700ae462852896",
        "external.csv": "cbb259ce47901251",
        "external_duplicates.csv": "8d19e3bb43810fad",
    },
}


@pytest.mark.parametrize("layout", sorted(OTHER_LAYOUTS))
def test_other_layouts_keep_their_files(tmp_path, layout):
    spec = demo.DemoSpec(train_size=30, test_size=10, external_size=10, image_size=(48, 64), seed=3, layout=layout)
    demo.generate(tmp_path, spec)
    digests = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()[:16] for name in OTHER_LAYOUTS[layout]}
    assert digests == OTHER_LAYOUTS[layout]
