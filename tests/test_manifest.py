import numpy as np
import pandas as pd
import pytest
from PIL import Image

from foldwise import FoldwiseError, manifest


def test_demo_manifest_indexes_every_sample(demo_manifest):
    assert demo_manifest.split.value_counts().to_dict() == {"train": 80, "external": 40, "test": 30}
    assert manifest.classes(demo_manifest) == ["healthy", "multiple_diseases", "rust", "scab"]
    assert manifest.channels(demo_manifest) == ["r", "g", "b"]
    train = demo_manifest[demo_manifest.split == "train"]
    assert (manifest.labels(train).sum(1) == 1).all()
    assert np.isnan(manifest.labels(demo_manifest[demo_manifest.split == "test"])).all()


def write_dataset(root, train_rows, test_ids, id_column="name", classes=("a", "b", "c"), size=(30, 40)):
    (root / "img").mkdir(exist_ok=True)
    for sample_id in [r[0] for r in train_rows] + list(test_ids):
        Image.fromarray(np.full((*size, 3), 100, np.uint8)).save(root / "img" / f"{sample_id}.png")
    pd.DataFrame(train_rows, columns=[id_column, *classes]).to_csv(root / "train.csv", index=False)
    pd.DataFrame({id_column: list(test_ids)}).to_csv(root / "test.csv", index=False)
    return manifest.Dataset(
        train=str(root / "train.csv"),
        test=str(root / "test.csv"),
        images=str(root / "img" / "{id}.png"),
        id_column=id_column,
    )


GOOD = [("s1", 1, 0, 0), ("s2", 0, 1, 0), ("s3", 0, 0, 1)]


def test_any_id_column_classes_and_png(tmp_path):
    table = manifest.build(write_dataset(tmp_path, GOOD, ["t1"]))
    assert table.id.tolist() == ["s1", "s2", "s3", "t1"]
    assert manifest.classes(table) == ["a", "b", "c"]


def test_every_bad_row_is_reported_at_once_with_file_and_line(tmp_path):
    spec = write_dataset(tmp_path, [*GOOD, ("s4", 1, 1, 0), ("s5", 2, 0, 0), ("s2", 0, 1, 0)], ["t1"])
    (tmp_path / "img" / "s1.png").unlink()
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    message = str(error.value)
    assert message.startswith("4 bad row(s): ")
    assert "train.csv line 2 (id 's1'): " in message and "image file not found" in message
    assert "line 5 (id 's4'): single-label row needs exactly one positive class, has 2" in message
    assert "line 6 (id 's5'): labels" in message and "in [0, 1]" in message
    assert "line 7 (id 's2'): duplicate id" in message
    assert "manifest.drop_bad_rows: true" in message and "\n" not in message


def test_drop_bad_rows_keeps_the_good_ones(tmp_path):
    spec = write_dataset(tmp_path, [*GOOD, ("s4", 1, 1, 0)], ["t1"])
    table = manifest.build(spec, drop_bad_rows=True)
    assert table.id.tolist() == ["s1", "s2", "s3", "t1"]


def test_drop_bad_rows_never_drops_a_test_row(tmp_path):
    spec = write_dataset(tmp_path, [*GOOD, ("s4", 1, 1, 0)], ["t1", "t2"])
    (tmp_path / "img" / "t2.png").unlink()
    for drop in (False, True):
        with pytest.raises(FoldwiseError) as error:
            manifest.build(spec, drop_bad_rows=drop)
        message = str(error.value)
        assert "test.csv line 3 (id 't2'): " in message and "\n" not in message
        assert "drop_bad_rows: true" not in message  # dropping is no way out for a test row
    assert message.startswith("1 bad row(s): ")  # with drop_bad_rows, only the test row is in the way
    assert "cannot drop test rows: the submission needs every test id" in message


