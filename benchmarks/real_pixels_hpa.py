"""The HPA recipe on real pixels, against a linear baseline and a plain training loop, as one JSON object on stdout.

    python benchmarks/real_pixels_hpa.py --workdir /tmp/realpix \
        --configfile config/presets/hpa_2018.yaml config/demo_hpa.yaml

Builds a 4-channel multi-label dataset in the HPA 2018 layout from photographs bundled with
scikit-image and scikit-learn (no download, nothing drawn here): 10 classes, each one source
photo; a sample has 1 to 3 positive classes. 64x64 grayscale PNGs
``{id}_{red,green,blue,yellow}.png``, ``Id,Target`` with space-separated class indices,
800 train and 200 test rows, the test CSV HPA's sample submission ``Id,Predicted``; the test truth is kept aside
in ``test_truth.csv``. Two variants:

- ``easy`` (the default, the dataset of earlier results): each positive class is a random crop
  (scale, position, flips) of its photo filling channel ``class % 4`` (as a stain has its filter;
  two in one channel overlap, as their mean); the channels left over hold a crop of a texture
  photo that is no class (so an empty channel tells nothing).
- ``hard``, as HPA's green channel: every class is a crop pasted at 40-60% of the image side at a
  random position into the green channel alone, on a dark background, several classes at separate
  positions (overlapping, the brighter pixel wins); red, blue and yellow are reference stains,
  each a crop of its own texture photo, saying nothing about the labels.

``--groups N`` adds HPA's antibodies: N groups of 2 to 6 samples, each group one label set and,
per class, one crop of its photo (and in ``hard`` one paste position), its members jittered (a
shift of up to 3 pixels, flips, brightness by up to 15%) so that they look alike but differ;
the reference stains and unused channels stay each sample's own. About half the test rows are
of groups with no train sample, the rest of train groups. The group id is the ``antibody`` column
of ``train.csv`` and ``test_truth.csv`` and the dataset's ``group_column``.

Then, on the test truth: the baseline (one-vs-rest logistic regression on the 4 channels at
16x16 pixels, standardised), with ``--plain`` the plain loop (``benchmarks/plain_loop.py``: the
config's model, cache size, random-crop size and epochs, trained on 80% of the train rows, whole
groups where there are groups, its per-class thresholds maximising F1 on the other 20%), and
the workflow run with the config files given plus the dataset's yaml (targets first, as the
workflow wants them). Reported: each stage's OOF CV per fold in the config's ``train.metric`` (``results/scores/``:
macro F1 at a flat 0.5 in the HPA preset),
each base fold's kept epoch, the OOF macro F1 of ``results/thresholds.json``, the test macro F1
of ``results/submission_labels.csv`` and the test macro ROC AUC of ``results/submission_mix.csv``;
with groups and the label replacement on, ``results/scores/nn.json`` and the test macro F1 of
``results/submission_labels_nn.csv``; the submission's first lines; with ``--stage base`` (quicker screening: no
distillation) the base models' OOF and their test scores at 0.5 and ROC AUC.

Needs scikit-image (``pip install -e .[benchmarks]``). Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import plain_loop  # benchmarks/plain_loop.py: this script's folder is the first on sys.path
import skimage.data
import snakemake_run
import torch
import yaml
from sklearn.datasets import load_sample_images
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from foldwise import metrics, thresholds

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("red", "green", "blue", "yellow")
GREEN = CHANNELS.index("green")
REFERENCES = ("red", "blue", "yellow")  # the hard variant's reference stains, one texture photo each
JITTER = 3  # pixels of the image by which a group member's crops are shifted at most, each way
log = logging.getLogger("real_pixels_hpa")


def photos() -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The 10 class photos and the texture photos that fill unused channels, grayscale uint8."""
    samples = dict(zip(("china", "flower"), load_sample_images().images))
    sources = {
        name: getattr(skimage.data, name)()
        for name in (
            "astronaut",
            "camera",
            "chelsea",
            "coffee",
            "coins",
            "rocket",
            "hubble_deep_field",
            "immunohistochemistry",
        )
    }
    classes = {name: _gray(image) for name, image in (sources | samples).items()}
    textures = [_gray(getattr(skimage.data, name)()) for name in ("grass", "gravel", "brick")]
    return classes, textures


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image.astype(np.uint8)


