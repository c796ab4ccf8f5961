"""The report's figures, drawn from the run's artifacts: matplotlib PNGs and HTML tables.

Each function takes arrays or DataFrames and returns a matplotlib ``Figure`` (or an HTML page);
``save_figure`` and ``save_html`` write them atomically. Images come from the image cache (what
the models saw); 4-channel HPA images are shown as RGB composites. Identities (Happywhale) have
their own two: MAP@5 against the ``new_individual`` threshold, and the worst out-of-fold queries
beside their nearest gallery images; HPA's label replacement two: macro F1 against its similarity
threshold, and replaced test samples beside their nearest samples.
"""

from __future__ import annotations

import html
import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score, roc_curve

from foldwise import artifacts, retrieval, thresholds

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
    body = table.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0, na_rep="")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>{body}</body></html>\n"
    )


THRESHOLD_FREE = {"roc_auc": "macro AUC", "average_precision": "macro AP"}  # beside a multi-label F1


def fitted_thresholds_score(report: dict) -> dict:
    """results/thresholds.json as a ``scores_table`` row: the mixed OOF's macro F1 at thresholds
    chosen out of fold (each fold's from the other folds), biased as the mix is."""
    return {
        "metric": f"macro_f1 ({report['method']} thresholds)",
        "cv": report["oof_macro_f1"]["out_of_fold"],
        "biased": report.get("biased", False),
    }