def test_missing_id_or_class_column(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1"])
    with pytest.raises(FoldwiseError, match=r"train.csv: id column 'image_id' not found"):
        manifest.build(manifest.Dataset(**{**spec.__dict__, "id_column": "image_id"}))


def test_a_text_column_instead_of_a_class_is_one_error_naming_it(tmp_path):
    rows = [(f"s{i}", *np.eye(3, dtype=int)[i % 3]) for i in range(60)]
    spec = write_dataset(tmp_path, rows, ["t1"])
    train = pd.read_csv(spec.train).drop(columns="c")
    train["comment"] = ["checked", "blurry", ""] * 20
    train.to_csv(spec.train, index=False)
    pd.DataFrame({"name": ["t1"], "a": [0.5], "b": [0.5], "c": [0.5]}).to_csv(spec.test, index=False)
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    assert str(error.value) == (
        f"{spec.train}: column(s) 'comment' (first values 'checked', 'blurry', '') hold no "
        "0/1 label in any row; the test CSV names the classes ['a', 'b', 'c'], train lacks ['c']"
    )


def test_a_wrong_label_column_is_one_error_naming_it(tmp_path):
    spec = write_dataset(tmp_path, [], ["t1"], classes=())
    pd.DataFrame({"name": [f"s{i}" for i in range(30)], "Target": ["checked", "blurry", "n/a"] * 10}).to_csv(
        spec.train, index=False
    )
    spec = manifest.Dataset(**{**spec.__dict__, "task": "multilabel", "label_column": "Target", "num_classes": 4})
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    assert str(error.value) == (
        f"{spec.train}: label column 'Target' names none of the 4 classes (0, 1, 2, 3) in any row "
        "(first values 'checked', 'blurry', 'n/a'); leave dataset.num_classes out to take the classes "
        "from train.csv, or list them in dataset.classes"
    )


def label_dataset(root, labels, **settings):
    """A train.csv of ``file,label`` rows (one image per row) and its Dataset."""
    spec = write_dataset(root, [], ["t1"], classes=())
    ids = [f"s{i}" for i in range(len(labels))]
    for sample_id in ids:
        Image.fromarray(np.full((30, 40, 3), 100, np.uint8)).save(root / "img" / f"{sample_id}.png")
    pd.DataFrame({"name": ids, "label": labels}).to_csv(spec.train, index=False)
    return manifest.Dataset(**{**spec.__dict__, "label_column": "label", **settings})


def test_integer_labels_are_classes_0_to_max_without_num_classes(tmp_path):
    table = manifest.build(label_dataset(tmp_path, ["2", "0", "3", "03"]))  # Cassava: image_id,label
    assert manifest.classes(table) == ["0", "1", "2", "3"]  # 1 has no row: still a class
    assert manifest.labels(table[table.split == "train"]).argmax(1).tolist() == [2, 0, 3, 3]


def test_class_names_are_sorted_or_in_the_order_dataset_classes_gives(tmp_path):
    table = manifest.build(label_dataset(tmp_path, ["dog", "cat", "dog", "bird"]))
    assert manifest.classes(table) == ["bird", "cat", "dog"]
    assert manifest.labels(table[table.split == "train"]).argmax(1).tolist() == [2, 1, 2, 0]
    table = manifest.build(label_dataset(tmp_path, ["dog", "cat", "dog", "bird"], classes=["dog", "cat", "bird"]))
    assert manifest.classes(table) == ["dog", "cat", "bird"]
    assert manifest.labels(table[table.split == "train"]).argmax(1).tolist() == [0, 1, 0, 2]


def test_multi_label_names_separated_by_spaces(tmp_path):
    table = manifest.build(label_dataset(tmp_path, ["rust scab", "healthy", "scab"], task="multilabel"))
    assert manifest.classes(table) == ["healthy", "rust", "scab"]
    assert manifest.labels(table[table.split == "train"]).tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 1]]


def test_a_label_outside_the_given_classes_is_a_bad_row(tmp_path):
    spec = label_dataset(tmp_path, ["dog", "cat", "cow", "dog cat"], classes=["cat", "dog"])
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    assert "line 4 (id 's2'): label(s) ['cow'] of 'cow' are not among the classes" in str(error.value)
    assert "line 5 (id 's3'): single-label row needs exactly one class, has 'dog cat'" in str(error.value)
    assert manifest.build(spec, drop_bad_rows=True).id.tolist() == ["s0", "s1", "t1"]


