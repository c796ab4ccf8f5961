"""Detector boxes (``dataset.boxes``): one box per sample, which the cache crops to before resizing.

The CSV has the dataset's id column and ``x0,y0,x1,y1`` in pixels of the original image (edges:
pixel i spans [i, i + 1), so a box of the whole image is 0, 0, width, height), and optionally a
``confidence`` column; any detector's output fits (Happywhale's YOLO or Detic boxes). A sample
without a box is cached whole.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from foldwise import FoldwiseError, manifest

COORDINATES = ["x0", "y0", "x1", "y1"]
MAX_LISTED = 5  # unknown ids spelled out in the error line


def read(path: str, id_column: str) -> pd.DataFrame:
    """The boxes of ``path``, validated: the first bad line is one error naming file and line.

    Args:
        path: the boxes CSV (dataset.boxes).
        id_column: its id column (dataset.id_column).

    Returns:
        DataFrame with columns id, x0, y0, x1, y1 (float64), line (its CSV line, header = 1), and
        confidence where the CSV has one; ``attrs["file"]`` is ``path``, for later errors.
    """
    table = manifest.read_csv(path, "boxes", id_column)
    missing = [c for c in [id_column, *COORDINATES] if c not in table.columns]
    if missing:
        raise FoldwiseError(
            f"{path} line 1: missing column(s) {missing} (columns: {list(table.columns)}); "
            f"the boxes CSV needs {id_column},x0,y0,x1,y1 (dataset.id_column names the id)"
        )
    numbers = COORDINATES + (["confidence"] if "confidence" in table.columns else [])
    out = pd.DataFrame({"id": table[id_column].str.strip()})
    for name in numbers:
        out[name] = pd.to_numeric(table[name].str.strip(), errors="coerce").astype(np.float64)
    out["line"] = np.arange(len(table)) + 2
    first_line = out.groupby("id").line.transform("min")
    checks = [(out.id == "", lambda i: "empty id")]  # (bad rows, reason), checked in this order
    for name in numbers:
        checks.append((~np.isfinite(out[name]), lambda i, name=name: f"{name} {table[name].iloc[i]!r} is not a number"))
    checks += [
        (out[COORDINATES].lt(0).any(axis=1), lambda i: f"negative coordinate in {_box(out, i)}"),
        (out.x1 <= out.x0, lambda i: f"x1 must exceed x0 in {_box(out, i)}"),
        (out.y1 <= out.y0, lambda i: f"y1 must exceed y0 in {_box(out, i)}"),
        (out.id.duplicated(), lambda i: f"id twice (first on line {first_line.iloc[i]})"),
    ]
    bad = np.logical_or.reduce([np.asarray(rows, bool) for rows, _ in checks])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        reason = next(describe(i) for rows, describe in checks if np.asarray(rows, bool)[i])
        more = f" (and {bad.sum() - 1} more bad line(s))" if bad.sum() > 1 else ""
        raise FoldwiseError(f"{path} line {i + 2} (id {out.id.iloc[i]!r}): {reason}{more}; fix dataset.boxes")
    out.attrs["file"] = str(path)
    return out[["id", *COORDINATES, "line", *numbers[4:]]]


def _box(table: pd.DataFrame, i: int) -> str:
    return "x0,y0,x1,y1 = " + ",".join(f"{v:g}" for v in table[COORDINATES].iloc[i])


def check_known(boxes: pd.DataFrame, known_ids: pd.Series | np.ndarray | list, path: str) -> None:
    """One error naming the first box ids (with their lines, and how many) that are no known id.

    Args:
        boxes: from ``read``.
        known_ids: every train and test id.
        path: the boxes CSV, for the message.
    """
    unknown = boxes[~boxes.id.isin(list(known_ids))]  # a list: pandas cannot read a set as values
    if unknown.empty:
        return
    listed = ", ".join(f"line {line} (id {i!r})" for i, line in zip(unknown.id[:MAX_LISTED], unknown.line))
    more = ", ..." if len(unknown) > MAX_LISTED else ""
    raise FoldwiseError(
        f"{path}: {len(unknown)} box id(s) in neither train nor test: {listed}{more}; "
        "check dataset.boxes and dataset.id_column"
    )


def crop_window(
    box: np.ndarray, original: tuple[int, int], decoded: tuple[int, int], margin: float = 0.0
) -> tuple[slice, slice]:
    """The (rows, columns) slices of a decoded image that ``box``, grown by ``margin``, covers.

    Args:
        box: (4,) x0, y0, x1, y1 in pixels of the original image, inside it.
        original: (height, width) of the original image (``images.header_channels``).
        decoded: (height, width) of the decoded array, smaller where a JPEG was draft-decoded.
        margin: the box grows by margin x its width (height) on the left and right (top and bottom),
            then is clipped to the image.

    Returns:
        (rows, columns) slices, each at least one pixel wide.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    grow_x, grow_y = margin * (x1 - x0), margin * (y1 - y0)
    (height, width), (rows, cols) = original, decoded
    x0, x1 = max(x0 - grow_x, 0.0) * cols / width, min(x1 + grow_x, width) * cols / width
    y0, y1 = max(y0 - grow_y, 0.0) * rows / height, min(y1 + grow_y, height) * rows / height
    return _span(y0, y1, rows), _span(x0, x1, cols)


def _span(low: float, high: float, size: int) -> slice:
    """Every pixel the continuous interval [low, high) touches, at least one, inside 0..size."""
    start = min(int(math.floor(low + 1e-6)), size - 1)
    stop = max(min(int(math.ceil(high - 1e-6)), size), start + 1)
    return slice(start, stop)
