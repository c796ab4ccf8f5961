"""The HPA recipe on real pixels, against a linear baseline, as one JSON object on stdout.

    python benchmarks/real_pixels_hpa.py --workdir /tmp/realpix \
        --configfile config/presets/hpa_2018.yaml config/demo_hpa.yaml

Builds a 4-channel multi-label dataset in the HPA 2018 layout from photographs bundled with
scikit-image and scikit-learn (no download, nothing drawn here): 10 classes, each one source
photo; a sample has 1 to 3 positive classes, each a random crop (scale, position, flips) of
its photo in channel ``class % 4`` (as a stain has its filter; two in one channel overlap, as
their mean); the channels left over hold a crop of a texture photo that is no class (so an
empty channel tells nothing). 64x64 grayscale PNGs
``{id}_{red,green,blue,yellow}.png``, ``Id,Target`` with space-separated class indices,
800 train and 200 test rows; the test truth is kept aside in ``test_truth.csv``.

Then, on the test truth: the baseline (one-vs-rest logistic regression on the 4 channels at
16x16 pixels, standardised) and the workflow run with the config files given plus the
dataset's yaml (targets first, as the workflow wants them). Reported: OOF macro F1 per fold
at a flat 0.5 (``results/scores/*.json``), the OOF macro F1 of ``results/thresholds.json``
and the test macro F1 of ``results/submission_labels.csv``; with ``--stage base`` (quicker
screening: no distillation) the base models' OOF and their test scores at 0.5.

Needs scikit-image (``pip install -e .[benchmarks]``). Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import skimage.data
import yaml
from sklearn.datasets import load_sample_images
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("red", "green", "blue", "yellow")
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


def random_patch(rng: np.random.Generator, photo: np.ndarray, size: int) -> np.ndarray:
    """A square crop of 30-80% of the photo's short side, anywhere, resized to ``size``, flipped at random."""
    h, w = photo.shape
    side = int(min(h, w) * rng.uniform(0.3, 0.8))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    patch = cv2.resize(photo[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    return np.ascontiguousarray(patch)


def build(out: Path, seed: int, n_train: int, n_test: int, size: int) -> dict:
    """Write the dataset under ``out``; return its settings (the ``dataset:`` section)."""
    classes, textures = photos()
    names = list(classes)
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_train + n_test):
        labels = sorted(rng.choice(len(names), rng.integers(1, 4), replace=False).tolist())
        pixels = [random_patch(rng, textures[rng.integers(len(textures))], size) for _ in CHANNELS]
        for channel in range(len(CHANNELS)):
            photos_here = [random_patch(rng, classes[names[c]], size) for c in labels if c % len(CHANNELS) == channel]
            if photos_here:  # two classes of one channel overlap, as two stains in one filter would
                pixels[channel] = np.mean(photos_here, axis=0).astype(np.uint8)
        sample_id = f"r{i:04d}"
        for channel, image in zip(CHANNELS, pixels):
            cv2.imwrite(str(out / "images" / f"{sample_id}_{channel}.png"), image)
        rows.append({"Id": sample_id, "Target": " ".join(map(str, labels))})
    table = pd.DataFrame(rows)
    table[:n_train].to_csv(out / "train.csv", index=False)
    table[n_train:].to_csv(out / "test_truth.csv", index=False)
    table[n_train:][["Id"]].to_csv(out / "test.csv", index=False)
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
    (out / "dataset.yaml").write_text(yaml.safe_dump({"dataset": dataset}))
    return {"classes": names, "dataset": dataset}


def multi_hot(targets: pd.Series, num_classes: int) -> np.ndarray:
    hot = np.zeros((len(targets), num_classes), dtype=int)
    for row, target in enumerate(targets.fillna("").astype(str)):
        hot[row, [int(t) for t in target.split()]] = 1
    return hot


def pixels(out: Path, ids: pd.Series, side: int) -> np.ndarray:
    """Every sample's 4 channels at ``side`` x ``side``, flattened: one row per id."""
    return (
        np.stack(
            [
                np.concatenate(
                    [
                        cv2.resize(
                            cv2.imread(str(out / "images" / f"{i}_{c}.png"), cv2.IMREAD_GRAYSCALE),
                            (side, side),
                            interpolation=cv2.INTER_AREA,
                        ).ravel()
                        for c in CHANNELS
                    ]
                )
                for i in ids
            ]
        ).astype(np.float32)
        / 255
    )


def baseline(out: Path, num_classes: int, side: int = 16) -> float:
    """Test macro F1 of a one-vs-rest logistic regression on the pixels at ``side`` x ``side``."""
    train, truth = pd.read_csv(out / "train.csv"), pd.read_csv(out / "test_truth.csv")
    model = make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=2000)))
    model.fit(pixels(out, train.Id, side), multi_hot(train.Target, num_classes))
    predicted = model.predict(pixels(out, truth.Id, side))
    return float(f1_score(multi_hot(truth.Target, num_classes), predicted, average="macro", zero_division=0))


