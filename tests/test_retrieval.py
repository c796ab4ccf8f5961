import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, metrics, retrieval
from foldwise.retrieval import NEW


def _ranked(rows):
    return pd.DataFrame(rows, columns=["id", "individual", "similarity"])


def _synthetic(rng, n, p_new=0.4, width=10):
    """A ranked table and its truth: a known query's own individual sits near 0.65, its
    distractors (and all of a new individual's candidates) near 0.45."""
    sims = np.sort(rng.normal(0.45, 0.08, (n, width)), axis=1)[:, ::-1]
    is_new = rng.random(n) < p_new
    own = rng.normal(0.65, 0.1, n)
    names = np.array([[f"w{(i * width + j) % 997}" for j in range(width)] for i in range(n)])
    sims[~is_new, 0] = own[~is_new]  # the truth is column 0; ranking re-sorts it
    ids = np.array([f"q{i}" for i in range(n)])
    ranked = _ranked({"id": np.repeat(ids, width), "individual": names.ravel(), "similarity": sims.ravel()})
    truth = pd.Series(np.where(is_new, NEW, names[:, 0]), index=ids)
    return retrieval.combine([ranked]), truth  # combine of one table: the ranked sort order


def _map(ranked, truth, threshold):
    predicted = retrieval.predict(ranked, threshold)
    return metrics.map_at_k(truth.loc[predicted["id"]], predicted["predictions"])


def test_normalize_gives_unit_rows_and_keeps_zero_rows_zero():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = retrieval.normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_knn_matches_brute_force_cosine():
    rng = np.random.default_rng(0)
    gallery, queries = rng.normal(size=(40, 8)), rng.normal(size=(6, 8))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    dots = unit(queries) @ unit(gallery).T
    expected = np.argsort(-dots, axis=1)[:, :5]
    similarities, indices = retrieval.knn(gallery, queries, 5)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(similarities, np.take_along_axis(dots, expected, axis=1), atol=1e-5)
    assert retrieval.knn(gallery[:3], queries, 5)[1].shape == (6, 3)  # k' = min(k, gallery)


def test_knn_rejects_an_empty_gallery():
    with pytest.raises(FoldwiseError, match="empty gallery"):
        retrieval.knn(np.zeros((0, 4)), np.ones((2, 4)), 5)


def test_rank_counts_an_individual_once_at_its_best_neighbour():
    identities = ["a", "b", "a", "c", "d"]
    similarities = np.array([[0.9, 0.8, 0.7, 0.1], [0.5, 0.5, 0.4, 0.3]])
    indices = np.array([[2, 1, 0, 3], [1, 0, 2, 4]])  # query 2: a and b tie at 0.5
    ranked = retrieval.rank(["q2", "q1"], identities, similarities, indices)
    expected = _ranked(
        [("q2", "a", 0.9), ("q2", "b", 0.8), ("q2", "c", 0.1), ("q1", "a", 0.5), ("q1", "b", 0.5), ("q1", "d", 0.3)]
    )
    pd.testing.assert_frame_equal(ranked, expected)
    top2 = retrieval.rank(["q2", "q1"], identities, similarities, indices, top=2)
    assert top2["individual"].tolist() == ["a", "b", "a", "b"]


def test_rank_rejects_new_individual_in_the_gallery():
    with pytest.raises(FoldwiseError, match="known individuals only"):
        retrieval.rank(["q"], ["a", NEW], np.array([[0.9, 0.8]]), np.array([[0, 1]]))


def test_combine_means_and_fills_a_missing_individual_with_the_tables_lowest():
    first = _ranked([("q1", "a", 0.9), ("q1", "b", 0.6), ("q0", "x", 0.3)])
    second = _ranked([("q0", "x", 0.5), ("q1", "b", 0.8), ("q1", "c", 0.4)])
    combined = retrieval.combine([first, second])
    # q1: a = (0.9 + 0.4 filled) / 2, b = (0.6 + 0.8) / 2, c = (0.6 filled + 0.4) / 2
    expected = _ranked([("q1", "b", 0.7), ("q1", "a", 0.65), ("q1", "c", 0.5), ("q0", "x", 0.4)])
    pd.testing.assert_frame_equal(combined, expected)
    assert retrieval.combine([first, second], top=1)["individual"].tolist() == ["b", "x"]


def test_combine_rejects_tables_of_different_queries():
    with pytest.raises(FoldwiseError, match="same query ids"):
        retrieval.combine([_ranked([("q1", "a", 0.9)]), _ranked([("q2", "a", 0.9)])])


@pytest.mark.parametrize(
    "threshold, expected",
    [
        (0.6, ["a", "b", NEW, "c", "d"]),
        (0.7, ["a", "b", NEW, "c", "d"]),  # equal to b's similarity: b stays above NEW
        (0.95, [NEW, "a", "b", "c", "d"]),
        (np.inf, [NEW, "a", "b", "c", "d"]),
        (0.15, ["a", "b", "c", "d", "e"]),  # NEW would be sixth
        (-np.inf, ["a", "b", "c", "d", "e"]),
    ],
)
def test_predict_inserts_new_before_the_first_individual_below_threshold(threshold, expected):
    ranked = _ranked([("q", name, s) for name, s in zip("fedcba", [0.1, 0.2, 0.3, 0.5, 0.7, 0.9])])
    assert retrieval.predict(ranked, threshold)["predictions"].tolist() == [expected]


