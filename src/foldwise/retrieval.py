"""Identity retrieval (Happywhale 2022): a gallery of known individuals' embeddings, a faiss
index over it, best-neighbour ranking per individual and the ``new_individual`` threshold.

The long "ranked" table is what passes between the steps: one row per (query ``id``,
``individual``) with the ``similarity`` of that individual's nearest gallery embedding, sorted
per query by similarity (ties by individual name). ``rank`` makes it from a kNN search,
``combine`` averages several (fold models, or stages), ``predict`` turns it into the five
guesses of a submission, ``fit_threshold`` picks where ``new_individual`` goes.
"""

from __future__ import annotations

import cv2
import faiss
import numpy as np
import pandas as pd

from foldwise import FoldwiseError, metrics, thresholds

NEW = "new_individual"
COLUMNS = ["id", "individual", "similarity"]


def normalize(x: np.ndarray) -> np.ndarray:
    """(n, d) float32 rows scaled to unit L2 norm; all-zero rows stay zero rather than NaN."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
        raise FoldwiseError(f"embeddings must be a 2-D (rows, dims) array; got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.where(norms > 0, norms, 1.0), np.float32)


def knn(gallery: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine nearest neighbours of each query in the gallery (exact, ``faiss.IndexFlatIP``).

    Args:
        gallery: (n, d) embeddings of known individuals' images.
        queries: (q, d) embeddings to look up.
        k: neighbours per query; several gallery rows may belong to one individual, so ask for
            more than the individuals you want ranked.
    Returns:
        similarities (q, k') float32, descending per row, and indices (q, k') int64 into the
        gallery, with k' = min(k, n).
    """
    gallery, queries = normalize(gallery), normalize(queries)
    if len(gallery) == 0:
        raise FoldwiseError("empty gallery: no known individual's embedding to search against")
    if queries.shape[1] != gallery.shape[1]:
        raise FoldwiseError(f"queries have {queries.shape[1]} dims but the gallery has {gallery.shape[1]}")
    if k < 1:
        raise FoldwiseError(f"knn: k must be at least 1, got {k}")
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    similarities, indices = index.search(queries, min(k, len(gallery)))
    return similarities, indices.astype(np.int64)


def rank(query_ids, gallery_identities, similarities: np.ndarray, indices: np.ndarray, top: int = 50) -> pd.DataFrame:
    """Per query, the individuals among its neighbours, each at its best neighbour's similarity.

    An individual with several gallery images counts once, at the maximum over them, so a
    well-photographed whale does not crowd the list.

    Args:
        query_ids: (q,) unique query ids.
        gallery_identities: (n,) the individual of each gallery row.
        similarities, indices: (q, k) from ``knn``; indices of -1 (no neighbour) are skipped.
        top: at most this many individuals per query.
    Returns:
        The ranked table (columns id, individual, similarity), queries in the given order,
        similarity descending within a query, ties by individual name.
    """
    query_ids, identities = np.asarray(query_ids), np.asarray(gallery_identities)
    similarities, indices = np.asarray(similarities, np.float64), np.asarray(indices, np.int64)
    if len(identities) == 0:
        raise FoldwiseError("empty gallery: no known individual to rank")
    if (identities == NEW).any():
        raise FoldwiseError(f"gallery identities include {NEW!r}; the gallery holds known individuals only")
    if similarities.ndim != 2 or similarities.shape != indices.shape or len(similarities) != len(query_ids):
        raise FoldwiseError(
            f"rank: similarities {similarities.shape} and indices {indices.shape} must both be "
            f"(queries, k) for {len(query_ids)} query id(s)"
        )
    if pd.Index(query_ids).has_duplicates:
        raise FoldwiseError("rank: query ids are not unique")
    if indices.size and indices.max() >= len(identities):
        raise FoldwiseError(f"rank: neighbour index {indices.max()} is outside the gallery of {len(identities)}")
    if top < 1:
        raise FoldwiseError(f"rank: top must be at least 1, got {top}")
    codes, names = pd.factorize(identities, sort=True)  # codes ordered by name: ties by name
    query = np.repeat(np.arange(len(query_ids)), indices.shape[1])
    flat, sim = indices.ravel(), similarities.ravel()
    found = flat >= 0
    query, who, sim = query[found], codes[flat[found]], sim[found]
    order = np.lexsort((who, -sim, query))
    query, who, sim = query[order], who[order], sim[order]
    # sorted by similarity within a query, an individual's first row is its best neighbour
    best = ~pd.Series(query * len(names) + who).duplicated().to_numpy()
    query, who, sim = query[best], who[best], sim[best]
    kept = _positions(query) < top
    return pd.DataFrame(
        {"id": query_ids[query[kept]], "individual": np.asarray(names)[who[kept]], "similarity": sim[kept]}
    )