def run_workflow(workdir: Path, configfiles: list[str], stage: str, cores: int) -> float:
    targets = (
        ["results/submission_labels.csv"] if stage == "mix" else ["results/scores/base.json", "results/submission.csv"]
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        "--resources",
        f"gpu={cores}",
        "--configfile",
        *configfiles,
    ]
    log.info("%s", " ".join(cmd))
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    return time.perf_counter() - start


def workflow_scores(workdir: Path, out: Path, stage: str, num_classes: int) -> dict:
    """OOF macro F1 per fold (flat 0.5) of each stage, and the test macro F1 against the truth kept aside."""
    results = workdir / "results"
    stages = ["base", "distill", "mix"] if stage == "mix" else ["base"]
    scores = {s: json.loads((results / "scores" / f"{s}.json").read_text()) for s in stages}
    report = {
        "oof_macro_f1_at_0.5": {
            s: {"folds": [round(f, 4) for f in v["folds"]], "all": round(v["cv"], 4)} for s, v in scores.items()
        }
    }
    truth = pd.read_csv(out / "test_truth.csv", dtype={"Id": str})
    if stage == "mix":
        report["oof_macro_f1_mix"] = json.loads((results / "thresholds.json").read_text())["oof_macro_f1"]
        labels = pd.read_csv(results / "submission_labels.csv", dtype={"Id": str}).set_index("Id").loc[truth.Id]
        predicted = multi_hot(labels.Predicted, num_classes)
        report["test_macro_f1"] = {
            "submission_labels": round(
                float(f1_score(multi_hot(truth.Target, num_classes), predicted, average="macro", zero_division=0)), 4
            )
        }
    else:
        submission = pd.read_csv(results / "submission.csv", dtype={"Id": str}).set_index("Id").loc[truth.Id]
        predicted = (submission[[str(c) for c in range(num_classes)]].to_numpy() >= 0.5).astype(int)
        report["test_macro_f1"] = {
            "base_at_0.5": round(
                float(f1_score(multi_hot(truth.Target, num_classes), predicted, average="macro", zero_division=0)), 4
            )
        }
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="dataset under data/, the workflow's results/")
    parser.add_argument(
        "--configfile",
        nargs="+",
        default=["config/presets/hpa_2018.yaml", "config/demo_hpa.yaml"],
        help="laid over config/config.yaml, in order; the dataset's yaml goes last",
    )
    parser.add_argument(
        "--stage",
        choices=["mix", "base"],
        default="mix",
        help="mix: the whole recipe to submission_labels.csv; base: base models only",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--skip-workflow", action="store_true", help="dataset and baseline only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    out = args.workdir / "data"
    if not (out / "dataset.yaml").exists():
        build(out, args.seed, args.train, args.test, args.size)
    num_classes = yaml.safe_load((out / "dataset.yaml").read_text())["dataset"]["num_classes"]
    report = {
        "dataset": {
            "train": args.train,
            "test": args.test,
            "size": args.size,
            "classes": num_classes,
            "seed": args.seed,
        },
        "baseline_logreg_16px_test_macro_f1": round(baseline(out, num_classes), 4),
    }
    if not args.skip_workflow:
        configfiles = [str(Path(c).resolve()) for c in args.configfile] + [str(out / "dataset.yaml")]
        report["configfiles"] = [Path(c).name for c in configfiles]
        report["workflow_seconds"] = round(run_workflow(args.workdir, configfiles, args.stage, args.cores))
        report |= workflow_scores(args.workdir, out, args.stage, num_classes)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