def test_a_label_column_of_one_class_says_what_fixes_it(tmp_path):
    with pytest.raises(FoldwiseError, match=r"names 1 class\(es\) \(\['cat'\]\).*dataset.classes"):
        manifest.build(label_dataset(tmp_path, ["cat", "cat"]))


def test_test_ids_in_train_and_escaping_ids(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["s1", "../x", "/etc/passwd"])
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    assert "test id also appears in train" in str(error.value)
    assert "id '../x' would escape the images folder" in str(error.value)
    assert "id '/etc/passwd' would escape the images folder" in str(error.value)


def test_row_without_a_positive_class(tmp_path):
    spec = write_dataset(tmp_path, [*GOOD, ("s4", 0, 0, 0)], ["t1"])
    with pytest.raises(
        FoldwiseError, match=r"line 5 \(id 's4'\): single-label row needs exactly one positive class, has 0"
    ):
        manifest.build(spec)


def test_empty_training_set(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1"])
    pd.DataFrame(columns=["name", "a", "b", "c"]).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(FoldwiseError, match="train.csv: the training set is empty"):
        manifest.build(spec)


def test_external_csv_without_a_class_column(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1"])
    pd.DataFrame({"name": ["s1x"], "a": [1], "b": [0]}).to_csv(tmp_path / "ext.csv", index=False)
    spec = manifest.Dataset(
        **{**spec.__dict__, "external": {"train": str(tmp_path / "ext.csv"), "images": spec.images}}
    )
    with pytest.raises(FoldwiseError, match=r"ext.csv: class column\(s\) \['c'\] not found"):
        manifest.build(spec)


def test_gray_and_rgba_files_among_rgb_ones_are_converted_unless_turned_off(tmp_path, caplog):
    from foldwise import images

    spec = write_dataset(tmp_path, GOOD, ["t1"])
    Image.fromarray(np.full((30, 40), 7, np.uint8)).save(tmp_path / "img" / "s2.png")  # grayscale
    rgba = np.dstack([np.full((30, 40, 3), (10, 20, 30), np.uint8), np.full((30, 40), 99, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "img" / "t1.png")  # a test row: never droppable
    with caplog.at_level("INFO"):
        table = manifest.build(spec)
    assert "1 image file(s) of 1 channel(s) converted to 3" in caplog.text
    assert "1 image file(s) of 4 channel(s) converted to 3" in caplog.text
    paths = table.set_index("id")["path:image"]
    assert images.read_sample([paths["s2"]], 3).reshape(-1, 3).tolist()[0] == [7, 7, 7]
    assert images.read_sample([paths["t1"]], 3).reshape(-1, 3).tolist()[0] == [10, 20, 30]  # alpha dropped
    gray = images.read_sample([paths["t1"]], 1)[0, 0, 0]
    assert gray == round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)  # ITU-R 601 luminance
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec, convert_channels=False)
    assert "s2.png: image has 1 channel(s), the config expects 3; manifest.convert_channels: true converts it" in str(
        error.value
    )
    assert "t1.png: image has 4 channel(s)" in str(error.value)


def test_a_channel_count_no_conversion_makes_names_dataset_channels(tmp_path):
    spec = manifest.Dataset(**{**write_dataset(tmp_path, GOOD, ["t1"]).__dict__, "channels": 4})
    Image.fromarray(np.zeros((30, 40, 4), np.uint8)).save(tmp_path / "img" / "s1.png")
    with pytest.raises(FoldwiseError) as error:
        manifest.build(spec)
    assert "s2.png: image has 3 channel(s), the config expects 4; set dataset.channels: 3 if every image has 3" in str(
        error.value
    )


def test_exif_orientation_is_applied_to_pixels_and_header_size(tmp_path):
    from foldwise import images

    pixels = np.zeros((20, 60, 3), np.uint8)
    pixels[:, :30] = 255  # stored: bright left half, 20 high and 60 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: 60 high, 20 wide, bright top half
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    shown = images.read_sample([str(path)], 3)
    assert shown.shape == (60, 20, 3) and images.header_channels(path) == (3, (60, 20))
    assert shown[:25].mean() > 200 and shown[35:].mean() < 50
    drafted = images.read_sample([str(path)], 3, draft=(30, 10))
    assert drafted.shape[0] > drafted.shape[1]  # the reduced decode is turned too


def test_one_file_per_channel_and_multilabel_indices(tmp_path):
    (tmp_path / "img").mkdir()
    colors = ["red", "green", "blue", "yellow"]
    for sample_id in ["a1", "a2", "t1"]:
        for color in colors:
            Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "img" / f"{sample_id}_{color}.png")
    pd.DataFrame({"Id": ["a1", "a2"], "Target": ["0 3", "2"]}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"Id": ["t1"], "Predicted": ["0"]}).to_csv(tmp_path / "test.csv", index=False)
    spec = manifest.Dataset(
        train=str(tmp_path / "train.csv"),
        test=str(tmp_path / "test.csv"),
        id_column="Id",
        images={c: str(tmp_path / "img" / f"{{id}}_{c}.png") for c in colors},
        task="multilabel",
        label_column="Target",
        num_classes=5,
    )
    table = manifest.build(spec)
    assert manifest.channels(table) == colors
    assert manifest.labels(table[table.split == "train"]).tolist() == [[1, 0, 0, 1, 0], [0, 0, 1, 0, 0]]