def crop_box(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[int, int, int]:
    """(top, left, side) of a square of 30-80% of a photo's short side, anywhere in it."""
    h, w = shape
    side = int(min(h, w) * rng.uniform(0.3, 0.8))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    return int(y), int(x), side


def render(rng: np.random.Generator, photo: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """The photo's ``box`` resized to ``size`` x ``size``, flipped at random."""
    y, x, side = box
    patch = cv2.resize(photo[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    return np.ascontiguousarray(patch)


def random_patch(rng: np.random.Generator, photo: np.ndarray, size: int) -> np.ndarray:
    """A square crop of 30-80% of the photo's short side, anywhere, resized to ``size``, flipped at random."""
    return render(rng, photo, crop_box(rng, photo.shape), size)


def draw_look(rng: np.random.Generator, photo: np.ndarray, size: int, variant: str) -> dict:
    """How one class appears in a sample: ``box``, the crop of its photo, and in ``hard`` ``paste``, the
    (side, top, left) of that crop in the green channel."""
    look = {"box": crop_box(rng, photo.shape)}
    if variant == "hard":
        side = int(size * rng.uniform(0.4, 0.6))
        look["paste"] = (side, int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1)))
    return look


def jittered(rng: np.random.Generator, look: dict, photo: np.ndarray, size: int) -> dict:
    """A group member's look: the group's, its crop shifted by up to ``JITTER`` pixels of the image each way."""
    y, x, side = look["box"]
    step = side / (look["paste"][0] if "paste" in look else size)  # photo pixels per image pixel
    dy, dx = np.round(rng.integers(-JITTER, JITTER + 1, 2) * step).astype(int)
    h, w = photo.shape
    return look | {"box": (int(np.clip(y + dy, 0, h - side)), int(np.clip(x + dx, 0, w - side)), side)}


def sample_channels(
    rng: np.random.Generator,
    labels: list[int],
    looks: dict | None,
    class_photos: list[np.ndarray],
    textures: list[np.ndarray],
    size: int,
    variant: str,
) -> list[np.ndarray]:
    """One sample's 4 channels (the module docstring's variants). ``looks``: its group's look of each class,
    jittered here, with brightness noise; None: each class's look drawn afresh."""
    if variant == "easy":
        channels = [random_patch(rng, textures[rng.integers(len(textures))], size) for _ in CHANNELS]
    else:
        references = dict(zip(REFERENCES, textures))
        channels = [
            random_patch(rng, references[c], size) if c in references else np.zeros((size, size), np.uint8)
            for c in CHANNELS
        ]
    stains = {}  # easy: each channel's class patches
    for c in sorted(labels, key=lambda c: (c % len(CHANNELS), c)):  # easy: channel by channel, as ever
        photo = class_photos[c]
        look = draw_look(rng, photo, size, variant) if looks is None else jittered(rng, looks[c], photo, size)
        patch = render(rng, photo, look["box"], look["paste"][0] if variant == "hard" else size)
        if looks is not None:
            patch = np.clip(patch * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)
        if variant == "easy":
            stains.setdefault(c % len(CHANNELS), []).append(patch)
        else:
            side, top, left = look["paste"]
            region = channels[GREEN][top : top + side, left : left + side]
            np.maximum(region, patch, out=region)
    for channel, patches in stains.items():  # two classes of one channel overlap, as two stains in one filter would
        channels[channel] = np.mean(patches, axis=0).astype(np.uint8)
    return channels


def group_splits(rng: np.random.Generator, groups: int, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's group (``groups`` groups of 2 to 6 samples, ``n_train + n_test`` in all) and whether it is a
    test row: whole groups up to half the test, the rest members of groups that keep at least one train row."""
    n = n_train + n_test
    if not 2 * groups <= n <= 6 * groups:
        raise ValueError(f"{n} samples do not make {groups} groups of 2 to 6")
    sizes = np.full(groups, 2)
    np.add.at(sizes, rng.choice(np.repeat(np.arange(groups), 4), n - 2 * groups, replace=False), 1)
    group = np.repeat(np.arange(groups), sizes)
    order = rng.permutation(groups)
    unseen = order[: np.searchsorted(np.cumsum(sizes[order]), n_test / 2, side="right")]
    test = np.isin(group, unseen)
    first = np.r_[True, group[1:] != group[:-1]]  # stays in train: its group is seen
    candidates = np.flatnonzero(~test & ~first)
    if len(candidates) < n_test - test.sum():
        raise ValueError(f"{groups} groups leave too few samples for {n_test} test rows")
    test[rng.choice(candidates, n_test - test.sum(), replace=False)] = True
    return group, test


def build(out: Path, seed: int, n_train: int, n_test: int, size: int, variant: str = "easy", groups: int = 0) -> dict:
    """Write the dataset under ``out``; return its settings (the ``dataset:`` section)."""
    classes, textures = photos()
    names, class_photos = list(classes), list(classes.values())
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)

    def draw_labels() -> list[int]:
        return sorted(rng.choice(len(names), rng.integers(1, 4), replace=False).tolist())

    if groups:
        group, test = group_splits(rng, groups, n_train, n_test)
        # train rows first, then test, each in random order: an id says nothing of its group
        order = np.r_[rng.permutation(np.flatnonzero(~test)), rng.permutation(np.flatnonzero(test))]
        group_labels = [draw_labels() for _ in range(groups)]
        group_looks = [{c: draw_look(rng, class_photos[c], size, variant) for c in labels} for labels in group_labels]
        samples = ((group_labels[g], group_looks[g], {"antibody": f"ab{g:04d}"}) for g in group[order])
    else:  # each sample its own labels, drawn as it is made
        samples = ((draw_labels(), None, {}) for _ in range(n_train + n_test))
    rows = []
    for i, (labels, looks, antibody) in enumerate(samples):
        pixels = sample_channels(rng, labels, looks, class_photos, textures, size, variant)
        sample_id = f"r{i:04d}"
        for channel, image in zip(CHANNELS, pixels):
            cv2.imwrite(str(out / "images" / f"{sample_id}_{channel}.png"), image)
        rows.append({"Id": sample_id, "Target": " ".join(map(str, labels)), **antibody})
    table = pd.DataFrame(rows)
    table[:n_train].to_csv(out / "train.csv", index=False)
    table[n_train:].to_csv(out / "test_truth.csv", index=False)
    table[n_train:][["Id"]].assign(Predicted="0").to_csv(out / "test.csv", index=False)  # HPA's sample submission
    images = {c: str(out / "images" / f"{{id}}_{c}.png") for c in CHANNELS}
    dataset = {
        "train": str(out / "train.csv"),
        "test": str(out / "test.csv"),
        "images": images,
        "id_column": "Id",
        "task": "multilabel",
        "label_column": "Target",
        "num_classes": len(names),
    }
    if groups:  # folds keep an antibody together; the HPA preset's label replacement turns on
        dataset["group_column"] = "antibody"
    (out / "dataset.yaml").write_text(yaml.safe_dump({"dataset": dataset}))
    return {"classes": names, "dataset": dataset}


def multi_hot(targets: pd.Series, num_classes: int) -> np.ndarray:
    hot = np.zeros((len(targets), num_classes), dtype=int)
    for row, target in enumerate(targets.fillna("").astype(str)):
        hot[row, [int(t) for t in target.split()]] = 1
    return hot


def images(out: Path, ids: pd.Series, size: tuple[int, int]) -> np.ndarray:
    """Every sample's 4 channels resized to ``size`` (height, width): (N, 4, height, width) uint8."""
    return np.stack(
        [
            np.stack(
                [
                    cv2.resize(
                        cv2.imread(str(out / "images" / f"{i}_{c}.png"), cv2.IMREAD_GRAYSCALE),
                        size[::-1],
                        interpolation=cv2.INTER_AREA,
                    )
                    for c in CHANNELS
                ]
            )
            for i in ids
        ]
    )


def pixels(out: Path, ids: pd.Series, side: int) -> np.ndarray:
    """Every sample's 4 channels at ``side`` x ``side`` in [0, 1], flattened: one row per id."""
    return images(out, ids, (side, side)).reshape(len(ids), -1).astype(np.float32) / 255


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    return round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4)


def baseline(out: Path, num_classes: int, side: int = 16) -> float:
    """Test macro F1 of a one-vs-rest logistic regression on the pixels at ``side`` x ``side``."""
    train, truth = pd.read_csv(out / "train.csv"), pd.read_csv(out / "test_truth.csv")
    model = make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=2000)))
    model.fit(pixels(out, train.Id, side), multi_hot(train.Target, num_classes))
    return macro_f1(multi_hot(truth.Target, num_classes), model.predict(pixels(out, truth.Id, side)))


