"""Files at the edges: atomic writes of tables, JSON and CSV, and the scripts' logging.

Every write goes to a temporary file beside the target and is renamed into place, so a
killed job never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from foldwise import FoldwiseError

log = logging.getLogger("foldwise")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.part"):  # left behind by a writer killed with SIGKILL
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a DataFrame as Parquet, atomically; byte-identical for identical frames."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    return pd.read_parquet(path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **kwargs)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


@contextlib.contextmanager
def script_log(log_path: str | os.PathLike) -> Iterator[logging.Logger]:
    """Send a stage's logging, warnings and stderr (tqdm bars) to its log file.

    A ``FoldwiseError`` becomes one line, in the log and on the terminal, and exit code 1;
    any other exception keeps its traceback in the log.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    with open(log_path, "w", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        sys.stderr = stream
        try:
            yield log
        except FoldwiseError as error:
            message = f"foldwise: error: {error}"
            print(message, file=stream)
            print(message, file=terminal)
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc(file=stream)
            raise
        finally:
            sys.stderr = terminal
