"""plots: the report's figures and tables, checked against hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from foldwise import plots, retrieval


def test_to_rgb_makes_grey_and_hpa_composites():
    grey = np.full((2, 2, 1), 7, np.uint8)
    assert (plots.to_rgb(grey, ["gray"]) == 7).all() and plots.to_rgb(grey, ["gray"]).shape == (2, 2, 3)
    rgby = np.zeros((1, 2, 4), np.uint8)
    rgby[0, 0] = [100, 50, 10, 200]
    rgby[0, 1] = [200, 0, 0, 200]
    composite = plots.to_rgb(rgby, ["red", "green", "blue", "yellow"])
    assert composite[0, 0].tolist() == [200, 150, 10]  # yellow = red + green: half to each
    assert composite[0, 1].tolist() == [255, 100, 0]  # clipped
    rgba = rgby.copy()
    assert plots.to_rgb(rgba, ["r", "g", "b", "a"])[0, 0].tolist() == [100, 50, 10]


def labelled(truth, scores, classes):
    ids = [f"s{i}" for i in range(len(truth))]
    hard = pd.DataFrame(truth, columns=classes).assign(id=ids)[["id", *classes]]
    oof = pd.DataFrame(scores, columns=classes).assign(id=ids, fold=[i % 2 for i in range(len(ids))])
    return oof, hard


def test_worst_samples_single_label_are_wrong_top_classes_by_probability():
    classes = ["a", "b", "c"]
    truth = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]
    scores = [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.3, 0.3, 0.4]]
    worst = plots.worst_samples(*labelled(truth, scores, classes), task="multiclass", limit=2)
    assert worst.id.tolist() == ["s0", "s2"]  # s1 is right; s3 (0.4) is less confident than s2 (0.5)
    assert worst.target.tolist() == [1, 0] and worst.truth.tolist() == ["a", "c"]
    assert worst.predicted.tolist() == ["b", "a"] and worst.fold.tolist() == [0, 0]
    np.testing.assert_allclose(worst.confidence, [0.8, 0.5])


def test_worst_samples_multi_label_are_classes_furthest_from_their_label():
    classes = ["a", "b"]
    truth = [[1, 0], [1, 1], [0, 1]]
    scores = [[0.9, 0.95], [0.6, 0.3], [0.2, 0.7]]  # s2: every class within 0.5 of its label
    worst = plots.worst_samples(*labelled(truth, scores, classes), task="multilabel", limit=5)
    assert worst.id.tolist() == ["s0", "s1"] and worst.target.tolist() == [1, 1]
    assert worst.truth.tolist() == ["a", "a b"] and worst.predicted.tolist() == ["a b", "a"]
    np.testing.assert_allclose(worst.confidence, [0.95, 0.7])


def test_scores_table_and_its_html():
    scores = {
        "base": {"metric": "roc_auc", "cv": 0.9, "folds": [0.8, 1.0], "fold_mean": 0.9, "biased": False},
        "mix": {"metric": "roc_auc", "cv": 0.95, "folds": [0.9, 0.97], "fold_mean": 0.935, "biased": True},
    }
    table = plots.scores_table(scores)
    assert table.columns.tolist() == ["stage", "metric", "cv", "fold mean", "optimistic", "fold 0", "fold 1"]
    assert table.stage.tolist() == ["base", "mix"] and table["fold 1"].tolist() == [1.0, 0.97]
    assert table.optimistic.tolist() == ["no", "yes"]
    page = plots.html_table(table, "scores <all>")
    assert page.startswith("<!DOCTYPE html>") and "scores &lt;all&gt;" in page and "0.9350" in page


def test_multi_label_scores_show_auc_and_ap_beside_f1_and_the_fitted_thresholds_figure():
    base = {"metric": "macro_f1", "cv": 0.6, "folds": [0.5, 0.7], "roc_auc": 0.91, "average_precision": 0.8}
    report = {"method": "f1", "oof_macro_f1": {"out_of_fold": 0.66, "in_sample": 0.7}, "biased": True}
    table = plots.scores_table({"base": base, "mix, fitted thresholds": plots.fitted_thresholds_score(report)})
    assert table.columns.tolist()[:7] == ["stage", "metric", "cv", "fold mean", "optimistic", "macro AUC", "macro AP"]
    assert table["macro AUC"].tolist()[0] == 0.91 and np.isnan(table["macro AP"].tolist()[1])
    assert table.iloc[1][["metric", "cv", "optimistic"]].tolist() == ["macro_f1 (f1 thresholds)", 0.66, "yes"]


def duplicates_table():
    return pd.DataFrame(
        {
            "external_id": ["e1", "e1", "e2", "e3"],
            "match_id": ["t5", "t6", "t7", "t8"],
            "match_split": ["train", "test", "train", "train"],
            "distance": [4, 2, 0, 9],
            "distance:r": [4, 2, 0, 9],
            "distance:g": [1, 0, 0, 3],
            "distance:b": [0, 1, 0, 9],
        }
    )


def image_of(sample_id):
    return np.full((4, 4, 3), int(sample_id[1:]) * 10, np.uint8)


def test_duplicate_pairs_are_the_closest_with_per_channel_distances():
    cells = plots.duplicate_pairs(duplicates_table(), image_of, limit=2)
    captions = [caption for _, caption in cells]
    assert captions == ["external e2", "train t7\nr 0 g 0 b 0", "external e1", "test t6\nr 2 g 0 b 1"]
    assert cells[1][0][0, 0, 0] == 70  # the match's own image


def test_dropped_external_shows_each_once_with_its_closest_match():
    captions = [caption for _, caption in plots.dropped_external(duplicates_table(), image_of, limit=10)]
    assert captions == ["e1\n~ t6 (d 2)", "e2\n~ t7 (d 0)", "e3\n~ t8 (d 9)"]


def test_confusion_matrix_counts_argmax_classes():
    truth = np.eye(3)[[0, 0, 1, 2, 2, 2]]
    scores = np.eye(3)[[0, 1, 1, 2, 2, 0]] * 0.8 + 0.05
    figure = plots.confusion_matrix(truth, scores, ["a", "b", "c"], "t")
    counts = [int(t.get_text()) for t in figure.axes[0].texts]
    assert counts == [1, 1, 0, 0, 1, 0, 1, 0, 2]  # rows: true class; columns: predicted


def test_roc_curves_skip_a_class_without_positives():
    truth = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.2], [0.4, 0.1]])
    figure = plots.roc_curves(truth, scores, ["a", "b"], "t")
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[0] == "a (AUC 1.000)" and not any(label.startswith("b") for label in labels)


def test_f1_thresholds_mark_the_chosen_threshold_on_its_curve():
    truth = np.array([[1], [1], [0], [0]])
    scores = np.array([[0.9], [0.4], [0.6], [0.1]])
    figure = plots.f1_thresholds(truth, scores, ["a"], np.array([0.5]), "t")
    curve, marker = figure.axes[0].get_lines()
    assert marker.get_xdata()[0] == 0.5 and marker.get_ydata()[0] == pytest.approx(0.5)  # tp 1, fp 1, fn 1
    assert curve.get_ydata()[np.searchsorted(curve.get_xdata(), 0.3)] == pytest.approx(0.8)  # tp 2, fp 1


def test_image_grid_draws_one_panel_per_cell_and_says_none_when_empty(tmp_path):
    cells = [(np.zeros((4, 4, 3), np.uint8), f"cell {i}") for i in range(5)]
    figure = plots.image_grid(cells, columns=2, title="g")
    assert [ax.get_title() for ax in figure.axes if ax.images] == [f"cell {i}" for i in range(5)]
    empty = plots.image_grid([], columns=2, title="dropped")
    assert [t.get_text() for t in empty.texts] == ["dropped: none"]
    plots.save_figure(figure, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(list(tmp_path.iterdir())) == 1


# -- identities ---------------------------------------------------------------------------------


def identity_oof(rows):
    """An identity OOF table from (id, fold, truth, individual, similarity) rows, shuffled: the
    functions must not rely on the file's order."""
    table = pd.DataFrame(rows, columns=["id", "fold", "truth", "individual", "similarity"])
    return table[["id", "fold", "individual", "similarity", "truth"]].sample(frac=1, random_state=0)