def search(
    gallery: np.ndarray, gallery_identities, queries: np.ndarray, query_ids, k: int = 100, top: int = 50
) -> pd.DataFrame:
    """``rank`` of ``knn``: the ranked table of the queries against the gallery."""
    similarities, indices = knn(gallery, queries, k)
    return rank(query_ids, gallery_identities, similarities, indices, top)


def combine(tables: list[pd.DataFrame], top: int | None = None) -> pd.DataFrame:
    """The mean similarity per (id, individual) over several ranked tables (the K fold models on
    the test set, or two stages); queries in the first table's order, at most ``top`` each.

    A table lists only an individual's best neighbour within its k nearest (and its ``top``),
    so an individual missing from it for a query is at most that query's lowest listed
    similarity in that table. It gets that bound: the closest estimate the table holds. Filling
    with 0 or -1 instead would sink an individual that one model placed just past its k-th
    neighbour, and the mean would depend on k.
    """
    tables = [_sorted(_checked(table))[0] for table in tables]
    if not tables:
        raise FoldwiseError("combine: no ranked tables given")
    if top is not None and top < 1:
        raise FoldwiseError(f"combine: top must be at least 1, got {top}")
    ids = set(tables[0]["id"])
    for i, table in enumerate(tables[1:], start=1):
        if set(table["id"]) != ids:
            raise FoldwiseError(f"combine: ranked table {i} does not hold the same query ids as table 0")
    # table 0's rows come first, so the pairs keep its query order
    pairs = pd.concat([table[["id", "individual"]] for table in tables]).drop_duplicates(ignore_index=True)
    total = np.zeros(len(pairs))
    for table in tables:
        merged = pairs.merge(table, on=["id", "individual"], how="left")
        floor = merged["id"].map(table.groupby("id")["similarity"].min())
        total += merged["similarity"].fillna(floor).to_numpy(np.float64)
    pairs["similarity"] = total / len(tables)
    rows, query, position = _sorted(pairs)
    return rows if top is None else rows[position < top].reset_index(drop=True)


def predict(ranked: pd.DataFrame, threshold: float, k: int = 5) -> pd.DataFrame:
    """Per query, its k guesses: individuals by similarity, with ``NEW`` placed before the first
    individual whose similarity is below ``threshold`` (appended when all of fewer than k are
    at or above it; first when threshold is +inf).

    Returns:
        Columns id (the ranked table's query order) and predictions (a list of at most k
        distinct str; fewer only when a query has fewer than k - 1 individuals).
    """
    if np.isnan(threshold):
        raise FoldwiseError("predict: threshold is NaN")
    rows, query, position = _ordered(ranked)
    ids = rows["id"].to_numpy()[position == 0]
    # sorted by similarity, the individuals at or above the threshold are the ones before NEW
    before = np.bincount(query[rows["similarity"].to_numpy() >= threshold], minlength=len(ids))
    kept = position < k
    names = rows["individual"].to_numpy()[kept]
    lists = np.split(names, np.cumsum(np.bincount(query[kept], minlength=len(ids)))[:-1])
    predictions = [([*guesses[:n], NEW, *guesses[n:]])[:k] for guesses, n in zip(map(list, lists), before)]
    return pd.DataFrame({"id": ids, "predictions": predictions})


