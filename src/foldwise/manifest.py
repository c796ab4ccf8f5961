"""The manifest: one validated row per sample (train, test, external), the index every stage reads.

It is built in two sides: the training side (train and external rows) and the test side (the
test rows, checked against the training side), so that a new test set rebuilds only its own.

Columns: ``id``, ``split`` (train | test | external), ``group`` when configured, one
``path:<channel-file>`` column per image file, and one float ``label:<class>`` column per
class (NaN for test rows); identity data (``task: identity``) has instead one ``identity``
column, the individual of each train and external row (None for test rows): with 15,000
individuals a column per class would not do. Class order is that of train.csv; ``attrs["channels"]`` names
the input channels.

Validation reports every bad row at once, each with its file and CSV line, then either
fails or, with ``drop_bad_rows``, drops them and logs what was dropped. Bad test rows are
never dropped: the submission needs every test id.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from foldwise import FoldwiseError, images

log = logging.getLogger(__name__)

MAX_LISTED = 10  # bad rows spelled out in the error line; the log lists them all


@dataclass(frozen=True)
class Dataset:
    """The ``dataset:`` section of the config (see the dataset contract in the README)."""

    train: str
    test: str
    images: str | dict[str, str]
    id_column: str = "image_id"
    task: str = "multiclass"
    label_column: str | None = None
    num_classes: int | None = None
    classes: list | None = None  # a label column's classes in their order (names or indices)
    test_id_column: str | None = None  # the test CSV's id column where it lacks id_column
    group_column: str | None = None
    channels: int | None = None
    external: dict | None = None
    boxes: str | None = None  # detector boxes CSV: the cache crops them (foldwise.boxes)
    test_images: str | dict[str, str] | None = None  # the test split's template; the workflow puts it in images
    bit_depth: str | int = "auto"  # of 16-bit files: 8, 12 or 16; auto: decided over the training side's files

    @property
    def identity(self) -> bool:
        """Labels are individuals (Happywhale): embeddings and retrieval, not a classifier."""
        return self.task == "identity"

    @property
    def channel_names(self) -> list[str]:
        """One name per channel of the model input."""
        if isinstance(self.images, dict):
            return list(self.images)
        count = self.channels or 3
        return ["r", "g", "b"] if count == 3 else [f"c{i}" for i in range(count)]

    @property
    def templates(self) -> dict[str, str]:
        """Image-file template per file: one RGB file, or one single-channel file per channel."""
        return dict(self.images) if isinstance(self.images, dict) else {"image": self.images}


@dataclass
class Problems:
    """Bad rows found while validating, grouped by file."""

    rows: list[tuple[str, int, str, str]] = field(default_factory=list)  # (file, line, id, reason)
    convert_channels: bool = True  # manifest.convert_channels: a convertible channel count is no problem

    def add(self, file: str, index: int, sample_id, reason: str) -> None:
        self.rows.append((file, int(index) + 2, str(sample_id), reason))  # +2: header, 1-based lines

    def summary(self, advice: str) -> str:
        listed = "; ".join(f"{f} line {line} (id {i!r}): {r}" for f, line, i, r in self.rows[:MAX_LISTED])
        more = f"; ... and {len(self.rows) - MAX_LISTED} more (see the log)" if len(self.rows) > MAX_LISTED else ""
        return f"{len(self.rows)} bad row(s): {listed}{more}. {advice}"


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif"}


def test_id_column(columns: list[str], id_column: str, own: str | None, file: str) -> str:
    """The test CSV's own id column: ``id_column`` where it has one, else ``own``
    (``dataset.test_id_column``), else its first column (a sample submission names its id as the
    competition wants it)."""
    if id_column in columns:
        return id_column
    if own:
        if own not in columns:
            raise FoldwiseError(f"{file}: dataset.test_id_column {own!r} not found (columns: {columns})")
        return own
    return columns[0]


def read_test_csv(spec: Dataset) -> pd.DataFrame:
    """The test CSV (or folder) with its own id column (``test_id_column``) named ``id_column``."""
    if Path(spec.test).is_dir():
        return read_folder(spec.test, "test", spec.id_column, None)
    table = read_csv(spec.test, "test", None)
    own = test_id_column(list(table.columns), spec.id_column, spec.test_id_column, spec.test)
    if own != spec.id_column:
        log.info("%s: its id column is %r (dataset.id_column is %r)", spec.test, own, spec.id_column)
    return table.rename(columns={own: spec.id_column})[[spec.id_column, *(c for c in table.columns if c != own)]]


def read_csv(path: str, what: str, id_column: str | None, label_column: str | None = None) -> pd.DataFrame:
    """A CSV of the dataset as strings, or a folder as the table it stands for (``read_folder``);
    ``id_column`` None: any columns."""
    if Path(path).is_dir():
        return read_folder(path, what, id_column, label_column)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise FoldwiseError(f"{path}: {what} CSV not found (dataset.{what} in the config)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FoldwiseError(f"{path}: cannot parse {what} CSV ({error})") from None
    if id_column is not None and id_column not in table.columns:
        raise FoldwiseError(
            f"{path}: id column {id_column!r} not found (columns: {list(table.columns)}); set dataset.id_column"
        )
    return table


def read_folder(root: str, what: str, id_column: str, label_column: str | None) -> pd.DataFrame:
    """A folder as a table: every image file under it, its id the path relative to the folder; a
    training folder is an ImageFolder, the class of a file its first subfolder (``label_column``).
    Hidden files and folders and non-images are skipped, with a count in the log."""
    skipped, ids = Counter(), []
    for path in sorted(Path(root).rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir():
            continue
        if any(part.startswith(".") for part in relative.parts):
            skipped["hidden"] += 1
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped["not an image"] += 1
        elif what != "test" and len(relative.parts) < 2:
            skipped["outside a class folder"] += 1
        else:
            ids.append(relative.as_posix())
    if skipped:
        log.info("%s: skipped %s", root, ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())))
    if not ids:
        layout = "<class>/<image> files" if what != "test" else "image files"
        raise FoldwiseError(f"{root}: the {what} folder holds no {layout} ({', '.join(sorted(IMAGE_SUFFIXES))})")
    table = pd.DataFrame({id_column: ids})
    if what != "test":
        table[label_column] = [sample_id.split("/")[0] for sample_id in ids]
    classes = f" in {table[label_column].nunique()} class folders" if what != "test" else ""
    log.info("%s: %d image file(s)%s", root, len(ids), classes)
    return table


def class_names(train: pd.DataFrame, test: pd.DataFrame | None, spec: Dataset) -> list[str]:
    """Classes in train.csv order: its 0/1 columns, or those of a label column (``label_classes``).

    A column of train.csv that holds no label in any row (a comment, a size) is one error that
    names it, with the classes the test CSV names when it is read with train.csv, instead of
    one error per row.
    """
    if spec.identity:
        return []  # individuals are not classes: see read_identities
    if spec.label_column:
        return label_classes(train, spec)
    skip = {spec.id_column, spec.group_column}
    classes = [c for c in train.columns if c not in skip]
    not_labels = [c for c in classes if len(train) and not _is_label(train[c]).any()]
    if not_labels:
        # a sample_submission.csv names the classes
        expected = [] if test is None else [c for c in test.columns if c != spec.id_column]
        if expected:
            lacking = [c for c in expected if c not in train.columns]
            named = f"the test CSV names the classes {expected}" + (f", train lacks {lacking}" if lacking else "")
        else:
            named = f"the other columns, {[c for c in classes if c not in not_labels]}, would be the classes"
        listed = ", ".join(f"{c!r} (first values {', '.join(_first_values(train[c]))})" for c in not_labels)
        raise FoldwiseError(f"{spec.train}: column(s) {listed} hold no 0/1 label in any row; {named}")
    if len(classes) < 2:
        raise FoldwiseError(f"{spec.train}: needs one 0/1 column per class besides {spec.id_column!r}, found {classes}")
    return classes


def label_classes(train: pd.DataFrame, spec: Dataset) -> list[str]:
    """The classes of a label column, each row naming its class (or, multi-label, its classes
    separated by spaces): ``dataset.classes`` in the order given; else ``0..num_classes-1``; else
    what train.csv spells: ``0..max`` when every label is an integer (Cassava's ``label``), else the
    sorted distinct names (``cat``, ``dog``)."""
    if spec.classes:
        classes = [str(c) for c in spec.classes]
        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise FoldwiseError(f"dataset.classes must name at least 2 distinct classes, got {spec.classes}")
        return classes
    if spec.num_classes:
        return [str(i) for i in range(spec.num_classes)]
    _require_column(train, spec.train, spec.label_column, "label")
    names = sorted({name for text in train[spec.label_column] for name in text.split()})
    if all(name.isdigit() for name in names):
        count = max((int(name) for name in names), default=0) + 1
        unused = sorted(set(range(count)) - {int(name) for name in names})
        if unused:
            log.warning("classes %s have no row in %s; dataset.num_classes fixes the count", unused, spec.train)
        names = [str(i) for i in range(count)]
    if len(names) < 2:
        raise FoldwiseError(
            f"{spec.train}: label column {spec.label_column!r} names {len(names)} class(es) ({names}); "
            "a classifier needs 2 or more (dataset.classes lists them)"
        )
    return names


def _require_column(table: pd.DataFrame, file: str, column: str, what: str) -> None:
    if column not in table.columns:
        raise FoldwiseError(f"{file}: {what} column {column!r} not found (columns: {list(table.columns)})")


def _is_label(column: pd.Series) -> pd.Series:
    """Which values of a 0/1 class column are labels: numbers in [0, 1]."""
    return pd.to_numeric(column, errors="coerce").between(0, 1)


def _first_values(column: pd.Series, count: int = 3) -> list[str]:
    return [repr(v) for v in list(dict.fromkeys(column))[:count]]


def parse_labels(table: pd.DataFrame, file: str, spec: Dataset, classes: list[str], problems: Problems) -> np.ndarray:
    """(n, classes) float32 labels of a labelled CSV; bad rows are recorded and get NaN."""
    labels = np.full((len(table), len(classes)), np.nan, np.float32)
    ids = table[spec.id_column].to_numpy()
    if spec.label_column:
        _require_column(table, file, spec.label_column, "label")
        column, index = table[spec.label_column], {name: k for k, name in enumerate(classes)}
        numbered = classes == [str(k) for k in range(len(classes))]  # "07" is class 7

        def class_of(name: str):
            return index.get(str(int(name)) if numbered and name.isdigit() else name)

        rows = [[class_of(name) for name in text.split()] for text in column]
        if len(table) and not any(row and None not in row for row in rows):
            shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
            raise FoldwiseError(
                f"{file}: label column {spec.label_column!r} names none of the {len(classes)} classes ({shown}) "
                f"in any row (first values {', '.join(_first_values(column))}); leave dataset.num_classes out "
                "to take the classes from train.csv, or list them in dataset.classes"
            )
        for i, (text, found) in enumerate(zip(column, rows)):
            if None in found:
                unknown = [name for name, k in zip(text.split(), found) if k is None]
                problems.add(file, i, ids[i], f"label(s) {unknown} of {text!r} are not among the classes")
                continue
            if spec.task == "multiclass" and len(set(found)) != 1:
                problems.add(file, i, ids[i], f"single-label row needs exactly one class, has {text!r}")
                continue
            labels[i] = 0
            labels[i, found] = 1
    else:
        missing = [c for c in classes if c not in table.columns]
        if missing:
            raise FoldwiseError(f"{file}: class column(s) {missing} not found (columns: {list(table.columns)})")
        values = table[classes].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
        for i in range(len(table)):
            row = values[i]
            if np.isnan(row).any() or (row < 0).any() or (row > 1).any():
                problems.add(
                    file, i, ids[i], f"labels {table.loc[table.index[i], classes].tolist()} must be numbers in [0, 1]"
                )
            elif spec.task == "multiclass" and (row >= 0.5).sum() != 1:
                problems.add(
                    file, i, ids[i], f"single-label row needs exactly one positive class, has {(row >= 0.5).sum()}"
                )
            else:
                labels[i] = row
    return labels


def read_identities(table: pd.DataFrame, file: str, spec: Dataset, problems: Problems) -> pd.Series:
    """The individual of every row (``dataset.label_column``); an empty one is a bad row."""
    if not spec.label_column:
        raise FoldwiseError("task identity: set dataset.label_column to the identity column (e.g. individual_id)")
    if spec.label_column not in table.columns:
        raise FoldwiseError(f"{file}: identity column {spec.label_column!r} not found (columns: {list(table.columns)})")
    identity = table[spec.label_column].str.strip()
    for i in np.flatnonzero(identity == ""):
        problems.add(file, i, table[spec.id_column].iloc[i], f"empty identity in column {spec.label_column!r}")
    return identity


def check_images(
    table: pd.DataFrame, file: str, templates: dict[str, str], channels: int, problems: Problems, threads: int = 1
) -> dict[str, list[str]]:
    """Resolve every image path and check that it exists and has the expected channel count, or one
    ``images.read_file`` converts to it (gray, RGB, RGBA; unless ``problems.convert_channels`` is off).

    Headers are read by ``threads`` threads: on a network file system each read waits for the
    server, not the CPU. Results, and the order of the problems found, do not depend on it.
    """
    per_file = channels if len(templates) == 1 else 1
    jobs = [
        (i, sample_id, name, template)
        for i, sample_id in enumerate(table["id"])
        for name, template in templates.items()
    ]
    check = partial(_check_image, channels=per_file, convert=problems.convert_channels)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        checked = list(pool.map(lambda job: check(job[1], job[3]), jobs))  # in the order of jobs
    paths: dict[str, list[str]] = {name: [] for name in templates}
    converted = Counter()
    for (i, sample_id, name, _), (path, error, found) in zip(jobs, checked):
        if error:
            problems.add(file, i, sample_id, error)
        elif found != per_file:
            converted[found] += 1
        paths[name].append(path)
    for found, count in sorted(converted.items()):
        log.info(
            "%s: %d image file(s) of %d channel(s) converted to %d (manifest.convert_channels)",
            *(file, count, found, per_file),
        )
    return paths


def _check_image(sample_id: str, template: str, channels: int, convert: bool) -> tuple[str, str | None, int]:
    """(path, None, channels found) for a readable image of ``channels`` channels or one convertible to
    them, else ("", the reason, 0); the reason names the setting that fixes it."""
    try:
        path = images.image_path(template, sample_id)
        found, _ = images.header_channels(path)
        if found != channels and not (convert and images.convertible(found, channels)):
            fix = (
                "manifest.convert_channels: true converts it"
                if images.convertible(found, channels)
                else f"set dataset.channels: {found} if every image has {found}"
            )
            raise FoldwiseError(f"{path}: image has {found} channel(s), the config expects {channels}; {fix}")
    except FoldwiseError as error:
        return "", str(error), 0
    return str(path), None, found


def read_split(
    spec: Dataset,
    split: str,
    csv: str,
    table: pd.DataFrame,
    templates: dict[str, str],
    classes: list[str],
    problems: Problems,
    threads: int = 1,
) -> pd.DataFrame:
    """Validated rows of one CSV (``table``, read from ``csv``) as manifest rows (bad rows flagged by ``problems``)."""
    out = pd.DataFrame({"id": table[spec.id_column].str.strip(), "split": split})
    for i in np.flatnonzero(out.id == ""):
        problems.add(csv, i, "", "empty id")
    for i in np.flatnonzero(out.id.duplicated(keep="first")):
        problems.add(csv, i, out.id.iloc[i], "duplicate id")
    if spec.group_column and split != "test":
        if spec.group_column not in table.columns:
            raise FoldwiseError(f"{csv}: group column {spec.group_column!r} not found")
        out["group"] = table[spec.group_column]
    paths = check_images(out, csv, templates, len(spec.channel_names), problems, threads)
    for name, column in paths.items():
        out[f"path:{name}"] = column
    if spec.identity:
        out["identity"] = read_identities(table, csv, spec, problems) if split != "test" else None
    labels = (
        parse_labels(table, csv, spec, classes, problems)
        if split != "test" and not spec.identity
        else np.full((len(table), len(classes)), np.nan, np.float32)
    )
    for k, name in enumerate(classes):
        out[f"label:{name}"] = labels[:, k]
    out["_file"], out["_line"] = csv, np.arange(len(out)) + 2
    return out


def read_train_side(
    spec: Dataset, train: pd.DataFrame, problems: Problems, threads: int = 1, test: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Validated rows of train.csv (``train``) and of the (optional) external CSV; ``test``, the test CSV,
    only names the classes in an error."""
    classes = class_names(train, test, spec)
    parts = [read_split(spec, "train", spec.train, train, spec.templates, classes, problems, threads)]
    if spec.external:
        ext_templates = spec.external["images"]
        ext_templates = dict(ext_templates) if isinstance(ext_templates, dict) else {"image": ext_templates}
        if set(ext_templates) != set(spec.templates):
            raise FoldwiseError(
                f"dataset.external.images names files {sorted(ext_templates)}, "
                f"dataset.images names {sorted(spec.templates)}"
            )
        external = read_csv(spec.external["train"], "external", spec.id_column, spec.label_column)
        parts.append(
            read_split(spec, "external", spec.external["train"], external, ext_templates, classes, problems, threads)
        )
    table = pd.concat(parts, ignore_index=True)
    for i in np.flatnonzero((table.split == "external") & table.id.isin(table.id[table.split == "train"])):
        problems.add(spec.external["train"], table._line[i] - 2, table.id[i], "external id also appears in train")
    return table


def read_test_side(
    spec: Dataset, test: pd.DataFrame, train_side: pd.DataFrame, problems: Problems, threads: int = 1
) -> pd.DataFrame:
    """Validated rows of the test CSV (``test``, read from ``spec.test``) in the classes of the training side,
    whose ids they may not repeat."""
    table = read_split(spec, "test", spec.test, test, spec.templates, classes(train_side), problems, threads)
    for i in np.flatnonzero(table.id.isin(train_side.id)):
        problems.add(spec.test, table._line[i] - 2, table.id[i], "test id also appears in train or external")
    return table


def build_train_side(
    spec: Dataset, drop_bad_rows: bool = False, threads: int = 1, convert_channels: bool = True
) -> pd.DataFrame:
    """The training side's manifest: train and external rows. It reads nothing of the test set, so that a
    new test set leaves it, and all training, alone; ``threads`` read image headers."""
    problems = Problems(convert_channels=convert_channels)
    train = read_csv(spec.train, "train", spec.id_column, spec.label_column)
    table = finish(read_train_side(spec, train, problems, threads), problems, spec, drop_bad_rows, ("train",))
    return with_bit_depth(table, spec, threads)


def build_test_side(
    spec: Dataset,
    train_side: pd.DataFrame,
    drop_bad_rows: bool = False,
    threads: int = 1,
    convert_channels: bool = True,
) -> pd.DataFrame:
    """The test side's manifest: the rows of ``spec.test`` (images from ``spec.images``), checked against the
    training side's manifest ``train_side``: its classes and channels, and none of its ids."""
    if spec.channel_names != channels(train_side):
        raise FoldwiseError(
            f"{spec.test}: its images name the channels {spec.channel_names}, the training data {channels(train_side)}"
        )
    problems = Problems(convert_channels=convert_channels)
    test = read_test_csv(spec)
    table = finish(read_test_side(spec, test, train_side, problems, threads), problems, spec, drop_bad_rows, ("test",))
    table.attrs["bit_depth"] = bit_depth(train_side)  # the training side's: test pixels scale as train's
    return table


def build(spec: Dataset, drop_bad_rows: bool = False, threads: int = 1, convert_channels: bool = True) -> pd.DataFrame:
    """Both sides in one table (train, external, then test rows), every bad row of both reported at once."""
    problems = Problems(convert_channels=convert_channels)
    train, test = (
        read_csv(spec.train, "train", spec.id_column, spec.label_column),
        read_test_csv(spec),
    )
    train_side = read_train_side(spec, train, problems, threads, test)
    table = pd.concat([train_side, read_test_side(spec, test, train_side, problems, threads)], ignore_index=True)
    return with_bit_depth(finish(table, problems, spec, drop_bad_rows, ("train", "test")), spec, threads)


def finish(
    table: pd.DataFrame, problems: Problems, spec: Dataset, drop_bad_rows: bool, required: tuple[str, ...]
) -> pd.DataFrame:
    """Report the bad rows, then fail or drop them (never a test row: the submission needs every test id);
    no rows left of a ``required`` split (train, test) is an error."""
    if problems.rows:
        for file, line, sample_id, reason in problems.rows:
            log.warning("%s line %d (id %r): %s", file, line, sample_id, reason)
        bad_test = Problems([row for row in problems.rows if row[0] == spec.test])
        if drop_bad_rows and bad_test.rows:
            raise FoldwiseError(
                bad_test.summary(
                    "manifest.drop_bad_rows cannot drop test rows: the submission needs every test id. Fix them"
                )
            )
        if not drop_bad_rows:
            raise FoldwiseError(
                problems.summary(
                    "Fix them" if bad_test.rows else "Fix them, or set manifest.drop_bad_rows: true to drop them"
                )
            )
        bad = {(f, line) for f, line, _, _ in problems.rows}
        keep = [(f, line) not in bad for f, line in zip(table._file, table._line)]
        log.warning("dropping %d bad row(s) (manifest.drop_bad_rows: true)", len(table) - sum(keep))
        table = table[keep].reset_index(drop=True)
    table = table.drop(columns=["_file", "_line"])
    table.attrs["channels"] = spec.channel_names  # kept by Parquet: the input channels, in order
    counts = table.split.value_counts()
    for split in required:
        if counts.get(split, 0) == 0:
            raise FoldwiseError(
                f"{getattr(spec, split)}: the {'training' if split == 'train' else 'test'} set is empty"
            )
    log.info(
        "manifest: %s samples, %s, %d channel(s)",
        {k: int(v) for k, v in counts.items()},
        f"{table.identity.nunique()} individuals" if spec.identity else f"{len(classes(table))} classes",
        len(spec.channel_names),
    )
    return table


def with_bit_depth(table: pd.DataFrame, spec: Dataset, threads: int = 1) -> pd.DataFrame:
    """``table`` with ``attrs["bit_depth"]``: the dataset's (``dataset.bit_depth``), or with ``auto`` the
    depth of all its files (images.bit_depth), decided once so that every file scales alike."""
    if spec.bit_depth == "auto":
        depth = images.bit_depth([path for row in paths(table) for path in row], threads)
    else:
        depth = int(spec.bit_depth)
    table.attrs["bit_depth"] = depth
    log.info("bit depth %d (dataset.bit_depth: %s)", depth, spec.bit_depth)
    return table


def bit_depth(manifest: pd.DataFrame) -> int:
    """The bit depth 16-bit files are read with (16 for manifests written before it was decided)."""
    return int(manifest.attrs.get("bit_depth", 16))


def channels(manifest: pd.DataFrame) -> list[str]:
    """The names of the input channels, in order (r, g, b; or one per channel file)."""
    return list(manifest.attrs["channels"])


def classes(manifest: pd.DataFrame) -> list[str]:
    return [c.removeprefix("label:") for c in manifest.columns if c.startswith("label:")]


def identities(manifest: pd.DataFrame, split: str = "train") -> pd.DataFrame:
    """``id`` and ``identity`` (the individual) of the rows of ``split`` of an identity manifest."""
    return manifest.loc[manifest.split == split, ["id", "identity"]].reset_index(drop=True)


def labels(manifest: pd.DataFrame) -> np.ndarray:
    """(n, classes) float32 label matrix of the given rows."""
    return manifest[[c for c in manifest.columns if c.startswith("label:")]].to_numpy(np.float32)


def paths(manifest: pd.DataFrame) -> list[list[str]]:
    """Per row, its image files in channel-file order."""
    return [
        list(row) for row in manifest[[c for c in manifest.columns if c.startswith("path:")]].itertuples(index=False)
    ]


def label_table(manifest: pd.DataFrame, split: str = "train") -> pd.DataFrame:
    """``id`` plus one label column per class (named by class) for the rows of ``split``."""
    rows = manifest[manifest.split == split]
    table = rows[[c for c in rows.columns if c.startswith("label:")]].reset_index(drop=True)
    table.columns = [c.removeprefix("label:") for c in table.columns]
    table.insert(0, "id", rows.id.to_numpy())
    return table
