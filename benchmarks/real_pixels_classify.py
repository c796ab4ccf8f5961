"""Single-label classification on real pixels: the workflow against a linear baseline and a plain training loop,
as one JSON object on stdout.

    python benchmarks/real_pixels_classify.py --workdir /tmp/realpix_classify --configfile config/config.yaml

Builds a single-label dataset from photographs bundled with scikit-image and scikit-learn (no download,
nothing drawn here): 10 classes, each one source photo, five in colour and five grayscale (textures
among them, stacked to RGB). A sample is a random square crop of its class photo (30-80% of the short
side, anywhere in it), turned by up to 15 degrees, flipped at random, its brightness and contrast jittered
by up to 15%, resized to ``--size`` (64) RGB and written as a JPEG; 1,200 train and 400 test rows, the
classes balanced in each. ``--layout`` (``build``) writes them as the dataset contract takes them:
``names`` (``train.csv`` ``image_id,label`` with the class name, ``test.csv`` the ids alone), ``integers``
(Cassava: the class index, ``train_images/`` and ``test_images/``, a sample submission ``image_id,label``)
``folders`` (ImageFolder: ``train/<class>/``, ``test/``, no CSV) or ``onehot`` (Plant Pathology: a 0/1 column
per class, a sample submission of the same columns); the truth is kept aside in
``test_truth.csv``. The dataset's yaml holds only its ``dataset:`` section.

Then, on the test truth, accuracy and macro one-vs-rest ROC AUC of: the baseline (a logistic regression on
the standardised pixels at 16x16); the plain loop (``benchmarks/plain_loop.py``: the merged config's model,
cache size, random-crop size, epochs and batch size, trained on every train row); and, unless
``--skip-workflow``, the workflow run with the config files given plus the dataset's yaml (targets first, as
the workflow wants them): ``results/submission.csv`` (base), ``submission_distill.csv`` and
``submission_mix.csv`` (their probability tables), with the OOF CVs of ``results/scores/{base,distill,mix}.json``,
the wall time, and the first lines of ``results/submission_mix.csv`` in the sample submission's form.

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
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from foldwise import configs, metrics

ROOT = Path(__file__).resolve().parents[1]
ID, LABEL = "image_id", "label"
COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "china")  # china: scikit-learn's sample image
GRAY = ("camera", "coins", "moon", "grass", "gravel")  # alike at a glance: no colour, much texture
ROTATION = 15  # degrees either way
JITTER = 0.15  # brightness and contrast, either way
STAGES = {"base": "submission.csv", "distill": "submission_distill.csv", "mix": "submission_mix.csv"}
log = logging.getLogger("real_pixels_classify")


def photos() -> dict[str, np.ndarray]:
    """The 10 class photos, each (H, W, 3) uint8 RGB: grayscale ones stacked to three equal channels."""
    samples = dict(zip(("china", "flower"), load_sample_images().images))
    photo = {name: samples[name] if name in samples else getattr(skimage.data, name)() for name in COLOUR + GRAY}
    return {name: np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p for name, p in photo.items()}


def random_sample(rng: np.random.Generator, photo: np.ndarray, size: int) -> np.ndarray:
    """A square of 30-80% of the photo's short side, anywhere, turned by up to ``ROTATION`` degrees (the
    corners reflected in), flipped at random, brightness and contrast jittered by up to ``JITTER``, resized
    to ``size`` x ``size``: (size, size, 3) uint8."""
    h, w = photo.shape[:2]
    side = int(min(h, w) * rng.uniform(0.3, 0.8))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    patch = photo[y : y + side, x : x + side]
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-ROTATION, ROTATION), 1.0)
    patch = cv2.warpAffine(patch, turn, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    return np.ascontiguousarray(lit(rng, patch))


def lit(rng: np.random.Generator, patch: np.ndarray) -> np.ndarray:
    """``patch`` (float) with its contrast and brightness jittered by up to ``JITTER`` either way, as uint8."""
    contrast, brightness = rng.uniform(1 - JITTER, 1 + JITTER), rng.uniform(-JITTER, JITTER) * 255
    patch = (patch - patch.mean()) * contrast + patch.mean() + brightness
    return np.clip(patch, 0, 255).astype(np.uint8)


LAYOUTS = ("names", "integers", "folders", "onehot")  # --layout: the dataset contract's single-label layouts


def build(out: Path, seed: int, n_train: int, n_test: int, size: int, layout: str = "names") -> dict:
    """Write the dataset under ``out`` in ``layout``; return its classes and settings (the ``dataset:``
    section). ``names``: ``train.csv`` as ``image_id,label`` with the class name, one image folder;
    ``integers`` (Cassava): the class index, ids with the file extension, ``train_images/`` and
    ``test_images/``, the test CSV a sample submission ``image_id,label``; ``folders`` (ImageFolder):
    ``train/<class>/<id>.jpg`` and ``test/<id>.jpg``, no CSV; ``onehot`` (Plant Pathology): a 0/1 column per
    class, the test CSV a sample submission with the same columns. ``test_truth.csv`` holds every test row's id
    as the workflow names it, and its class name."""
    classes = photos()
    names = list(classes)
    rng = np.random.default_rng(seed)
    # balanced: each split goes round the classes, then is shuffled (train holds every class from 10 rows)
    labels = np.r_[rng.permutation(np.arange(n_train) % len(names)), rng.permutation(np.arange(n_test) % len(names))]
    rows = []
    for i, label in enumerate(labels):
        split = "train" if i < n_train else "test"
        file = {
            "names": f"images/c{i:05d}.jpg",
            "onehot": f"images/c{i:05d}.jpg",
            "integers": f"{split}_images/c{i:05d}.jpg",
            "folders": f"train/{names[label]}/c{i:05d}.jpg" if split == "train" else f"test/c{i:05d}.jpg",
        }[layout]
        (out / file).parent.mkdir(parents=True, exist_ok=True)
        image = random_sample(rng, classes[names[label]], size)
        cv2.imwrite(str(out / file), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        sample_id = {
            "names": f"c{i:05d}",
            "onehot": f"c{i:05d}",
            "integers": f"c{i:05d}.jpg",
            "folders": file.split("/", 1)[1],
        }[layout]
        rows.append({ID: sample_id, LABEL: names[label], "index": int(label), "file": file, "split": split})
    table = pd.DataFrame(rows)
    train, test = table[:n_train], table[n_train:]
    test[[ID, LABEL]].to_csv(out / "test_truth.csv", index=False)
    table[["file", "split", LABEL]].to_csv(out / "samples.csv", index=False)  # for the baselines
    dataset = {"id_column": ID, "task": "multiclass"}
    if layout == "folders":
        dataset |= {"train": str(out / "train"), "test": str(out / "test")}
    elif layout == "onehot":
        hot = pd.DataFrame(np.eye(len(names), dtype=int)[table["index"]], columns=names)
        pd.concat([train[[ID]], hot[:n_train]], axis=1).to_csv(out / "train.csv", index=False)
        test[[ID]].assign(**dict.fromkeys(names, 0.25)).to_csv(out / "test.csv", index=False)  # a sample submission
        dataset |= {
            "train": str(out / "train.csv"),
            "test": str(out / "test.csv"),
            "images": str(out / "images/{id}.jpg"),
        }
    else:
        dataset |= {"train": str(out / "train.csv"), "test": str(out / "test.csv"), "label_column": LABEL}
        if layout == "names":
            train[[ID, LABEL]].to_csv(out / "train.csv", index=False)
            test[[ID]].to_csv(out / "test.csv", index=False)
            # the submission's columns, in this order
            dataset |= {"images": str(out / "images" / "{id}.jpg"), "classes": names}
        else:
            train[[ID, "index"]].rename(columns={"index": LABEL}).to_csv(out / "train.csv", index=False)
            test[[ID]].assign(**{LABEL: 0}).to_csv(out / "test.csv", index=False)  # Cassava's sample submission
            dataset |= {"images": str(out / "train_images" / "{id}"), "test_images": str(out / "test_images" / "{id}")}
    (out / "dataset.yaml").write_text(yaml.safe_dump({"dataset": dataset}, sort_keys=False))
    # the class names, and the probability tables' columns in their order
    columns = [str(k) for k in range(len(names))] if layout == "integers" else names
    (out / "classes.json").write_text(json.dumps({"classes": names, "columns": columns}))
    return {"classes": names, "dataset": dataset}


def samples(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test samples as ``build`` wrote them, whatever the layout: file, split and class name."""
    table = pd.read_csv(out / "samples.csv", dtype=str)
    return table[table.split == "train"], table[table.split == "test"]


