"""submission: the form a sample submission asks for, and each form written from a probability table."""

import numpy as np
import pandas as pd
import pytest

from foldwise import FoldwiseError, manifest, submission

PROBABILITIES = pd.DataFrame(
    {"image_id": ["a", "b", "c"], "cat": [0.7, 0.2, 0.1], "dog": [0.2, 0.5, 0.3], "fox": [0.1, 0.3, 0.6]}
)


@pytest.mark.parametrize(
    "columns, task, expected",
    [
        (["image_id"], "multiclass", "probabilities"),  # the id alone
        (["image_id", "fox", "cat", "dog"], "multiclass", "probabilities"),  # one column per class, any order
        (["image_id", "label"], "multiclass", "label"),  # Cassava
        (["Id", "Predicted"], "multilabel", "labels"),  # HPA (the id column the sample's own)
        (None, "multiclass", "label"),  # a test folder
        (None, "multilabel", "labels"),
    ],
)
def test_auto_reads_the_form_from_the_sample_submission(columns, task, expected):
    id_header = columns[0] if columns else "id"
    assert submission.form("auto", columns, id_header, ["cat", "dog", "fox"], task) == expected


def test_a_form_that_does_not_fit_says_what_does():
    with pytest.raises(
        FoldwiseError, match="label does not fit multilabel data; use one of \\['probabilities', 'labels'\\]"
    ):
        submission.form("label", ["Id"], "Id", ["0", "1"], "multilabel")
    with pytest.raises(FoldwiseError, match="neither one per class .* set submission.format"):
        submission.form("auto", ["image_id", "x", "y"], "image_id", ["cat", "dog", "fox"], "multiclass")


def test_each_form_written_under_the_samples_headers():
    table = submission.write(PROBABILITIES, "probabilities", "image_id", "file", "")
    assert table.columns.tolist() == ["file", "cat", "dog", "fox"] and table.file.tolist() == ["a", "b", "c"]
    labels = submission.write(PROBABILITIES, "label", "image_id", "image_id", "label")
    assert labels.to_dict("list") == {"image_id": ["a", "b", "c"], "label": ["cat", "dog", "fox"]}
    numbered = PROBABILITIES.rename(columns={"cat": "0", "dog": "1", "fox": "2"})
    assert submission.write(numbered, "label", "image_id", "image_id", "label").label.tolist() == ["0", "1", "2"]
    cut = np.array([0.5, 0.35, 0.9])  # c has no class over its threshold: at_least_one gives its top one
    multi = submission.write(numbered, "labels", "image_id", "Id", "Predicted", cut, at_least_one=True)
    assert multi.to_dict("list") == {"Id": ["a", "b", "c"], "Predicted": ["0", "1", "2"]}
    assert submission.write(numbered, "labels", "image_id", "Id", "Predicted", cut).Predicted.tolist()[2] == ""
    with pytest.raises(FoldwiseError, match="thresholds.json"):
        submission.write(numbered, "labels", "image_id", "Id", "Predicted")


def test_the_test_csvs_own_id_column():
    assert manifest.test_id_column(["image_id", "label"], "image_id", None, "t.csv") == "image_id"
    assert manifest.test_id_column(["file", "label"], "image_id", None, "t.csv") == "file"  # its first column
    assert manifest.test_id_column(["label", "file"], "image_id", "file", "t.csv") == "file"
    with pytest.raises(FoldwiseError, match="t.csv: dataset.test_id_column 'name' not found"):
        manifest.test_id_column(["label", "file"], "image_id", "name", "t.csv")