def scores_table(scores: dict[str, dict]) -> pd.DataFrame:
    """One row per stage: metric, CV over all OOF rows, mean of the folds, whether the CV is
    optimistic (its ``biased`` flag: distilled models saw their validation labels), for multi-label
    data the threshold-free macro ROC AUC and average precision, for identities the fitted
    ``new_individual`` threshold and top-1 accuracy on known individuals, then each fold's score.
    A score lacking a figure leaves its cell empty."""
    rows = []
    for stage, score in scores.items():
        folds = {f"fold {k}": value for k, value in enumerate(score.get("folds", []))}
        identity = {"threshold": score.get("threshold"), "top-1 known": score.get("top1_known", np.nan)}
        rows.append(
            {
                "stage": stage,
                "metric": score["metric"],
                "cv": score["cv"],
                "fold mean": score.get("fold_mean", np.nan),
                "optimistic": "yes" if score.get("biased") else "no",
                **{label: score[key] for key, label in THRESHOLD_FREE.items() if key in score},
                **(identity if score["metric"] == "map@5" else {}),
                **folds,
            }
        )
    table = pd.DataFrame(rows)
    named = ["stage", "metric", "cv", "fold mean", "optimistic", *THRESHOLD_FREE.values(), "threshold", "top-1 known"]
    first = [c for c in named if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def baseline_scores(baselines: dict) -> dict[str, dict]:
    """Identities: results/scores/baselines.json as ``scores_table`` rows, one per baseline
    (``new_individual_first``: a bare MAP@5; ``raw_pixels``: a full score of its own)."""
    metric = baselines["metric"]
    return {
        f"baseline: {name.replace('_', ' ')}": value if isinstance(value, dict) else {"metric": metric, "cv": value}
        for name, value in baselines.items()
        if name != "metric"
    }


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


def image_grid(cells: list[tuple[np.ndarray | None, str]], columns: int, title: str) -> Figure:
    """A gallery: each cell an RGB uint8 image under its caption, ``columns`` per row; a cell
    whose image is None shows its caption alone, in the middle of the panel."""
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
        if image is None:
            ax.text(0.5, 0.5, caption, ha="center", va="center", fontsize=8, transform=ax.transAxes)
            continue
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


def image_lookup(caches: list[tuple[np.ndarray, pd.DataFrame]], channels: list[str]):
    """``image_of(id)``: a sample's RGB image from whichever cache (images, index) holds it (train
    and external rows sit in the train split's cache, test rows in the test split's)."""
    where = {sample_id: n for n, (_, index) in reversed(list(enumerate(caches))) for sample_id in index.id}

    def image_of(sample_id):
        images, index = caches[where[sample_id]]
        return to_rgb(pick(images, index, [sample_id])[0], channels)

    return image_of


# -- label replacement (HPA 2018): F1 against the similarity threshold, replaced samples -------


def replacement_curve(score: dict, test_similarity: np.ndarray, title: str) -> Figure:
    """Out-of-fold macro F1 with the nearest sample's labels replacing the classifier's, against
    the similarity threshold (results/scores/nn.json's curve: fitted on all OOF rows, so
    optimistic), the classifier's alone, the threshold applied, and on a second axis the share of
    the test each threshold would replace (the write-up's insensitivity shows as a flat top)."""
    grid, f1 = np.asarray(score["curve"]["threshold"]), np.asarray(score["curve"]["macro_f1"])
    figure = Figure(layout="constrained", figsize=(7, 4.5))
    ax = figure.subplots()
    ax.plot(grid, f1, color="tab:blue", label="with replacement (in sample: optimistic)")
    ax.axhline(score["cv_without"], color="grey", linestyle="--", label=f"classifier alone {score['cv_without']:.4f}")
    if np.isfinite(score["threshold"]):
        applied = f"applied {score['threshold']:.3f}: CV {score['cv']:.4f} out of fold"
        ax.axvline(score["threshold"], color="black", linestyle=":", label=applied)
    ax.set(xlabel="similarity threshold (replace at or above)", ylabel="OOF macro F1", title=title)
    ax.grid(alpha=0.3)
    share = ax.twinx()
    ordered = np.sort(np.asarray(test_similarity, np.float64))
    share.plot(grid, 1 - np.searchsorted(ordered, grid, side="left") / max(len(ordered), 1), color="tab:orange")
    share.set_ylabel("share of the test replaced", color="tab:orange")
    share.set_ylim(0, 1.02)
    ax.legend(fontsize="small", loc="lower left")
    return figure


def replaced_examples(test: pd.DataFrame, classifier: pd.Series, threshold: float, limit: int) -> pd.DataFrame:
    """The ``limit`` replaced test samples most worth a look: those whose labels the replacement
    changed first, least similar (nearest the threshold) first; ``test`` is results/neighbours.parquet
    (id, neighbour, similarity, labels), ``classifier`` the classifier's labels by id."""
    replaced = test[test.similarity >= threshold].assign(classifier=lambda t: t.id.map(classifier).fillna(""))
    replaced = replaced.assign(unchanged=replaced.classifier == replaced["labels"])
    return replaced.sort_values(["unchanged", "similarity", "id"]).head(limit).reset_index(drop=True)


def replaced_cells(examples: pd.DataFrame, image_of) -> list[tuple[np.ndarray, str]]:
    """Gallery cells, two per example: the test sample with the classifier's labels, then its nearest
    sample with the labels it gave."""
    cells = []
    for row in examples.itertuples(index=False):
        cells.append((image_of(row.id), f"test {row.id}\nclassifier: {row.classifier or '-'}"))
        cells.append(
            (image_of(row.neighbour), f"{row.neighbour} sim {row.similarity:.3f}\nlabels: {row.labels or '-'}")
        )
    return cells


# -- identities: the new_individual threshold and the worst queries ---------------------------


def ranked_rows(oof: pd.DataFrame) -> pd.DataFrame:
    """An identity OOF table (id, fold, individual, similarity, truth) sorted per query by
    similarity (ties by individual), with each row's 0-based ``position`` within its query."""
    rows = oof.sort_values(["id", "similarity", "individual"], ascending=[True, False, True], kind="stable")
    return rows.assign(position=rows.groupby("id").cumcount()).reset_index(drop=True)


def threshold_grid(oofs: list[pd.DataFrame], fitted, points: int = 400, k: int = 5) -> np.ndarray:
    """Ascending thresholds over every similarity that can move MAP@k (those of the top k
    individuals of every query), a little beyond them on both sides, plus the finite ``fitted`` ones."""
    similarities = np.concatenate([rows.similarity[rows.position < k].to_numpy() for rows in map(ranked_rows, oofs)])
    low, high = similarities.min(), similarities.max()
    pad = 0.03 * (high - low) or 0.01
    fitted = np.asarray(fitted, np.float64)
    return np.unique(np.r_[np.linspace(low - pad, high + pad, points), fitted[np.isfinite(fitted)]])


def map5_curve(oof: pd.DataFrame, grid: np.ndarray, chunk: int = 64) -> np.ndarray:
    """MAP@5 of the OOF table at each threshold of ``grid`` (``retrieval.threshold_scores``, a
    chunk of thresholds at a time: it holds a queries x thresholds array)."""
    truth = oof.drop_duplicates("id").set_index("id").truth
    ranked = oof[retrieval.COLUMNS]
    return np.concatenate(
        [retrieval.threshold_scores(ranked, truth, grid[i : i + chunk]) for i in range(0, len(grid), chunk)]
    )


def map5_thresholds(oofs: dict[str, pd.DataFrame], fitted: dict[str, float], title: str) -> Figure:
    """Identities: OOF MAP@5 against the ``new_individual`` threshold, one line per OOF table
    (stage or mix), each one's fitted threshold (``fitted``, from its scores JSON) marked with a
    dot. A threshold of -inf or +inf (new_individual never or always first) is drawn at the edge
    of the axis, where the curve has the same value."""
    figure = Figure(layout="constrained", figsize=(7, 4.5))
    ax = figure.subplots()
    grid = threshold_grid(list(oofs.values()), list(fitted.values()))
    for name, oof in oofs.items():
        chosen = fitted[name]
        at_chosen = map5_curve(oof, np.array([chosen]))[0]
        (line,) = ax.plot(
            grid, map5_curve(oof, grid), linewidth=1.2, label=f"{name} (fitted {chosen:.3f}: {at_chosen:.3f})"
        )
        ax.plot(np.clip(chosen, grid[0], grid[-1]), at_chosen, "o", color=line.get_color(), markersize=7)
    ax.set(xlabel="new_individual threshold (similarity)", ylabel="MAP@5 (out-of-fold)", title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return figure


def worst_queries(oof: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The worst out-of-fold queries of an identity OOF table, about half of each kind.

    Known individuals ranked lowest: a truth absent from the query's list first, then by the
    truth's rank (worst first) and its similarity (lowest first). New individuals given the
    highest similarity: by the top individual's similarity. Up to ``limit // 2`` new ones, the
    rest known (either kind fills in where the other has too few).

    Returns:
        id, fold, truth, ``kind`` (known | new), ``truth_rank`` (the truth's 1-based position among
        the individuals; 0 when absent or new), ``truth_similarity`` (NaN then), ``listed``
        (individuals ranked), ``top`` and ``top_similarity`` (the first individual): known
        queries first, each kind worst first.
    """
    rows = ranked_rows(oof)
    queries = rows[rows.position == 0].rename(columns={"individual": "top", "similarity": "top_similarity"})
    hits = rows[rows.individual == rows.truth].set_index("id")
    queries = queries.assign(
        kind=np.where(queries.truth == retrieval.NEW, "new", "known"),
        truth_rank=queries.id.map(hits.position + 1).fillna(0).astype(int).to_numpy(),
        truth_similarity=queries.id.map(hits.similarity).to_numpy(),
        listed=queries.id.map(rows.groupby("id").size()).to_numpy(),
    )
    known = queries[queries.kind == "known"].assign(order=lambda t: np.where(t.truth_rank == 0, np.inf, t.truth_rank))
    known = known.sort_values(
        ["order", "truth_similarity", "top_similarity", "id"], ascending=[False, True, False, True]
    )
    new = queries[queries.kind == "new"].sort_values(["top_similarity", "id"], ascending=[False, True])
    n_new = min(len(new), limit // 2)
    n_known = min(len(known), limit - n_new)
    n_new = min(len(new), limit - n_known)
    columns = ["id", "fold", "truth", "kind", "truth_rank", "truth_similarity", "listed", "top", "top_similarity"]
    return pd.concat([known.head(n_known), new.head(n_new)])[columns].reset_index(drop=True)


def nearest_gallery(query: np.ndarray, gallery: np.ndarray, identities, individuals) -> list[tuple[int, float]]:
    """For each of ``individuals``, the gallery row nearest to the query by cosine similarity:
    (row, similarity). ``query`` (d,), ``gallery`` (n, d) and ``identities`` (n,) its individuals."""
    similarities = retrieval.normalize(gallery) @ retrieval.normalize(np.asarray(query)[None, :])[0]
    identities = np.asarray(identities)
    nearest = []
    for individual in individuals:
        rows = np.flatnonzero(identities == individual)
        if len(rows) == 0:
            raise ValueError(f"individual {individual!r} has no image in this gallery")
        best = rows[np.argmax(similarities[rows])]
        nearest.append((int(best), float(similarities[best])))
    return nearest


def gallery_matches(
    worst: pd.DataFrame,
    oof: pd.DataFrame,
    embeddings: dict[int, pd.DataFrame],
    folds: pd.DataFrame,
    identities: pd.Series,
    gallery_extra=(),
    shown: int = 3,
) -> pd.DataFrame:
    """The gallery images beside each worst query: of each of its top ``shown`` individuals, and of
    its true individual when that is known and not among them, the image nearest to the query in
    the gallery its fold's model searched (the other folds' rows and ``gallery_extra``, the kept
    external ids), by that model's embeddings (``embeddings[fold]``: id, e000...).

    Returns:
        query, ``role`` (#1.. or truth), individual, gallery_id, similarity (recomputed) and
        ``listed`` (the OOF table's similarity of that individual, NaN when not listed; equal to
        similarity up to float32 rounding), in ``worst`` order.
    """
    rows = ranked_rows(oof)
    matches = {}
    for fold, queries in worst.groupby("fold", sort=True):
        gallery = np.r_[folds.id[folds.fold != fold].to_numpy(object), np.asarray(gallery_extra, object)]
        vectors = retrieval.embedding_matrix(embeddings[fold], gallery)
        for query in queries.itertuples(index=False):
            listed = rows[rows.id == query.id].set_index("individual").similarity
            wanted = [(f"#{p + 1}", individual) for p, individual in enumerate(listed.index[:shown])]
            if query.kind == "known" and query.truth not in set(listed.index[:shown]):
                wanted.append(("truth", query.truth))
            found = nearest_gallery(
                retrieval.embedding_matrix(embeddings[fold], [query.id])[0],
                vectors,
                identities[gallery].to_numpy(),
                [individual for _, individual in wanted],
            )
            matches[query.id] = [
                {
                    "query": query.id,
                    "role": role,
                    "individual": individual,
                    "gallery_id": gallery[row],
                    "similarity": similarity,
                    "listed": listed.get(individual, np.nan),
                }
                for (role, individual), (row, similarity) in zip(wanted, found)
            ]
    columns = ["query", "role", "individual", "gallery_id", "similarity", "listed"]
    return pd.DataFrame([match for i in worst.id for match in matches[i]], columns=columns)


def worst_query_cells(
    worst: pd.DataFrame, matches: pd.DataFrame, image_of, threshold: float, shown: int = 3
) -> list[tuple[np.ndarray | None, str]]:
    """Gallery cells, ``shown + 2`` per query: the query (its truth and how it fared), its top
    individuals' nearest gallery images, then its true individual's (when known and not shown
    already) or a note that it is new. ``image_of(id)`` returns an RGB image."""
    cells = []
    for query in worst.itertuples(index=False):
        if query.kind == "new":
            above = ">=" if query.top_similarity >= threshold else "<"  # >=: an individual before new_individual
            fared = f"new_individual; top {query.top_similarity:.3f}\n{above} threshold {threshold:.3f}"
        elif query.truth_rank:
            fared = f"truth {query.truth}\nranked {query.truth_rank} of {query.listed}"
        else:
            fared = f"truth {query.truth}\nnot in its top {query.listed}"
        cells.append((image_of(query.id), f"query {query.id} (fold {query.fold})\n{fared}"))
        own = matches[matches["query"] == query.id]
        for match in own.itertuples(index=False):
            mark = " (truth)" if match.individual == query.truth and match.role != "truth" else ""
            cells.append(
                (
                    image_of(match.gallery_id),
                    f"{match.role} {match.individual}{mark}\n{match.gallery_id} sim {match.similarity:.3f}",
                )
            )
        blanks = shown + 1 - len(own)
        if query.kind == "new":
            cells += [(None, "")] * (blanks - 1) + [(None, "new_individual:\nnot in this fold's gallery")]
        else:
            cells += [(None, "")] * blanks
    return cells
