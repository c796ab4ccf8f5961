"""The identity contract: one identity column, ids that are file names, and bad identity input as
one line naming the file and row."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from foldwise import FoldwiseError, demo, manifest


@pytest.fixture(scope="module")
def identity_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity_demo")
    demo.generate(
        out, demo.DemoSpec(train_size=40, test_size=10, external_size=0, image_size=(64, 96), layout="identity")
    )
    return out


def spec(directory, train="train.csv", **changes) -> manifest.Dataset:
    settings = dict(
        train=str(directory / train),
        test=str(directory / "test.csv"),
        images=str(directory / "images" / "{id}"),
        id_column="image",
        task="identity",
        label_column="individual_id",
    )
    return manifest.Dataset(**settings | changes)


def test_identity_rows_carry_the_individual_and_no_class_columns(identity_demo):
    table = manifest.build(spec(identity_demo))
    train = pd.read_csv(identity_demo / "train.csv")
    assert not manifest.classes(table)  # 15,000 individuals are no one-hot columns
    ids = manifest.identities(table, "train").set_index("id").identity
    assert ids.to_dict() == dict(zip(train.image, train.individual_id))
    assert table.identity[table.split == "test"].isna().all()
    assert table.id.str.endswith(".jpg").all()


def test_an_empty_identity_names_the_file_and_line(identity_demo, tmp_path):
    train = pd.read_csv(identity_demo / "train.csv")
    train.loc[4, "individual_id"] = " "
    train.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(FoldwiseError, match=r"train.csv line 6 .*empty identity in column 'individual_id'") as error:
        manifest.build(spec(identity_demo, train=str(tmp_path / "train.csv")))
    assert "\n" not in str(error.value)


def test_an_image_name_twice_is_a_bad_row(identity_demo, tmp_path):
    train = pd.read_csv(identity_demo / "train.csv")
    pd.concat([train, train.iloc[[3]]]).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(FoldwiseError, match=rf"line {len(train) + 2} \(id '{train.image[3]}'\): duplicate id"):
        manifest.build(spec(identity_demo, train=str(tmp_path / "train.csv")))


def test_the_identity_column_must_be_named_and_present(identity_demo):
    with pytest.raises(FoldwiseError, match="set dataset.label_column"):
        manifest.build(spec(identity_demo, label_column=None))
    with pytest.raises(FoldwiseError, match="identity column 'whale' not found"):
        manifest.build(spec(identity_demo, label_column="whale"))


def test_test_images_in_a_folder_of_their_own(identity_demo, tmp_path):
    test = pd.read_csv(identity_demo / "test.csv")
    (tmp_path / "test_images").mkdir()
    for name in test.image:
        shutil.move(identity_demo / "images" / name, tmp_path / "test_images" / name)
    try:
        train_side = manifest.build_train_side(spec(identity_demo))
        # the workflow hands the test side its own template as `images` (common.smk test_set)
        test_side = manifest.build_test_side(
            spec(identity_demo, images=str(tmp_path / "test_images" / "{id}")), train_side
        )
        assert test_side["path:image"].str.startswith(str(tmp_path / "test_images")).all()
    finally:
        for name in test.image:
            shutil.move(tmp_path / "test_images" / name, identity_demo / "images" / name)
