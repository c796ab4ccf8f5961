"""progress: a bar in the log that redraws seldom, whatever the number of items."""

from __future__ import annotations

import time

from foldwise import progress


def test_a_bar_redraws_seldom(capsys):
    started = time.perf_counter()
    with progress.bar(desc="busy", unit="step") as bar:
        while time.perf_counter() - started < 0.5:  # many quick steps for half a second
            bar.update()
    redraws = [line for line in capsys.readouterr().err.split("\r") if line.strip()]
    # the first draw and the last; tqdm's default (every 0.1 s) would draw about 5 more
    assert len(redraws) == 2, redraws
    assert redraws[0].startswith("busy: 0step")


def test_a_bar_counts_its_total(capsys):
    assert sum(progress.bar(range(250), "phash", total=250, unit="img")) == sum(range(250))
    last = capsys.readouterr().err.split("\r")[-1]
    assert last.startswith("phash: 100%") and "250/250" in last
