"""plots: the report's figures and tables, checked against hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foldwise import plots


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