# q1 knows A (ranked first), q2 is new, q3 knows B (ranked second)
THRESHOLD_OOF = [
    ("q1", 0, "A", "A", 0.9),
    ("q1", 0, "A", "B", 0.8),
    ("q2", 1, "new_individual", "C", 0.7),
    ("q2", 1, "new_individual", "D", 0.6),
    ("q3", 1, "B", "A", 0.95),
    ("q3", 1, "B", "B", 0.5),
]
# MAP@5 by hand on each range of thresholds t (an individual counts above t when its similarity >= t):
# t <= 0.5: q1 A B NEW (1), q2 C D NEW (1/3), q3 A B NEW (1/2); (0.5, 0.6]: q3 A NEW B (1/3);
# (0.6, 0.7]: q2 C NEW D (1/2); (0.7, 0.8]: q2 NEW first (1); (0.8, 0.9]: q1 A NEW B (still 1);
# (0.9, 0.95]: q1 NEW A B (1/2); t > 0.95: q3 NEW A B (1/3 still)
BY_HAND = [
    (-np.inf, 0.5, (1 + 1 / 3 + 1 / 2) / 3),
    (0.5, 0.6, (1 + 1 / 3 + 1 / 3) / 3),
    (0.6, 0.7, (1 + 1 / 2 + 1 / 3) / 3),
    (0.7, 0.9, (1 + 1 + 1 / 3) / 3),
    (0.9, np.inf, (1 / 2 + 1 + 1 / 3) / 3),
]