def test_predict_appends_new_when_few_individuals_clear_the_threshold():
    ranked = _ranked([("q", "x", 0.8), ("q", "y", 0.7), ("r", "z", 0.2)])
    predicted = retrieval.predict(ranked, 0.5)
    assert predicted["id"].tolist() == ["q", "r"]
    assert predicted["predictions"].tolist() == [["x", "y", NEW], [NEW, "z"]]


def test_threshold_scores_equal_map_at_k_of_predict_at_every_candidate():
    rng = np.random.default_rng(1)
    n, width = 60, 7
    sims = np.round(rng.random((n, width)), 1)  # coarse: ties, and candidates equal to similarities
    names = [f"w{j}" for j in range(width)]
    ids = [f"q{i}" for i in range(n)]
    ranked = _ranked([(ids[i], names[j], sims[i, j]) for i in range(n) for j in range(width)])
    # known individuals at any position (beyond five too), absent ones, and NEW
    truth = pd.Series(rng.choice([*names, "absent", NEW, NEW], n), index=ids)
    candidates = np.r_[-np.inf, np.arange(0, 1.01, 0.1), 0.35, np.inf]
    expected = [_map(ranked, truth, t) for t in candidates]
    np.testing.assert_allclose(retrieval.threshold_scores(ranked, truth, candidates), expected)


def test_fit_threshold_finds_the_best_plateau_on_a_constructed_case():
    # every threshold in (0.45, 0.6] puts NEW first for the new queries and second for the others
    ranked = _ranked(
        [
            ("n1", "a", 0.40),
            ("n1", "b", 0.30),
            ("k1", "a", 0.80),
            ("k1", "b", 0.30),
            ("n2", "c", 0.45),
            ("k2", "c", 0.60),
            ("k2", "a", 0.20),
        ]
    )
    truth = pd.Series({"n1": NEW, "k1": "a", "n2": NEW, "k2": "c"})
    threshold, score = retrieval.fit_threshold(ranked, truth, candidates=[0.2, 0.5, 0.52, 0.55, 0.7, np.inf])
    assert (threshold, score) == (0.52, 1.0)  # the middle of the plateau 0.5, 0.52, 0.55
    threshold, score = retrieval.fit_threshold(ranked, truth)  # default: top-1 quantiles
    assert 0.45 < threshold <= 0.6 and score == 1.0
    assert score == _map(ranked, truth, threshold)


def test_fitted_threshold_scores_near_the_best_on_held_out_queries():
    rng = np.random.default_rng(2)
    fit_on, held_out = _synthetic(rng, 2000), _synthetic(rng, 2000)
    threshold, fitted_score = retrieval.fit_threshold(*fit_on)
    best_threshold, best_score = retrieval.fit_threshold(*held_out)
    held_score = _map(*held_out, threshold)
    assert best_score - held_score < 0.01
    assert held_score > max(_map(*held_out, -np.inf), _map(*held_out, np.inf)) + 0.05  # NEW placed well
    assert fitted_score == pytest.approx(_map(*fit_on, threshold))


def test_fit_threshold_needs_truth_for_every_ranked_query():
    ranked = _ranked([("q1", "a", 0.9), ("q2", "a", 0.5)])
    with pytest.raises(FoldwiseError, match="1 ranked query"):
        retrieval.fit_threshold(ranked, pd.Series({"q1": "a", "other": NEW}))


def test_top1_accuracy_counts_known_truths_only():
    ranked = _ranked([("q1", "b", 0.5), ("q1", "a", 0.9), ("q2", "c", 0.9), ("q3", "a", 0.1)])
    truth = pd.Series({"q1": "a", "q2": "b", "q3": NEW})
    assert retrieval.top1_accuracy(ranked, truth) == 0.5


def test_pseudo_labels_keep_confident_top1_only():
    ranked = _ranked([("q1", "b", 0.5), ("q1", "a", 0.9), ("q2", "c", 0.6), ("q3", "d", 0.7)])
    expected = _ranked([("q1", "a", 0.9), ("q3", "d", 0.7)])
    pd.testing.assert_frame_equal(retrieval.pseudo_labels(ranked, 0.7), expected)


def test_mark_new_replaces_individuals_outside_the_gallery():
    labels = pd.Series({"i1": "a", "i2": "z", "i3": "b"})
    assert retrieval.mark_new(labels, ["a", "b", "a"]).tolist() == ["a", NEW, "b"]


class _Recording:
    """An array that remembers how many images each read asked for."""

    def __init__(self, array):
        self.array, self.reads = array, []
        self.shape, self.ndim = array.shape, array.ndim

    def __getitem__(self, index):
        self.reads.append(len(index))
        return self.array[index]


def test_pixel_embeddings_in_chunks_equal_one_pass(tmp_path):
    rng = np.random.default_rng(3)
    images = np.lib.format.open_memmap(tmp_path / "images.npy", "w+", np.uint8, (9, 32, 24, 3))
    images[:] = rng.integers(0, 256, images.shape)
    rows = [8, 0, 3, 3, 5, 1, 7]
    recording = _Recording(images)
    chunked = retrieval.pixel_embeddings(recording, rows, size=4, chunk=3)
    assert max(recording.reads) <= 3
    np.testing.assert_array_equal(chunked, retrieval.pixel_embeddings(images, rows, size=4, chunk=100))
    # by hand: a 32x24 image averaged over 8x6 blocks, centred, scaled to unit length
    blocks = images[8].astype(np.float64).reshape(4, 8, 4, 6, 3).mean(axis=(1, 3)).ravel()
    blocks -= blocks.mean()
    np.testing.assert_allclose(chunked[0], blocks / np.linalg.norm(blocks), atol=1e-2)
    assert chunked.shape == (7, 48) and chunked.dtype == np.float32