def merged_config(configfiles: list[str]) -> dict:
    """config/config.yaml with ``configfiles`` laid over it in order, as snakemake merges them: mappings key by
    key, anything else replaced."""

    def merge(base: dict, over: dict) -> dict:
        return base | {
            key: merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
            for key, value in over.items()
        }

    config = {}
    for path in [ROOT / "config" / "config.yaml", *configfiles]:
        config = merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


def replaces_labels(config: dict) -> bool:
    """Whether the workflow replaces labels by nearest neighbours (REPLACE_LABELS in workflow/rules/common.smk)."""
    enabled = config.get("label_replacement", {}).get("enabled", False)
    return enabled is True or (enabled == "auto" and bool((config.get("dataset") or {}).get("group_column")))


def plain_scores(out: Path, config: dict, num_classes: int, seed: int, threads: int) -> dict:
    """The plain loop with the config's model, cache size, random crop, epochs and batch size, trained on 80% of
    the train rows (whole groups where there are groups); per-class thresholds maximising F1 on the other 20%
    (decided as the workflow decides, ``thresholds.at_least_one``); test macro F1 at them and macro ROC AUC."""
    train_config = config["train"]
    size = tuple(config["cache"]["size"])
    crop = next(((a["height"], a["width"]) for a in train_config["augment"] if a["name"] == "RandomCrop"), None)
    train, truth = pd.read_csv(out / "train.csv"), pd.read_csv(out / "test_truth.csv")
    groups = train.antibody if "antibody" in train else train.Id
    fit, tune = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(train, groups=groups))
    x, y = images(out, train.Id, size), multi_hot(train.Target, num_classes).astype(np.float32)
    settings = {
        "model": train_config["model"],
        "crop": crop,
        "epochs": train_config["epochs"],
        "batch_size": train_config["batch_size"],
        "lr": 1e-3,  # Adam's usual rate from scratch; the config's may be a fine-tuning one
    }
    start = time.perf_counter()
    predict = plain_loop.train(
        x[fit],
        y[fit],
        **settings,
        threads=threads,
        seed=seed,
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
    cut = thresholds.fit_f1(y[tune], predict(x[tune], tta=True))
    probabilities = predict(images(out, truth.Id, size), tta=True)
    decided = thresholds.decide(probabilities, cut, config.get("thresholds", {}).get("at_least_one", True))
    truth_hot = multi_hot(truth.Target, num_classes)
    return {
        **settings,
        "size": list(size),
        "fit_rows": len(fit),
        "tune_rows": len(tune),
        "seconds": round(time.perf_counter() - start),
        "test_macro_f1": macro_f1(truth_hot, decided),
        "test_macro_roc_auc": round(metrics.mean_column_auc(truth_hot, probabilities), 4),
    }


def run_workflow(workdir: Path, configfiles: list[str], stage: str, cores: int, replace_labels: bool) -> float:
    if stage == "mix":
        targets = ["results/submission_mix.csv", "results/submission_labels.csv"]
        targets += ["results/submission_labels_nn.csv"] if replace_labels else []
    else:
        targets = ["results/scores/base.json", "results/submission.csv"]
    return snakemake_run.run(targets, workdir, configfiles, cores)


def kept_epochs(results: Path) -> list[int]:
    """Each base fold's kept epoch (1-based; ``train.select``), from its model file's meta."""
    paths = sorted((results / "models" / "base").glob("fold*/model.pt"), key=lambda p: int(p.parent.name[4:]))
    return [torch.load(p, map_location="cpu", weights_only=True)["meta"]["best_epoch"] for p in paths]


def workflow_scores(workdir: Path, out: Path, stage: str, num_classes: int) -> dict:
    """The OOF CV per fold (``train.metric``) of each stage, the base folds' kept epochs, and against the truth
    kept aside the test macro F1 and macro ROC AUC; with the label replacement, its scores."""
    results = workdir / "results"
    stages = ["base", "distill", "mix"] if stage == "mix" else ["base"]
    scores = {s: json.loads((results / "scores" / f"{s}.json").read_text()) for s in stages}
    report = {
        "oof_cv": {
            s: {"metric": v["metric"], "folds": [round(f, 4) for f in v["folds"]], "all": round(v["cv"], 4)}
            for s, v in scores.items()
        },
        "base_kept_epoch": kept_epochs(results),
    }
    truth = pd.read_csv(out / "test_truth.csv", dtype={"Id": str})
    truth_hot = multi_hot(truth.Target, num_classes)

    def labels_f1(name: str) -> float:
        labels = pd.read_csv(results / name, dtype={"Id": str}).set_index("Id").loc[truth.Id]
        return macro_f1(truth_hot, multi_hot(labels.Predicted, num_classes))

    submission = "submission_mix.csv" if stage == "mix" else "submission.csv"
    probabilities = (
        pd.read_csv(results / "probabilities" / submission, dtype={"Id": str})
        .set_index("Id")
        .loc[truth.Id, [str(c) for c in range(num_classes)]]
        .to_numpy()
    )
    report["test_macro_roc_auc"] = {submission: round(metrics.mean_column_auc(truth_hot, probabilities), 4)}
    if stage == "mix":
        report["oof_macro_f1_mix"] = json.loads((results / "thresholds.json").read_text())["oof_macro_f1"]
        report["test_macro_f1"] = {"submission_labels": labels_f1("submission_labels.csv")}
    else:
        report["test_macro_f1"] = {"base_at_0.5": macro_f1(truth_hot, (probabilities >= 0.5).astype(int))}
    # the submission as the sample submission's form has it (submission.format: auto): HPA's Id,Predicted
    report["submission_head"] = (results / submission).read_text().splitlines()[:3]
    if (results / "scores" / "nn.json").exists():
        nn = json.loads((results / "scores" / "nn.json").read_text())
        report["label_replacement"] = {
            key: round(nn[key], 4) for key in ("cv", "cv_without", "threshold", "replaced_share", "top1")
        }
        report["test_macro_f1"]["submission_labels_nn"] = labels_f1("submission_labels_nn.csv")
    return report


def main(argv=None) -> None:
    configs = ["config/presets/hpa_2018.yaml", "config/demo_hpa.yaml"]
    parser = snakemake_run.arguments(__doc__.split("\n\n")[0], configs, train=800, test=200)
    parser.add_argument(
        "--stage",
        choices=["mix", "base"],
        default="mix",
        help="mix: the whole recipe to submission_labels.csv; base: base models only",
    )
    parser.add_argument(
        "--variant",
        choices=["easy", "hard"],
        default="easy",
        help="easy: each class fills a channel of its own; hard: every class a patch in green, the rest reference "
        "stains",
    )
    parser.add_argument("--groups", type=int, default=0, help="antibodies: groups of 2 to 6 alike samples (0: none)")
    parser.add_argument("--plain", action="store_true", help="also the plain loop with the config's model and sizes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    out = args.workdir / "data"
    settings = {key: getattr(args, key) for key in ("variant", "groups", "train", "test", "size", "seed")}
    built = out / "settings.json"  # a workdir's dataset is reused: it must be the one asked for
    if not (out / "dataset.yaml").exists():
        build(out, args.seed, args.train, args.test, args.size, args.variant, args.groups)
        built.write_text(json.dumps(settings))
    elif built.exists() and json.loads(built.read_text()) != settings:
        parser.error(f"{out} holds another dataset, {built.read_text()}: give another --workdir")
    num_classes = yaml.safe_load((out / "dataset.yaml").read_text())["dataset"]["num_classes"]
    report = {
        "dataset": settings | {"classes": num_classes},
        "baseline_logreg_16px_test_macro_f1": baseline(out, num_classes),
    }
    configfiles = [str(Path(c).resolve()) for c in args.configfile] + [str(out / "dataset.yaml")]
    config = merged_config(configfiles)
    if args.plain:
        report["plain_loop"] = plain_scores(out, config, num_classes, args.seed, args.cores)
    if not args.skip_workflow:
        report["configfiles"] = [Path(c).name for c in configfiles]
        seconds = run_workflow(args.workdir, configfiles, args.stage, args.cores, replaces_labels(config))
        report["workflow_seconds"] = round(seconds)
        report["train_epochs"] = config["train"]["epochs"]
        report |= workflow_scores(args.workdir, out, args.stage, num_classes)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