def test_headers_read_by_threads_give_the_serial_manifest_and_errors(demo_spec, demo_manifest, tmp_path):
    pd.testing.assert_frame_equal(manifest.build(demo_spec, threads=4), demo_manifest)
    spec = write_dataset(tmp_path, [*GOOD, ("s4", 0, 1, 0), ("s5", 1, 0, 0)], ["t1", "t2"])
    for missing in ("s2", "s5", "t2"):
        (tmp_path / "img" / f"{missing}.png").unlink()
    errors = []
    for threads in (1, 4):
        with pytest.raises(FoldwiseError) as error:
            manifest.build(spec, threads=threads)
        errors.append(str(error.value))
    assert errors[0] == errors[1] and errors[0].startswith("3 bad row(s): ")


def test_truncated_file_names_the_file(tmp_path):
    from foldwise import images

    path = tmp_path / "x.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(FoldwiseError, match="x.jpg: cannot decode image"):
        images.read_sample([str(path)], 3)


@pytest.mark.parametrize("bits", [12, 16])
def test_16_bit_files_are_scaled_by_their_bit_depth(tmp_path, bits):
    from foldwise import images

    top = 2**bits - 1
    values = np.array([[0, top // 4, top // 2, top]], np.uint16).repeat(4, axis=0)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    pixels = images.read_file(tmp_path / "deep.png", 1, depth=bits)
    assert pixels.dtype == np.uint8 and pixels[0, :, 0].tolist() == [0, 64, 127, 255]


def test_the_training_side_reads_nothing_of_the_test_set(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1"])
    (tmp_path / "test.csv").unlink()
    assert manifest.build_train_side(spec).id.tolist() == ["s1", "s2", "s3"]


def test_the_test_side_is_checked_against_the_training_side(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1", "s2"])
    train_side = manifest.build_train_side(spec)
    with pytest.raises(FoldwiseError, match=r"test.csv line 3 \(id 's2'\): test id also appears in train or external"):
        manifest.build_test_side(spec, train_side)
    pd.DataFrame({"name": ["t1"]}).to_csv(tmp_path / "test.csv", index=False)
    test_side = manifest.build_test_side(spec, train_side)
    assert test_side.id.tolist() == ["t1"] and manifest.classes(test_side) == ["a", "b", "c"]
    assert np.isnan(manifest.labels(test_side)).all()
    grayscale = manifest.Dataset(**{**spec.__dict__, "channels": 1})
    with pytest.raises(
        FoldwiseError, match=r"test.csv: its images name the channels \['c0'\], the training data \['r', 'g', 'b'\]"
    ):
        manifest.build_test_side(grayscale, train_side)


def test_the_bit_depth_is_decided_once_for_the_dataset(tmp_path):
    from foldwise import images

    # a dim 12-bit file and a bright one: read alone, 4000 would become 249 in one and 16 in the other
    Image.fromarray(np.full((4, 4), 4000, np.uint16)).save(tmp_path / "dim.png")
    Image.fromarray(np.full((4, 4), 60000, np.uint16)).save(tmp_path / "bright.png")
    paths = [str(tmp_path / "dim.png"), str(tmp_path / "bright.png")]
    assert images.bit_depth(paths) == 16 and images.bit_depth(paths[:1]) == 12
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "plain.png")
    assert images.bit_depth([str(tmp_path / "plain.png")]) == 8
    depth = images.bit_depth(paths)
    assert images.read_file(paths[0], 1, depth=depth)[0, 0, 0] == round(4000 * 255 / 65535)  # 16, as the bright file's


def test_the_manifest_records_the_bit_depth_and_the_test_side_takes_the_training_sides(tmp_path):
    spec = write_dataset(tmp_path, GOOD, ["t1"])
    train_side = manifest.build_train_side(spec)
    assert manifest.bit_depth(train_side) == 8  # no 16-bit file
    fixed = manifest.Dataset(**{**spec.__dict__, "bit_depth": 12})
    assert manifest.bit_depth(manifest.build_train_side(fixed)) == 12
    assert manifest.bit_depth(manifest.build_test_side(spec, manifest.build_train_side(fixed))) == 12


def image_folder(root):
    """train/<class>/<file> (with a hidden file, a note and a stray root image) and test/ with a subfolder."""
    for path in ["train/dog/d1.jpg", "train/dog/d2.png", "train/cat/c1.jpg", "train/cat/sub/c2.jpg", "train/x.jpg"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(root / path)
    for path in ["test/t1.jpg", "test/more/t2.JPG"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(root / path, format="JPEG")
    (root / "train/dog/.DS_Store").write_bytes(b"\0")
    (root / "train/cat/notes.txt").write_text("not an image")
    return root / "train", root / "test"


def test_an_image_folder_trains_by_subfolder_and_a_test_folder_by_relative_path(tmp_path, caplog):
    from foldwise import configs

    train, test = image_folder(tmp_path)
    dataset = configs.dataset_defaults({"train": str(train), "test": str(test)})
    assert dataset["images"] == f"{train}/{{id}}" and dataset["test_images"] == f"{test}/{{id}}"
    assert dataset["label_column"] == "label"
    spec = manifest.Dataset(**{**dataset, "images": dataset["images"]})
    with caplog.at_level("INFO"):
        train_side = manifest.build_train_side(spec)
        test_side = manifest.build_test_side(
            manifest.Dataset(**{**dataset, "images": dataset["test_images"]}), train_side
        )
    assert train_side.id.tolist() == ["cat/c1.jpg", "cat/sub/c2.jpg", "dog/d1.jpg", "dog/d2.png"]
    assert manifest.classes(train_side) == ["cat", "dog"]
    assert manifest.labels(train_side).argmax(1).tolist() == [0, 0, 1, 1]
    assert test_side.id.tolist() == ["more/t2.JPG", "t1.jpg"]
    assert "skipped 1 hidden, 1 not an image, 1 outside a class folder" in caplog.text


def test_images_are_required_unless_train_is_a_folder(tmp_path):
    from foldwise import configs

    with pytest.raises(ValueError, match="dataset.images is required .* 'train.csv' is not a folder"):
        configs.dataset_defaults({"train": "train.csv", "test": "test.csv"})
    (tmp_path / "empty/a").mkdir(parents=True)
    spec = manifest.Dataset(train=str(tmp_path / "empty"), test="t.csv", images="x/{id}", label_column="label")
    with pytest.raises(FoldwiseError, match="empty: the train folder holds no <class>/<image> files"):
        manifest.build_train_side(spec)
