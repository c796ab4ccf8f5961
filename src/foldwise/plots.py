"""The report's figures, drawn from the run's artifacts: matplotlib PNGs and HTML tables.

Each function takes arrays or DataFrames and returns a matplotlib ``Figure`` (or an HTML page);
``save_figure`` and ``save_html`` write them atomically. Images come from the image cache (what
the models saw); 4-channel HPA images are shown as RGB composites.
"""

from __future__ import annotations

import html
import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score, roc_curve

from foldwise import artifacts, thresholds

DPI = 100


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    with artifacts.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")


def save_html(page: str, path: str | os.PathLike) -> None:
    with artifacts.atomic_path(path) as tmp:
        tmp.write_text(page)


def html_table(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page holding ``table`` (the report shows HTML results in a frame)."""
    style = (
        "body{font-family:sans-serif;margin:1em} table{border-collapse:collapse} "
        "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    )
    body = table.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>{body}</body></html>\n"
    )


def scores_table(scores: dict[str, dict]) -> pd.DataFrame:
    """One row per stage: metric, CV over all OOF rows, mean of the folds, whether the CV is
    optimistic (its ``biased`` flag: distilled models saw their validation labels), then each fold's score."""
    rows = []
    for stage, score in scores.items():
        folds = {f"fold {k}": value for k, value in enumerate(score.get("folds", []))}
        rows.append(
            {
                "stage": stage,
                "metric": score["metric"],
                "cv": score["cv"],
                "fold mean": score.get("fold_mean", np.nan),
                "optimistic": "yes" if score.get("biased") else "no",
                **folds,
            }
        )
    return pd.DataFrame(rows)


def to_rgb(image: np.ndarray, channels: list[str]) -> np.ndarray:
    """HxWxC uint8 -> HxWx3 uint8: grey for one channel, else the first three as RGB; a
    ``yellow`` channel (HPA: red + green stains) adds half its intensity to red and to green."""
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    rgb = image[:, :, :3].astype(np.float32)
    if "yellow" in channels:
        yellow = image[:, :, channels.index("yellow")].astype(np.float32)
        rgb[:, :, 0] += yellow / 2
        rgb[:, :, 1] += yellow / 2
    return np.clip(rgb, 0, 255).astype(np.uint8)


def training_curves(histories: list[pd.DataFrame], metric: str, title: str) -> Figure:
    """Training loss, validation metric and learning rate per epoch; one line per fold."""
    figure = Figure(layout="constrained", figsize=(13, 3.6))
    axes = figure.subplots(1, 3)
    for fold, history in enumerate(histories):
        for ax, column in zip(axes, ["train_loss", metric, "lr"]):
            ax.plot(history.epoch, history[column], marker="o", markersize=3, label=f"fold {fold}")
    for ax, label in zip(axes, ["training loss", f"validation {metric}", "learning rate"]):
        ax.set(xlabel="epoch", title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize="small")
    figure.suptitle(title)
    return figure


def roc_curves(truth: np.ndarray, scores: np.ndarray, classes: list[str], title: str) -> Figure:
    """One-vs-rest ROC curve of each class; a class whose labels are all equal has none."""
    figure = Figure(layout="constrained", figsize=(5.5, 5))
    ax = figure.subplots()
    positive = np.asarray(truth) >= 0.5
    for c, name in enumerate(classes):
        if 0 < positive[:, c].sum() < len(positive):
            fpr, tpr, _ = roc_curve(positive[:, c], scores[:, c])
            ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(positive[:, c], scores[:, c]):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize="small", loc="lower right")
    return figure


def confusion_matrix(truth: np.ndarray, scores: np.ndarray, classes: list[str], title: str) -> Figure:
    """Single-label: true class (argmax of the labels) against the predicted class (argmax of the scores)."""
    figure = Figure(layout="constrained", figsize=(1.2 * len(classes) + 2.5, 1.2 * len(classes) + 2))
    ax = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        np.argmax(truth, axis=1),
        np.argmax(scores, axis=1),
        labels=list(range(len(classes))),
        display_labels=classes,
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
    )
    ax.set_title(title)
    return figure


