"""The identity recipe on real pixels in the Happywhale 2022 layout, against a raw-pixel nearest neighbour, as one
JSON object on stdout.

    python benchmarks/real_pixels_identity.py --workdir /tmp/rpid --configfile config/config.yaml

Builds the dataset from photographs bundled with scikit-image and scikit-learn (no download, nothing drawn
here). An individual is one square of a photo (25-45% of its short side, anywhere; the photo is its ``species``,
so several individuals share a species, as whales do); each sighting shows that square again, shifted by up to
``SHIFT`` of its side, turned by up to 15 degrees, scaled by up to ``SCALE``, brightness and contrast jittered
by up to 15% (the turns and lighting of ``real_pixels_classify``), never flipped (a mirrored fin is another
fin), at ``--size`` pixels. Happywhale's files: ``train.csv`` ``image,species,individual_id``, ``train_images/``
and ``test_images/`` of ``<hex>.jpg``, ``sample_submission.csv`` ``image,predictions``; ``test_truth.csv`` keeps
each test image's individual, ``new_individual`` for the ``--new-share`` of test rows whose individual is never
in train. Train sightings per individual follow Happywhale's (foldwise.demo.sighting_counts: 40% seen once).

The workflow runs with the config files given plus only the dataset's ``dataset:`` block (targets first).
Reported: each stage's OOF MAP@5 and the workflow's own OOF pixel baseline (``results/scores``); on the test
truth, the MAP@5 of every submission at the thresholds the workflow fitted out of fold, and the raw-pixel
nearest neighbour (``foldwise.retrieval.pixel_embeddings``, 16x16, over the train gallery) at its best
threshold for the test truth itself: optimistic for the baseline, so a workflow figure above it is no
artefact of the threshold. The submission's first lines show its form. Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import cv2
import identity_demo  # benchmarks/: this script's folder is the first on sys.path
import numpy as np
import pandas as pd
import real_pixels_classify
import snakemake_run
import yaml

from foldwise import demo, retrieval

SHIFT = 0.08  # of the individual's side, each way
SCALE = 0.1  # either way
SIDE = (0.25, 0.45)  # an individual's square, as a share of its photo's short side
STAGES = ("base", "pseudo", "mix")
log = logging.getLogger("real_pixels_identity")


def draw_individual(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[float, float, float]:
    """(centre y, centre x, side) of an individual's square in a photo of ``shape``, with room to turn and shift."""
    h, w = shape[:2]
    side = min(h, w) * rng.uniform(*SIDE)
    margin = side * (0.5 + SHIFT + SCALE) * np.sqrt(2)  # the turned, shifted, scaled square stays in the photo
    margin = min(margin, h / 2, w / 2)
    return float(rng.uniform(margin, h - margin)), float(rng.uniform(margin, w - margin)), float(side)


