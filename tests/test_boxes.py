import numpy as np
import pandas as pd
import pytest
from PIL import Image

from foldwise import FoldwiseError, boxes, cache, images

SIZE = (16, 24)  # cache (height, width)


def scene(height=60, width=80, box=(30, 20, 60, 40)):
    """Dark image with a bright gradient rectangle at ``box`` (x0, y0, x1, y1): a shifted crop shows."""
    image = np.full((height, width, 3), 10, np.uint8)
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    image[y0:y1, x0:x1, 0] = 120 + 100 * (xs - x0) // (x1 - x0)
    image[y0:y1, x0:x1, 1] = 120 + 100 * (ys - y0) // (y1 - y0)
    image[y0:y1, x0:x1, 2] = 250
    return image


def manifest_of(paths):
    return pd.DataFrame({"id": [f"s{i}" for i in range(len(paths))], "split": "train", "path:image": paths})


def box_table(rows, file="boxes.csv"):
    table = pd.DataFrame(rows, columns=["id", "x0", "y0", "x1", "y1"]).astype({c: float for c in "x0 y0 x1 y1".split()})
    table["line"] = np.arange(len(table)) + 2
    table.attrs["file"] = file
    return table


def write_csv(tmp_path, text):
    path = tmp_path / "boxes.csv"
    path.write_text(text)
    return str(path)


def cached(tmp_path, table, box_rows, margin=0.0, threads=1):
    cache.build(
        table,
        3,
        SIZE,
        tmp_path / "images.npy",
        tmp_path / "index.parquet",
        threads=threads,
        chunk=1,  # one job per sample: the boxes of every job are sliced right
        boxes=box_table(box_rows),
        margin=margin,
    )
    return cache.load(tmp_path / "images.npy")


@pytest.fixture
def png(tmp_path):
    image = scene()
    path = tmp_path / "scene.png"
    Image.fromarray(image).save(path)
    return image, str(path)


def test_a_box_crops_before_the_resize_and_a_row_without_one_is_whole(png, tmp_path):
    image, path = png
    out = cached(tmp_path, manifest_of([path, path, path]), [("s0", 30, 20, 60, 40), ("s2", 30.5, 20, 59.5, 40)])
    np.testing.assert_array_equal(out[0], cache.fit(image[20:40, 30:60], SIZE))
    np.testing.assert_array_equal(out[1], cache.fit(image, SIZE))  # no box: the whole image
    np.testing.assert_array_equal(out[2], out[0])  # fractional edges take every pixel they touch


def test_the_margin_grows_the_crop_and_stops_at_the_image_edge(png, tmp_path):
    image, path = png
    box = (30, 20, 60, 40)
    out = cached(tmp_path, manifest_of([path]), [("s0", *box)], margin=0.5)
    np.testing.assert_array_equal(out[0], cache.fit(image[10:50, 15:75], SIZE))  # 15 = 30 - 0.5 * 30
    out = cached(tmp_path, manifest_of([path]), [("s0", *box)], margin=1.0)
    np.testing.assert_array_equal(out[0], cache.fit(image, SIZE))  # 0..90 x 0..60 clipped to 80 x 60


def test_a_box_outside_the_image_names_the_line_id_and_size(png, tmp_path):
    _, path = png
    with pytest.raises(FoldwiseError, match=r"boxes.csv line 3 \(id 's1'\): box .* \(width 80, height 60\)"):
        cached(tmp_path, manifest_of([path, path]), [("s0", 0, 0, 80, 60), ("s1", 10, 10, 81, 50)])
    assert not (tmp_path / "images.npy").exists() and not list(tmp_path.glob(".*part*"))


def test_a_negative_margin_is_an_error(png, tmp_path):
    with pytest.raises(FoldwiseError, match="margin must be at least 0"):
        cached(tmp_path, manifest_of([png[1]]), [], margin=-0.1)