def f1_thresholds(truth: np.ndarray, scores: np.ndarray, classes: list[str], chosen: np.ndarray, title: str) -> Figure:
    """Multi-label: each class's F1 against its threshold, the chosen threshold marked with a dot."""
    figure = Figure(layout="constrained", figsize=(7, 4.5))
    ax = figure.subplots()
    curves = thresholds.f1_curves(truth, scores)
    at_chosen = [thresholds.f1_curves(truth[:, [c]], scores[:, [c]], np.array([t]))[0, 0] for c, t in enumerate(chosen)]
    for c, name in enumerate(classes):
        (line,) = ax.plot(thresholds.GRID, curves[c], linewidth=1.2, label=name)
        ax.plot(np.clip(chosen[c], 0, 1), at_chosen[c], "o", color=line.get_color(), markersize=7)
    ax.set(xlabel="threshold", ylabel="F1 (out-of-fold)", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncols=2)
    return figure


def image_grid(cells: list[tuple[np.ndarray, str]], columns: int, title: str) -> Figure:
    """A gallery: each cell an RGB uint8 image under its caption, ``columns`` per row."""
    if not cells:
        figure = Figure(layout="constrained", figsize=(5, 1))
        figure.text(0.5, 0.5, f"{title}: none", ha="center", va="center")
        return figure
    rows = -(-len(cells) // columns)
    figure = Figure(layout="constrained", figsize=(2.4 * columns, 2.6 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (image, caption) in zip(axes, cells):
        ax.imshow(image)
        ax.set_title(caption, fontsize=8)
    figure.suptitle(title)
    return figure


def duplicate_pairs(duplicates: pd.DataFrame, image_of, limit: int) -> list[tuple[np.ndarray, str]]:
    """Gallery cells of the ``limit`` closest pairs: the external image, then its match with the
    per-channel phash distances. ``image_of(id)`` returns an RGB image."""
    channels = [c.removeprefix("distance:") for c in duplicates.columns if c.startswith("distance:")]
    cells = []
    for pair in duplicates.sort_values(["distance", "external_id"]).head(limit).to_dict("records"):
        distances = " ".join(f"{c} {pair[f'distance:{c}']}" for c in channels)
        cells.append((image_of(pair["external_id"]), f"external {pair['external_id']}"))
        cells.append((image_of(pair["match_id"]), f"{pair['match_split']} {pair['match_id']}\n{distances}"))
    return cells


def dropped_external(duplicates: pd.DataFrame, image_of, limit: int) -> list[tuple[np.ndarray, str]]:
    """Gallery cells of the dropped external images, each with its closest match and distance."""
    closest = duplicates.sort_values(["distance", "match_id"]).drop_duplicates("external_id").sort_values("external_id")
    return [
        (image_of(row.external_id), f"{row.external_id}\n~ {row.match_id} (d {row.distance})")
        for row in closest.head(limit).itertuples(index=False)
    ]


def oof_with_labels(oof: pd.DataFrame, hard: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str]]:
    """OOF rows joined on id to their labels: (id and fold per row, truth (n, classes) bool,
    scores (n, classes), classes)."""
    classes = [c for c in hard.columns if c != "id"]
    joined = hard.merge(oof, on="id", suffixes=("", ":oof"), validate="one_to_one")
    truth = joined[classes].to_numpy() >= 0.5
    return joined[["id", "fold"]], truth, joined[[f"{c}:oof" for c in classes]].to_numpy(), classes


def worst_samples(oof: pd.DataFrame, hard: pd.DataFrame, task: str, limit: int) -> pd.DataFrame:
    """The ``limit`` most confidently wrong out-of-fold predictions, worst first.

    Single-label: the predicted class is wrong, ranked by its probability. Multi-label: a
    sample's worst class is the one furthest from its label, wrong when that distance is
    over 0.5, ranked by it. Returns id, fold, ``target`` (the class index Grad-CAM explains),
    ``confidence``, and the true and predicted classes as text.
    """
    samples, truth, scores, classes = oof_with_labels(oof, hard)
    rows = np.arange(len(samples))
    if task == "multilabel":
        error = np.abs(truth - scores)
        target = error.argmax(axis=1)
        confidence = error[rows, target]
        wrong = confidence > 0.5
        predicted = scores >= 0.5
    else:
        target = scores.argmax(axis=1)
        confidence = scores[rows, target]
        wrong = ~truth[rows, target]
        predicted = np.eye(len(classes), dtype=bool)[target]
    names = np.array(classes)
    table = samples.assign(
        target=target,
        confidence=confidence,
        truth=[" ".join(names[row]) for row in truth],
        predicted=[" ".join(names[row]) for row in predicted],
    )[wrong]
    return table.sort_values(["confidence", "id"], ascending=[False, True]).head(limit).reset_index(drop=True)


def pick(images: np.ndarray, index: pd.DataFrame, ids) -> np.ndarray:
    """The cache rows of ``ids`` (the cache index lists one id per row)."""
    return images[pd.Index(index.id).get_indexer(list(ids))]