def threshold_scores(ranked: pd.DataFrame, truth: pd.Series, candidates, k: int = 5) -> np.ndarray:
    """MAP@k of ``predict(ranked, t, k)`` for every threshold t of ``candidates``: (m,) scores.

    Per query only two numbers matter: r, the truth's position among the individuals (k when
    it is absent or NEW), and n(t), how many individuals are at or above t (NEW's position).
    A known truth then lands at r, or r + 1 when n(t) <= r; a NEW truth lands at n(t).
    """
    candidates = np.asarray(candidates, np.float64)
    if candidates.ndim != 1 or len(candidates) == 0 or np.isnan(candidates).any():
        raise FoldwiseError("threshold candidates must be a non-empty 1-D list of numbers")
    if k < 1:
        raise FoldwiseError(f"k must be at least 1, got {k}")
    rows, query, position = _ordered(ranked)
    ids = rows["id"].to_numpy()[position == 0]
    true = _aligned(truth, ids)
    top = position < k
    similarity = np.full((len(ids), k), np.nan)  # NaN: no individual there, below every threshold
    similarity[query[top], position[top]] = rows["similarity"].to_numpy()[top]
    found = top & (rows["individual"].to_numpy() == true[query])
    truth_at = np.full(len(ids), k)
    truth_at[query[found]] = position[found]
    before = np.zeros((len(ids), len(candidates)), np.int64)  # n(t), capped at k
    for column in similarity.T:
        before += column[:, None] >= candidates[None, :]
    is_new = (true == NEW)[:, None]
    at = np.where(is_new, before, truth_at[:, None] + (truth_at[:, None] >= before))
    return np.where(at < k, 1.0 / (at + 1), 0.0).mean(axis=0)


def fit_threshold(ranked: pd.DataFrame, truth: pd.Series, candidates=None, k: int = 5) -> tuple[float, float]:
    """The ``new_individual`` threshold that maximises MAP@k of ``predict`` on labelled queries.

    Args:
        ranked: the ranked table of the labelled queries (e.g. a fold's validation images
            against the other folds' gallery).
        truth: the true individual per query id, ``NEW`` for individuals outside the gallery
            (see ``mark_new``); ids beyond the ranked queries are ignored.
        candidates: thresholds to try; default 198 quantiles of the queries' top-1
            similarities plus -inf (NEW never inserted) and +inf (NEW always first).
    Returns:
        (threshold, MAP@k there). Of the widest run of consecutive candidates (ascending) that
        share the best score, the middle one: every candidate of the run scores the best, and
        the middle is furthest from where the score drops on queries it was not fitted on.
    """
    if candidates is None:
        rows, _, position = _ordered(ranked)
        top1 = rows["similarity"].to_numpy()[position == 0]
        candidates = np.r_[-np.inf, np.quantile(top1, np.linspace(0, 1, 198)), np.inf]
    candidates = np.unique(np.asarray(candidates, np.float64))  # ascending, so runs are ranges
    scores = threshold_scores(ranked, truth, candidates, k)
    chosen = thresholds.middle_of_best(scores)
    return float(candidates[chosen]), float(scores[chosen])


def top1_accuracy(ranked: pd.DataFrame, truth: pd.Series) -> float:
    """Share of queries with a known (not ``NEW``) truth whose top individual is it; NaN if none."""
    rows, _, position = _ordered(ranked)
    first = rows[position == 0]
    true = _aligned(truth, first["id"].to_numpy())
    known = true != NEW
    if not known.any():
        return float("nan")
    return float((first["individual"].to_numpy()[known] == true[known]).mean())