def test_draft_decoded_jpeg_boxes_are_scaled_to_the_decoded_image(tmp_path):
    box = (200, 100, 440, 260)  # the rectangle, in original pixels of a 600 x 400 JPEG
    image = scene(400, 600, box)
    path = tmp_path / "large.jpg"
    Image.fromarray(image).save(path, quality=95)
    size = (60, 100)
    draft = images.read_file(path, 3, (size[0] * 2, size[1] * 2))
    assert draft.shape == (200, 300, 3)  # the decoder really halves it: the scale matters here
    cache.build(
        manifest_of([str(path)] * 2),
        3,
        size,
        tmp_path / "images.npy",
        tmp_path / "index.parquet",
        threads=2,  # boxes travel to the worker processes
        chunk=1,
        boxes=box_table([("s1", *box)]),
    )
    out = cache.load(tmp_path / "images.npy")
    expected = cache.fit(image[100:260, 200:440], size).astype(int)  # the crop of the pixels saved
    assert np.abs(out[1].astype(int) - expected).max() <= 12  # JPEG loss (an unscaled box: ~180 on average)
    assert np.abs(out[1].astype(int) - expected).mean() <= 2
    assert out[1, :, :, 2].min() > 200  # only the bright rectangle, no dark border
    assert np.abs(out[0].astype(int) - cache.fit(image, size).astype(int)).mean() <= 2  # no box: whole


def test_read_returns_boxes_with_their_lines(tmp_path):
    path = write_csv(tmp_path, "image,x0,y0,x1,y1,confidence\na.jpg,0,1,10,11.5,0.9\n b.jpg ,2,3,4,5,0.1\n")
    table = boxes.read(path, "image")
    assert list(table.columns) == ["id", "x0", "y0", "x1", "y1", "line", "confidence"]
    assert table.id.tolist() == ["a.jpg", "b.jpg"] and table.line.tolist() == [2, 3]
    assert table.y1.tolist() == [11.5, 5.0] and table.attrs["file"] == path
    plain = boxes.read(write_csv(tmp_path, "image,x1,y1,x0,y0\na,5,5,1,1\n"), "image")
    assert list(plain.columns) == ["id", "x0", "y0", "x1", "y1", "line"] and plain.x0.tolist() == [1.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image,x0,y0,x1\na,0,0,1\n", r"line 1: missing column\(s\) \['y1'\]"),
        ("id,x0,y0,x1,y1\na,0,0,1,1\n", r"id column 'image' not found .*set dataset.id_column"),
        ("image,x0,y0,x1,y1\na,0,0,1,1\nb,0,zero,1,1\n", r"line 3 \(id 'b'\): y0 'zero' is not a number"),
        ("image,x0,y0,x1,y1\na,0,0,,1\n", r"line 2 \(id 'a'\): x1 '' is not a number"),
        ("image,x0,y0,x1,y1,confidence\na,0,0,1,1,high\n", r"line 2 \(id 'a'\): confidence 'high' is not a number"),
        ("image,x0,y0,x1,y1\na,5,0,5,1\n", r"line 2 \(id 'a'\): x1 must exceed x0"),
        ("image,x0,y0,x1,y1\na,0,0,1,1\nb,0,4,1,2\n", r"line 3 \(id 'b'\): y1 must exceed y0"),
        ("image,x0,y0,x1,y1\na,-1,0,1,1\n", r"line 2 \(id 'a'\): negative coordinate"),
        ("image,x0,y0,x1,y1\na,0,0,1,1\nb,0,0,1,1\na,0,0,2,2\n", r"line 4 \(id 'a'\): id twice \(first on line 2\)"),
        ("image,x0,y0,x1,y1\na,x,0,1,1\nb,-1,0,1,1\n", r"line 2 .* \(and 1 more bad line\(s\)\)"),
    ],
)
def test_read_names_the_file_and_line_of_a_bad_box(tmp_path, text, message):
    path = write_csv(tmp_path, text)
    with pytest.raises(FoldwiseError, match=message) as error:
        boxes.read(path, "image")
    assert str(error.value).startswith(path) and "\n" not in str(error.value)


def test_check_known_counts_and_names_the_unknown_ids(tmp_path):
    rows = [(f"x{i}", 0, 0, 1, 1) for i in range(8)]
    table = box_table(rows)
    boxes.check_known(table, [f"x{i}" for i in range(8)], "boxes.csv")  # all known: silent
    with pytest.raises(FoldwiseError, match=r"boxes.csv: 6 box id\(s\) in neither train nor test: line 4 \(id 'x2'\)"):
        boxes.check_known(table, pd.Series(["x0", "x1"]), "boxes.csv")


def test_crop_window_scales_from_original_to_decoded_pixels():
    rows, cols = boxes.crop_window(np.array([200.0, 100, 440, 260]), (400, 600), (200, 300))
    assert (rows, cols) == (slice(50, 130), slice(100, 220))
    rows, cols = boxes.crop_window(np.array([0.0, 0, 1, 1]), (400, 600), (50, 75))  # under a decoded pixel
    assert (rows, cols) == (slice(0, 1), slice(0, 1))