def test_map5_thresholds_draw_map5_by_hand_and_mark_each_fitted_threshold():
    oof = identity_oof(THRESHOLD_OOF)
    figure = plots.map5_thresholds({"base": oof, "mix": oof}, {"base": 0.75, "mix": np.inf}, "t")
    curve, marker, _, edge = figure.axes[0].get_lines()
    x, y = curve.get_xdata(), curve.get_ydata()
    assert x.min() < 0.5 and x.max() > 0.95 and len(x) > 100  # the whole range where MAP@5 moves
    for low, high, expected in BY_HAND:
        inside = (x > low) & (x <= high)
        assert inside.any() and np.allclose(y[inside], expected), (low, high, np.unique(y[inside]))
    truth = pd.Series({"q1": "A", "q2": "new_individual", "q3": "B"})
    np.testing.assert_allclose(y, retrieval.threshold_scores(oof[retrieval.COLUMNS], truth, x))
    # the scores JSON's threshold, on its curve; +inf (new_individual always first) at the right edge
    assert marker.get_xdata()[0] == 0.75 and marker.get_ydata()[0] == pytest.approx((1 + 1 + 1 / 3) / 3)
    assert edge.get_xdata()[0] == x.max() and edge.get_ydata()[0] == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    assert curve.get_label() == "base (fitted 0.750: 0.778)"


# k1's truth ranked 2nd, k2's 1st, k3's absent, k4's 3rd; n1 and n2 are new individuals
WORST_OOF = [
    ("k1", 0, "A", "B", 0.9),
    ("k1", 0, "A", "A", 0.8),
    ("k2", 1, "A", "A", 0.9),
    ("k3", 1, "C", "A", 0.9),
    ("k3", 1, "C", "B", 0.8),
    ("k4", 0, "B", "A", 0.7),
    ("k4", 0, "B", "C", 0.6),
    ("k4", 0, "B", "B", 0.5),
    ("n1", 1, "new_individual", "A", 0.6),
    ("n2", 0, "new_individual", "B", 0.95),
    ("n2", 0, "new_individual", "A", 0.2),
    ("n3", 1, "new_individual", "C", 0.4),
]


def test_worst_queries_are_known_truths_ranked_lowest_and_new_ones_most_similar():
    worst = plots.worst_queries(identity_oof(WORST_OOF), limit=5)
    assert worst.id.tolist() == ["k3", "k4", "k1", "n2", "n1"]  # absent, 3rd, 2nd; then by top similarity
    assert worst.kind.tolist() == ["known"] * 3 + ["new"] * 2
    assert worst.truth_rank.tolist() == [0, 3, 2, 0, 0] and worst.listed.tolist() == [2, 3, 2, 2, 1]
    np.testing.assert_allclose(worst.truth_similarity[:3], [np.nan, 0.5, 0.8])
    assert worst.top.tolist() == ["A", "A", "B", "B", "A"] and worst.fold.tolist() == [1, 0, 0, 0, 1]
    # too few new ones: known ones fill in; and the other way round
    assert plots.worst_queries(identity_oof(WORST_OOF[:8]), limit=3).id.tolist() == ["k3", "k4", "k1"]
    assert plots.worst_queries(identity_oof(WORST_OOF[2:3] + WORST_OOF[8:]), 4).id.tolist() == ["k2", "n2", "n1", "n3"]