def images(out: Path, files: pd.Series, size: tuple[int, int]) -> np.ndarray:
    """Every sample resized to ``size`` (height, width): (N, 3, height, width) uint8 RGB."""
    return np.stack(
        [
            cv2.resize(
                cv2.cvtColor(cv2.imread(str(out / file)), cv2.COLOR_BGR2RGB),
                size[::-1],
                interpolation=cv2.INTER_AREA,
            ).transpose(2, 0, 1)
            for file in files
        ]
    )


def pixels(out: Path, files: pd.Series, side: int) -> np.ndarray:
    """Every sample at ``side`` x ``side`` in [0, 1], flattened: one row per file."""
    return images(out, files, (side, side)).reshape(len(files), -1).astype(np.float32) / 255


def indices(labels: pd.Series, classes: list[str]) -> np.ndarray:
    """Each row's class index in ``classes``."""
    return pd.Categorical(labels.astype(str), categories=classes).codes.astype(int)


def scored(truth: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy of the argmax and macro one-vs-rest ROC AUC of (N, classes) probabilities against class
    indices, to 4 decimals."""
    hot = np.eye(probabilities.shape[1], dtype=int)[truth]
    return {
        "test_accuracy": round(float((probabilities.argmax(1) == truth).mean()), 4),
        "test_macro_roc_auc": round(metrics.mean_column_auc(hot, probabilities), 4),
    }


def baseline(out: Path, classes: list[str], side: int = 16) -> dict:
    """A logistic regression on the standardised pixels at ``side`` x ``side``: its test accuracy and AUC."""
    train, truth = samples(out)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(pixels(out, train.file, side), indices(train[LABEL], classes))
    probabilities = np.zeros((len(truth), len(classes)))
    probabilities[:, model.classes_] = model.predict_proba(pixels(out, truth.file, side))
    return scored(indices(truth[LABEL], classes), probabilities)


def merged_config(configfiles: list[str]) -> dict:
    """config/config.yaml with ``configfiles`` over it, as the workflow sees it (``foldwise.configs.load``)."""
    return configs.load(ROOT / "config" / "config.yaml", *configfiles)


def plain_settings(config: dict) -> dict:
    """The plain loop's keywords from the config: model, random-crop size (the augment list's RandomCrop, else
    the cache size), epochs and batch size."""
    train_config = config["train"]
    size = tuple(config["cache"]["size"])
    crops = [(a["height"], a["width"]) for a in train_config.get("augment") or [] if a["name"] == "RandomCrop"]
    return {
        "model": train_config["model"],
        "crop": crops[0] if crops else size,
        "epochs": train_config["epochs"],
        "batch_size": train_config["batch_size"],
        "lr": 1e-3,  # Adam's usual rate from scratch; the config's may be a fine-tuning one
    }


def plain_scores(out: Path, config: dict, classes: list[str], seed: int, threads: int, device: str = "") -> dict:
    """The plain loop with the config's settings (``plain_settings``) on the cache size, trained on every
    train row: test accuracy and AUC of its predictions with flip TTA."""
    size = tuple(config["cache"]["size"])
    settings = plain_settings(config)
    train, truth = samples(out)
    start = time.perf_counter()
    predict = plain_loop.train(
        images(out, train.file, size),
        indices(train[LABEL], classes),
        **settings,
        num_classes=len(classes),
        threads=threads,
        seed=seed,
        device=device or ("cuda" if torch.cuda.is_available() else "cpu"),
    )
    probabilities = predict(images(out, truth.file, size), tta=True)
    return {
        **settings,
        "crop": list(settings["crop"]),
        "size": list(size),
        "train_rows": len(train),
        "seconds": round(time.perf_counter() - start),
        **scored(indices(truth[LABEL], classes), probabilities),
    }


def run_workflow(workdir: Path, configfiles: list[str], cores: int) -> float:
    targets = ["results/submission_mix.csv", *(f"results/scores/{stage}.json" for stage in STAGES)]
    return snakemake_run.run(targets, workdir, configfiles, cores)


def workflow_scores(workdir: Path, out: Path, classes: list[str]) -> dict:
    """Per stage the OOF CV (and whether it is biased) of ``results/scores/{stage}.json`` and, against the truth
    kept aside, the test accuracy and AUC of its probability table (``results/probabilities/``)."""
    results = workdir / "results"
    truth = pd.read_csv(out / "test_truth.csv", dtype=str)
    columns = json.loads((out / "classes.json").read_text())["columns"]
    report = {}
    for stage, submission in STAGES.items():
        score = json.loads((results / "scores" / f"{stage}.json").read_text())
        probabilities = (
            pd.read_csv(results / "probabilities" / submission, dtype={ID: str})
            .set_index(ID)
            .loc[truth[ID], columns]
            .to_numpy()
        )
        report[stage] = {
            "submission": submission,
            "oof_metric": score["metric"],
            "oof_cv": round(score["cv"], 4),
            "oof_biased": score.get("biased", False),
            **scored(indices(truth[LABEL], classes), probabilities),
        }
    # the submission as the sample submission's form has it (submission.format: auto)
    report["submission_mix_head"] = (results / "submission_mix.csv").read_text().splitlines()[:3]
    return report


def main(argv=None) -> None:
    parser = snakemake_run.arguments(__doc__.split("\n\n")[0], ["config/config.yaml"], train=1200, test=400)
    parser.add_argument("--skip-plain", action="store_true", help="no plain loop")
    parser.add_argument("--layout", choices=LAYOUTS, default="names", help="the dataset's layout (build)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    workdir = args.workdir.resolve()  # the dataset's paths must hold from the workflow's --directory too
    out = workdir / "data"
    settings = {key: getattr(args, key) for key in ("train", "test", "size", "seed", "layout")}
    built = out / "settings.json"  # a workdir's dataset is reused: it must be the one asked for
    if not (out / "dataset.yaml").exists():
        build(out, args.seed, args.train, args.test, args.size, args.layout)
        built.write_text(json.dumps(settings))
    elif built.exists() and json.loads(built.read_text()) != settings:
        parser.error(f"{out} holds another dataset, {built.read_text()}: give another --workdir")
    classes = json.loads((out / "classes.json").read_text())["classes"]
    configfiles = [str(Path(c).resolve()) for c in args.configfile] + [str(out / "dataset.yaml")]
    config = merged_config(configfiles)
    report = {
        "dataset": settings | {"classes": classes},
        "configfiles": [Path(c).name for c in configfiles],
        "baseline_logreg_16px": baseline(out, classes),
    }
    if not args.skip_plain:
        report["plain_loop"] = plain_scores(out, config, classes, args.seed, args.cores)
    if not args.skip_workflow:
        report["workflow_seconds"] = round(run_workflow(workdir, configfiles, args.cores))
        report["train_epochs"] = config["train"]["epochs"]
        report["workflow"] = workflow_scores(workdir, out, classes)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
