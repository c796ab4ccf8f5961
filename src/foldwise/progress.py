"""Progress bars for long steps (hashing, caching, each epoch, inference), in the rule's log.

The scripts send stderr to the log (``artifacts.script_log``), so a tqdm bar lands there;
follow it with ``tail -f results/logs/<rule>/...log``. A bar redraws at most every
``MININTERVAL`` seconds, so hours of training add a few lines per minute, not one per batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm

MININTERVAL = 10.0  # seconds between redraws: a small log, and fresh enough to follow


def bar(iterable: Iterable | None = None, desc: str = "", total: int | None = None, unit: str = "it") -> tqdm:
    """A tqdm bar over ``iterable`` on stderr (the log), plain ASCII so that the log reads anywhere.

    >>> sum(bar(range(3), "demo"))
    3
    """
    return tqdm(iterable, desc=desc, total=total, unit=unit, mininterval=MININTERVAL, ascii=True, ncols=100)