def test_nearest_gallery_is_the_nearest_image_of_each_individual_by_cosine():
    gallery = np.array([[2.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])  # A (long), A, B, B
    found = plots.nearest_gallery(np.array([0.8, 0.6]) * 5, gallery, ["A", "A", "B", "B"], ["B", "A"])
    # A's first image has the larger dot product (1.6) but the smaller cosine (0.8 < 0.96)
    assert [row for row, _ in found] == [2, 1]
    np.testing.assert_allclose([similarity for _, similarity in found], [0.6, 0.96], rtol=1e-6)


def test_gallery_matches_search_the_gallery_of_the_query_fold_with_its_model():
    # fold 0's model; q (fold 0) is nearest to p, which is in fold 0 too: not in q's gallery
    embeddings = {
        0: pd.DataFrame(
            {
                "id": ["q", "p", "a1", "a2", "b1", "x1"],
                "e000": [1.0, 1.0, 0.0, 0.8, 0.6, 0.3],
                "e001": [0.0, 0.0, 1.0, 0.6, 0.8, 0.95],
            }
        )
    }
    folds = pd.DataFrame({"id": ["q", "p", "a1", "a2", "b1"], "fold": [0, 0, 1, 1, 2]})
    identities = pd.Series({"q": "X", "p": "A", "a1": "A", "a2": "A", "b1": "B", "x1": "X"})
    oof = identity_oof(
        [("q", 0, "X", "A", 0.8), ("q", 0, "X", "B", 0.6), ("q", 0, "X", "X", 0.3 / np.hypot(0.3, 0.95))]
    )
    worst = plots.worst_queries(oof, limit=1)
    # x1, a kept external image, is in every fold's gallery: the truth's nearest image
    matches = plots.gallery_matches(worst, oof, embeddings, folds, identities, gallery_extra=["x1"], shown=2)
    assert matches.role.tolist() == ["#1", "#2", "truth"] and matches.individual.tolist() == ["A", "B", "X"]
    assert matches.gallery_id.tolist() == ["a2", "b1", "x1"]
    np.testing.assert_allclose(matches.similarity, matches.listed, rtol=1e-6)


def test_worst_query_cells_put_each_query_in_a_row_of_its_own(tmp_path):
    oof = identity_oof(WORST_OOF)
    worst = plots.worst_queries(oof, limit=4)  # k3 (truth C absent), k4, n2, n1
    ids = ["g0", "g1", "g2", "k3", "k4", "n1", "n2"]  # every training-side row, embedded by each fold model
    rng = np.random.default_rng(0)
    embeddings = {
        fold: pd.DataFrame(rng.normal(size=(7, 2)), columns=["e000", "e001"]).assign(id=ids) for fold in (0, 1)
    }
    folds = pd.DataFrame({"id": ["k4", "n2", "k3", "n1"], "fold": [0, 0, 1, 1]})
    identities = pd.Series({"g0": "A", "g1": "B", "g2": "C", "k4": "B", "k3": "C", "n1": "N1", "n2": "N2"})
    matches = plots.gallery_matches(worst, oof, embeddings, folds, identities, ["g0", "g1", "g2"], shown=2)
    cells = plots.worst_query_cells(worst, matches, image_of=lambda i: np.zeros((4, 4, 3), np.uint8), threshold=0.5)
    assert len(cells) == 4 * 5  # the query, its top 3 at most, and its truth or a note
    captions = [caption for _, caption in cells]
    assert captions[0] == "query k3 (fold 1)\ntruth C\nnot in its top 2"
    assert captions[1].startswith("#1 A\ng0 sim") and captions[3].startswith("truth C\ng2 sim")
    assert captions[5] == "query k4 (fold 0)\ntruth B\nranked 3 of 3"
    assert captions[10] == "query n2 (fold 0)\nnew_individual; top 0.950\n>= threshold 0.500"
    assert cells[13][0] is None and captions[14] == "new_individual:\nnot in this fold's gallery"
    figure = plots.image_grid(cells, 5, "worst queries")
    plots.save_figure(figure, tmp_path / "worst.png")
    width, height = Image.open(tmp_path / "worst.png").size
    # 5 columns of 2.4 inches, 4 rows of 2.6, at 100 dpi (less the trimmed margins)
    assert width == pytest.approx(1200, rel=0.1) and height == pytest.approx(1040, rel=0.1)


def test_map5_thresholds_png_has_the_figure_size(tmp_path):
    oof = identity_oof(THRESHOLD_OOF)
    plots.save_figure(plots.map5_thresholds({"base": oof}, {"base": 0.75}, "t"), tmp_path / "map5.png")
    image = Image.open(tmp_path / "map5.png")
    assert image.format == "PNG" and image.size == pytest.approx((700, 450), rel=0.1)


def test_scores_table_of_identities_and_their_baselines():
    base = {"metric": "map@5", "cv": 0.2, "folds": [0.1, 0.3], "fold_mean": 0.2, "threshold": 0.97, "top1_known": 0.5}
    base |= {"biased": False, "note": "cv: each fold scored with a threshold fitted on the other folds"}
    baselines = {"metric": "map@5", "new_individual_first": 0.28, "raw_pixels": {**base, "cv": 0.32}}
    table = plots.scores_table({"base": base, **plots.baseline_scores(baselines)})
    assert table.columns.tolist()[:7] == [
        "stage",
        "metric",
        "cv",
        "fold mean",
        "optimistic",
        "threshold",
        "top-1 known",
    ]
    assert table.stage.tolist() == ["base", "baseline: new individual first", "baseline: raw pixels"]
    np.testing.assert_allclose(table.cv, [0.2, 0.28, 0.32])
    assert np.isnan(table.threshold[1]) and table.threshold[2] == 0.97 and table["fold 1"][0] == 0.3
    page = plots.html_table(table, "scores")
    assert "0.9700" in page and "nan" not in page  # a baseline without folds leaves its cells empty


def test_replacement_curve_draws_the_fitted_curve_and_the_share_of_the_test_replaced():
    score = {
        "curve": {"threshold": [0.2, 0.5, 0.8], "macro_f1": [0.4, 0.7, 0.6]},
        "cv_without": 0.55,
        "cv": 0.66,
        "threshold": 0.5,
    }
    figure = plots.replacement_curve(score, np.array([0.1, 0.5, 0.6, 0.9]), "t")
    curve, without, applied = figure.axes[0].get_lines()
    assert curve.get_ydata().tolist() == [0.4, 0.7, 0.6] and without.get_ydata()[0] == 0.55
    assert applied.get_xdata()[0] == 0.5 and "0.6600 out of fold" in applied.get_label()
    (share,) = figure.axes[1].get_lines()
    assert share.get_ydata().tolist() == [0.75, 0.75, 0.25]  # similarity >= threshold
    assert "optimistic" in curve.get_label()
    # share 0 of the test: an infinite threshold, no line for it
    assert len(plots.replacement_curve({**score, "threshold": np.inf}, np.array([0.3]), "t").axes[0].get_lines()) == 2


def test_replaced_examples_show_changed_labels_first_nearest_the_threshold_first():
    test = pd.DataFrame(
        {
            "id": ["t1", "t2", "t3", "t4", "t5"],
            "neighbour": ["a", "b", "c", "d", "e"],
            "similarity": [0.95, 0.7, 0.8, 0.75, 0.3],
            "labels": ["1", "0 2", "3", "4", "5"],
        }
    )
    classifier = pd.Series({"t1": "0", "t2": "0 2", "t3": "1", "t4": "4", "t5": "0"})
    examples = plots.replaced_examples(test, classifier, threshold=0.7, limit=3)
    assert examples.id.tolist() == ["t3", "t1", "t2"]  # changed (0.8, 0.95), then unchanged by similarity
    cells = plots.replaced_cells(examples.head(1), lambda sample_id: np.full((2, 2, 3), ord(sample_id[-1]), np.uint8))
    assert [caption for _, caption in cells] == ["test t3\nclassifier: 1", "c sim 0.800\nlabels: 3"]
    assert cells[1][0][0, 0, 0] == ord("c")


def test_image_lookup_finds_each_id_in_its_own_cache():
    train = (np.zeros((2, 2, 2, 1), np.uint8), pd.DataFrame({"id": ["a", "b"]}))
    test = (np.full((1, 2, 2, 1), 200, np.uint8), pd.DataFrame({"id": ["t"]}))
    image_of = plots.image_lookup([train, test], ["grey"])
    assert image_of("t").shape == (2, 2, 3) and image_of("t").max() == 200 and image_of("b").max() == 0