def sighting(rng: np.random.Generator, photo: np.ndarray, square: tuple[float, float, float], size: int) -> np.ndarray:
    """One photo of the individual at ``square``: (size, size, 3) uint8 RGB, moved, turned and lit at random."""
    y, x, side = square
    y, x = y + rng.uniform(-SHIFT, SHIFT) * side, x + rng.uniform(-SHIFT, SHIFT) * side
    full = int(round(side))  # turned and scaled at the photo's resolution, then shrunk (area: no aliasing)
    matrix = cv2.getRotationMatrix2D(
        (x, y),
        rng.uniform(-real_pixels_classify.ROTATION, real_pixels_classify.ROTATION),
        rng.uniform(1 - SCALE, 1 + SCALE),
    )
    matrix[:, 2] += (full / 2 - x, full / 2 - y)  # the square's centre to the patch's
    patch = cv2.warpAffine(photo, matrix, (full, full), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return real_pixels_classify.lit(
        rng, cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    )


def build(out: Path, seed: int, n_train: int, n_test: int, size: int, individuals: int, new_share: float) -> dict:
    """Write the dataset under ``out`` (module docstring); return its ``dataset:`` block."""
    rng = np.random.default_rng(seed)
    photos = real_pixels_classify.photos()
    species = list(photos)
    n_new = int(round(n_test * new_share))
    new_individuals = max(1, n_new // 2) if n_new else 0  # 1-2 test sightings each
    names = [demo.hex_id(seed, "individual", i, 6) for i in range(individuals + new_individuals)]
    kinds = [species[i % len(species)] for i in rng.permutation(len(names))]
    squares = [draw_individual(rng, photos[kind].shape) for kind in kinds]
    known = np.repeat(np.arange(individuals), demo.sighting_counts(rng, individuals, n_train))
    seen = rng.integers(0, individuals, n_test - n_new)  # test sightings of train individuals
    extra = rng.integers(0, new_individuals, n_new)[: n_new - new_individuals]  # every new one at least once
    unseen = individuals + np.sort(np.r_[np.arange(new_individuals), extra])  # sorted: as the measured set drew them
    rows = []
    for split, who in (("train", rng.permutation(known)), ("test", rng.permutation(np.r_[seen, unseen]))):
        (out / f"{split}_images").mkdir(parents=True, exist_ok=True)
        for i, k in enumerate(who):
            image = f"{demo.hex_id(seed, split, i, 7)}.jpg"
            pixels = sighting(rng, photos[kinds[k]], squares[k], size)
            cv2.imwrite(str(out / f"{split}_images" / image), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
            rows.append({"image": image, "species": kinds[k], "individual_id": names[k], "split": split})
    table = pd.DataFrame(rows)
    train, test = table[table.split == "train"], table[table.split == "test"]
    train[["image", "species", "individual_id"]].to_csv(out / "train.csv", index=False)
    placeholder = " ".join([retrieval.NEW, *names[:4]])  # as Happywhale's sample submission: any five ids
    test[["image"]].assign(predictions=placeholder).to_csv(out / "sample_submission.csv", index=False)
    truth = retrieval.mark_new(test.set_index("image").individual_id, train.individual_id)
    truth.reset_index().to_csv(out / "test_truth.csv", index=False)
    dataset = {
        "train": str(out / "train.csv"),
        "test": str(out / "sample_submission.csv"),
        "images": str(out / "train_images" / "{id}"),
        "test_images": str(out / "test_images" / "{id}"),
        "id_column": "image",
        "task": "identity",
        "label_column": "individual_id",
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump({"dataset": dataset}, sort_keys=False))
    return dataset


def truth_of(out: Path) -> pd.Series:
    """Each test image's individual, ``new_individual`` where train never shows it."""
    return pd.read_csv(out / "test_truth.csv", dtype=str).set_index("image").individual_id


def pixels(folder: Path, images: pd.Series) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB of ``images`` in ``folder``."""
    return np.stack([cv2.cvtColor(cv2.imread(str(folder / image)), cv2.COLOR_BGR2RGB) for image in images])


def baseline(out: Path) -> dict:
    """The raw-pixel nearest neighbour over the train gallery: test MAP@5 at its best threshold for the truth
    (optimistic) and top-1 of the test rows whose individual train holds."""
    train, truth = pd.read_csv(out / "train.csv", dtype=str), truth_of(out)
    gallery = retrieval.pixel_embeddings(pixels(out / "train_images", train.image), np.arange(len(train)))
    queries = retrieval.pixel_embeddings(pixels(out / "test_images", truth.index), np.arange(len(truth)))
    ranked = retrieval.search(gallery, train.individual_id, queries, truth.index)
    threshold, best = retrieval.fit_threshold(ranked, truth)
    return {
        "test_map5_at_best_test_threshold": round(float(best), 4),
        "threshold": round(float(threshold), 4),
        "test_top1_known": round(retrieval.top1_accuracy(ranked, truth), 4),
    }


def workflow_scores(workdir: Path, out: Path) -> dict:
    results = workdir / "results"
    scores = {stage: json.loads((results / "scores" / f"{stage}.json").read_text()) for stage in STAGES}
    return {
        "oof": {s: {k: scores[s].get(k) for k in ("cv", "top1_known", "threshold", "biased")} for s in STAGES},
        "oof_pixel_baseline": json.loads((results / "scores" / "baselines.json").read_text()),
        "test": identity_demo.test_scores(results, truth_of(out)),
        "submission_mix_head": (results / "submission_mix.csv").read_text().splitlines()[:3],
    }


def main(argv=None) -> None:
    parser = snakemake_run.arguments(__doc__.split("\n\n")[0], ["config/config.yaml"], train=360, test=120)
    parser.add_argument("--individuals", type=int, default=120, help="individuals in train")
    parser.add_argument("--new-share", type=float, default=0.3, help="share of test rows of unseen individuals")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    workdir = args.workdir.resolve()  # the dataset's paths must hold from the workflow's --directory too
    out = workdir / "data"
    settings = {k: getattr(args, k) for k in ("train", "test", "size", "seed", "individuals", "new_share")}
    built = out / "settings.json"  # a workdir's dataset is reused: it must be the one asked for
    if not (out / "dataset.yaml").exists():
        build(out, args.seed, args.train, args.test, args.size, args.individuals, args.new_share)
        built.write_text(json.dumps(settings))
    elif json.loads(built.read_text()) != settings:
        parser.error(f"{out} holds another dataset, {built.read_text()}: give another --workdir")
    report = {"dataset": settings, "pixel_baseline": baseline(out)}
    if not args.skip_workflow:
        configfiles = [str(Path(c).resolve()) for c in args.configfile] + [str(out / "dataset.yaml")]
        targets = [f"results/submission{s}.csv" for s in ("", "_pseudo", "_mix")]
        targets += [f"results/scores/{s}.json" for s in (*STAGES, "baselines")]
        report["configfiles"] = [Path(c).name for c in configfiles]
        report["workflow_seconds"] = round(snakemake_run.run(targets, workdir, configfiles, args.cores))
        report |= workflow_scores(workdir, out)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