def pseudo_labels(ranked: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Queries confident enough to join the gallery: their top individual, when its similarity
    is at or above ``threshold``. Columns id, individual, similarity."""
    rows, _, position = _ordered(ranked)
    first = rows[position == 0]
    return first[first["similarity"].to_numpy() >= threshold].reset_index(drop=True)


def mark_new(labels: pd.Series, gallery_identities) -> pd.Series:
    """``labels`` (individual per id) with every individual absent from the gallery replaced by
    ``NEW``: the truth a held-out fold is scored against."""
    return labels.where(labels.isin(set(np.asarray(gallery_identities).tolist())), NEW)


def pixel_embeddings(images: np.ndarray, rows, size: int = 16, chunk: int = 1024) -> np.ndarray:
    """A raw-pixel baseline embedding: each image shrunk to size x size (cv2 INTER_AREA),
    flattened, centred on its own mean (brightness drops out) and L2-normalised.

    Args:
        images: (N, H, W, C) uint8, typically the image cache's memmap.
        rows: which images to embed.
        chunk: images read at a time, so a large memmap is never loaded whole.
    Returns:
        (len(rows), size * size * C) float32.
    """
    if images.ndim != 4:
        raise FoldwiseError(f"images must be (N, H, W, C); got shape {images.shape}")
    rows = np.asarray(rows, np.int64)
    out = np.empty((len(rows), size * size * images.shape[3]), np.float32)
    for start in range(0, len(rows), chunk):
        block = np.asarray(images[rows[start : start + chunk]])  # fancy indexing reads only these
        for i, image in enumerate(block):
            # reshape, not ravel of the result: cv2 drops a single channel's axis
            out[start + i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).reshape(-1)
    out -= out.mean(axis=1, keepdims=True)
    return normalize(out)


def _checked(ranked: pd.DataFrame) -> pd.DataFrame:
    missing = sorted(set(COLUMNS) - set(ranked.columns))
    if missing:
        raise FoldwiseError(f"ranked table lacks column(s) {missing}; expected {COLUMNS}")
    if len(ranked) == 0:
        raise FoldwiseError("ranked table is empty")
    if (ranked["individual"] == NEW).any():
        raise FoldwiseError(f"ranked table lists {NEW!r} as an individual; it is inserted by predict")
    if ranked.duplicated(["id", "individual"]).any():
        raise FoldwiseError("ranked table lists an individual twice for one query")
    if ranked["similarity"].isna().any():
        raise FoldwiseError("ranked table holds NaN similarities")
    return ranked[COLUMNS]


def _sorted(ranked: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows sorted by (query in order of first appearance, similarity desc, individual name),
    with each row's query number and 0-based position within its query."""
    query, _ = pd.factorize(ranked["id"], sort=False)
    who, _ = pd.factorize(ranked["individual"], sort=True)
    order = np.lexsort((who, -ranked["similarity"].to_numpy(np.float64), query))
    rows = ranked.iloc[order].reset_index(drop=True)
    return rows, query[order], _positions(query[order])


def _ordered(ranked: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return _sorted(_checked(ranked))


def _positions(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal values (groups sorted)."""
    if len(groups) == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    return np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))


def _aligned(truth: pd.Series, ids: np.ndarray) -> np.ndarray:
    """The truth of each of ``ids``, as an object array."""
    if not isinstance(truth, pd.Series):
        raise FoldwiseError("truth must be a pandas Series: the true individual (or NEW) indexed by id")
    if truth.index.has_duplicates:
        raise FoldwiseError("truth lists a query id twice")
    missing = pd.Index(ids).difference(truth.index)
    if len(missing):
        raise FoldwiseError(f"{len(missing)} ranked query id(s) have no truth, e.g. {list(missing[:3])}")
    return truth.reindex(ids).to_numpy(object)


# -- the workflow's steps: out-of-fold queries, test queries, scores ---------------------------


def embedding_matrix(table: pd.DataFrame, ids) -> np.ndarray:
    """(len(ids), d) rows of an embedding table (``id`` and one column per dimension) in ``ids`` order."""
    by_id = table.set_index("id")
    missing = pd.Index(ids).difference(by_id.index)
    if len(missing):
        raise FoldwiseError(f"{len(missing)} id(s) have no embedding, e.g. {missing[0]!r}")
    return by_id.loc[list(ids)].to_numpy(np.float32)


def oof_ranking(
    embeddings: list[pd.DataFrame],
    identities: pd.Series,
    folds: pd.DataFrame,
    gallery_extra=(),
    k: int = 100,
    top: int = 50,
) -> tuple[pd.DataFrame, pd.Series]:
    """Out-of-fold retrieval: fold f's validation images queried, by fold f's model
    (``embeddings[f]``: every training-side row), against the gallery that model trained on: the
    other folds' rows plus ``gallery_extra`` (kept external ids).

    Returns the ranked table with a ``fold`` column, and the truth per query id: its individual
    where that individual is in its fold's gallery, else ``NEW``.
    """
    ranked, truth = [], []
    for fold, table in enumerate(embeddings):
        queries = folds.id[folds.fold == fold].to_numpy()
        gallery = np.concatenate([folds.id[folds.fold != fold].to_numpy(), np.asarray(gallery_extra, dtype=object)])
        part = search(
            embedding_matrix(table, gallery),
            identities[gallery].to_numpy(),
            embedding_matrix(table, queries),
            queries,
            k,
            top,
        )
        part.insert(1, "fold", fold)
        ranked.append(part)
        truth.append(mark_new(identities[queries], identities[gallery]))
    return pd.concat(ranked, ignore_index=True), pd.concat(truth)


def test_ranking(
    test_embeddings: list[pd.DataFrame],
    gallery_embeddings: list[pd.DataFrame],
    identities: pd.Series,
    gallery_ids,
    k: int = 100,
    top: int = 50,
) -> pd.DataFrame:
    """Every test image queried by each fold model against the whole gallery (``gallery_ids``: the
    training rows and kept external rows, embedded by that same model), the folds' similarities
    combined by their mean."""
    gallery_ids = list(gallery_ids)
    per_fold = [
        search(
            embedding_matrix(gallery, gallery_ids),
            identities[gallery_ids].to_numpy(),
            test.drop(columns="id").to_numpy(np.float32),
            test.id.to_numpy(),
            k,
            top,
        )
        for test, gallery in zip(test_embeddings, gallery_embeddings)
    ]
    return combine(per_fold, top)


def score(ranked: pd.DataFrame, truth: pd.Series, threshold: float | str = "fit") -> dict:
    """The scores JSON of an out-of-fold ranked table (with ``fold``): MAP@5 with the ``new_individual``
    threshold, per fold and over all queries, and top-1 accuracy on known individuals.

    ``threshold: fit`` fits it on all queries (the threshold the test uses) and reports as ``cv``
    the honest figure: each fold scored with a threshold fitted on the other folds only; the
    all-rows fit's own score is ``cv_in_sample`` (optimistic). A given number is used as it is.
    """
    folds = sorted(ranked.fold.unique())
    chosen = fit_threshold(ranked, truth)[0] if threshold == "fit" else float(threshold)
    per_fold = []
    for fold in folds:
        own = ranked[ranked.fold == fold]
        if threshold == "fit" and len(folds) > 1:
            others = ranked[ranked.fold != fold]
            fold_threshold = fit_threshold(others, truth[others.id.unique()])[0]
        else:
            fold_threshold = chosen
        per_fold.append((len(own.id.unique()), _map5(own, truth, fold_threshold)))
    sizes, values = np.array([n for n, _ in per_fold]), np.array([v for _, v in per_fold])
    result = {
        "metric": "map@5",
        "cv": float((sizes * values).sum() / sizes.sum()),
        "folds": values.tolist(),
        "fold_mean": float(values.mean()),
        "threshold": chosen,
        "threshold_fitted": threshold == "fit",
        "cv_in_sample": _map5(ranked, truth, chosen),
        "top1_known": top1_accuracy(ranked, truth),
        "new_share": float((truth[ranked.id.unique()] == NEW).mean()),
        "rows": int(ranked.id.nunique()),
    }
    if threshold == "fit":
        result["note"] = "cv: each fold scored with a threshold fitted on the other folds; cv_in_sample is optimistic"
    return result


def _map5(ranked: pd.DataFrame, truth: pd.Series, threshold: float) -> float:
    guesses = predict(ranked.drop(columns="fold", errors="ignore"), threshold)
    return metrics.map_at_k(truth[guesses.id].to_numpy(), guesses.predictions.to_list())


def confident_threshold(ranked: pd.DataFrame, truth: pd.Series, precision: float) -> float:
    """The lowest similarity at which the top-1 of the out-of-fold queries above it is right for at
    least ``precision`` of them: the pseudo-label threshold learnt from the OOF. +inf where no
    similarity reaches that precision (then no test image is taken)."""
    rows, _, position = _ordered(ranked.drop(columns="fold", errors="ignore"))
    first = rows[position == 0]
    order = np.argsort(-first.similarity.to_numpy(), kind="stable")
    similarity = first.similarity.to_numpy()[order]
    right = (first.individual.to_numpy() == _aligned(truth, first.id.to_numpy()))[order]
    precise = np.cumsum(right) / np.arange(1, len(right) + 1) >= precision
    return float(similarity[np.flatnonzero(precise).max()]) if precise.any() else float("inf")


def submission(ranked: pd.DataFrame, threshold: float, test: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The submission in the test CSV's form: its id column and rows in its order, and its prediction
    column (``predictions`` when it has none) holding five space-separated ids."""
    column = next((c for c in test.columns if c != id_column), "predictions")
    guesses = predict(ranked, threshold).set_index("id").predictions
    return pd.DataFrame(
        {id_column: test[id_column].to_numpy(), column: [" ".join(guesses[i]) for i in test[id_column]]}
    )
