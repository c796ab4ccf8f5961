"""The Snakemake report of the smoke run: every plot in it, redrawn only when its inputs change,
and the page as Chromium shows it."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_run
from PIL import Image
from test_workflow import ROOT, job_counts, override, snakemake

pytestmark = pytest.mark.workflow

# the smoke run: single-label (confusion matrices, no F1 thresholds) with external data (dedup galleries)
PLOTS = [
    "results/plots/scores.html",
    *[
        f"results/plots/{stage}/{name}.png"
        for stage in ("base", "distill")
        for name in ("training_curves", "worst_samples")
    ],
    *[f"results/plots/{oof}/{name}.png" for oof in ("base", "distill", "mix") for name in ("roc", "confusion")],
    "results/plots/dedup/closest_pairs.png",
    "results/plots/dedup/dropped_external.png",
    *[f"results/plots/submissions/{name}.html" for name in ("submission", "submission_distill", "submission_mix")],
]
CATEGORIES = ["Scores", "Training", "Out-of-fold", "Worst samples (Grad-CAM)", "Dedup", "Submissions"]
SHOWN = "results/plots/base/worst_samples.png"  # the plot the browser test opens
SCREENSHOT = Path(os.environ.get("FOLDWISE_REPORT_SCREENSHOT", "/tmp/foldwise-report-screenshot.png"))


@pytest.fixture(scope="module")
def workdir(smoke_run, tmp_path_factory):
    """The smoke run, its plots and its report (the durations are printed with -s)."""
    workdir = copy_run(smoke_run, tmp_path_factory, "report")
    run = time.perf_counter()
    snakemake(workdir, targets=("plots",))
    plots = time.perf_counter()
    snakemake(workdir, "--report", "results/report.html", targets=("plots",))
    print(f"\nthe smoke run's plots {plots - run:.0f} s, report.html {time.perf_counter() - plots:.0f} s")
    return workdir


def embedded(page: str, name: str) -> dict:
    """A JSON object the report embeds as ``var <name> = {...}`` in a script of the same id."""
    return json.loads(re.search(rf'<script id="{name}">\s*var {name} = (.*?);?\s*</script>', page, re.S)[1])


def test_the_report_holds_every_plot(workdir):
    drawn = sorted(str(p.relative_to(workdir)) for p in (workdir / "results/plots").rglob("*") if p.is_file())
    assert drawn == sorted(PLOTS)
    page = (workdir / "results/report.html").read_text()
    results, categories = embedded(page, "results"), embedded(page, "categories")
    assert sorted(results) == sorted(PLOTS)
    assert sorted(categories) == sorted(CATEGORIES)
    assert sorted(categories["Training"]) == ["base", "distill"] and sorted(categories["Out-of-fold"]) == [
        "base",
        "distill",
        "mix",
    ]
    for path, result in results.items():
        data = base64.b64decode(result["data_uri"].split(",", 1)[1])
        assert data == (workdir / path).read_bytes(), path
        if path.endswith(".png"):
            pixels = np.asarray(Image.open(workdir / path).convert("L"), dtype=float)
            assert pixels.std() > 10, f"{path} is blank"
        assert result["caption"], path


def test_a_new_setting_redraws_only_its_plot(workdir, tmp_path):
    assert "Nothing to be done" in snakemake(workdir, "-n", targets=("plots",)).stdout
    dry = snakemake(
        workdir, "-n", targets=("plots",), configs=[override(tmp_path, "worst", {"report": {"worst_samples": 3}})]
    )
    assert job_counts(dry.stdout) == {"plot_worst_samples": 2, "plots": 1}


def test_an_identity_report_has_the_retrieval_plots_in_place_of_the_classification_ones(tmp_path):
    dry = snakemake(tmp_path, "-n", targets=("plots",), configs=[ROOT / "config/smoke_identity.yaml"])
    plots = {rule: n for rule, n in job_counts(dry.stdout).items() if rule.startswith(("plot", "tabulate"))}
    assert plots == {
        "tabulate_scores": 1,
        "plot_training_curves": 2,
        "plot_identity_thresholds": 1,
        "plot_worst_queries": 2,  # base and pseudo
        "plot_duplicates": 1,
        "tabulate_submission": 3,  # submission, submission_pseudo and submission_mix, each once
        "plots": 1,
    }


def chromium() -> str:
    """Debian's chromium, installed here if missing (as root, as tests/cluster installs SLURM)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it needs root: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        install = subprocess.run(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900
        )
        if install.returncode != 0:
            pytest.skip(f"chromium cannot be installed ({' '.join(command)}): {install.stdout[-500:]}")
    return shutil.which("chromium")


# Appended to a copy of the report: open the category, the subcategory and the plot's view
# button, as a user's clicks would (the report is a React app with no URL state). Each step
# waits for its link to be rendered.
CLICKS = """<script>
const steps = [
  () => [...document.querySelectorAll("#app a")].find((a) => a.textContent.trim() === %(category)s),
  () => [...document.querySelectorAll("#app a")].find((a) => a.textContent.trim() === %(subcategory)s),
  () => document.querySelector("#app a[iconname=eye]"),
];
const driver = setInterval(() => {
  const link = steps.length ? steps[0]() : undefined;
  if (link) { link.click(); steps.shift(); }
  if (!steps.length) clearInterval(driver);
}, 100);
</script>
"""


def browse(browser: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless and offline, with the page's timers run (virtual time) before it returns."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=30000",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_chromium_shows_a_plot_of_the_report(workdir, tmp_path):
    browser = chromium()
    page = tmp_path / "report.html"
    clicks = CLICKS % {"category": json.dumps("Worst samples (Grad-CAM)"), "subcategory": json.dumps("base")}
    page.write_text((workdir / "results/report.html").read_text() + clicks)

    dom = browse(browser, page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-3000:]
    assert "Uncaught" not in dom.stderr, [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    app = dom.stdout[dom.stdout.index('<div id="app">') :].split("<script")[0]
    text = re.sub(r"<[^>]+>", " ", app)
    assert "Snakemake" in text and "Worst samples (Grad-CAM)" in text and "error" not in text.lower(), text
    shown = re.findall(r'<img src="data:image/png;[^"]*?base64,([^"]+)"', app)  # ;charset;filename;base64,
    expected = base64.b64encode((workdir / SHOWN).read_bytes()).decode()
    assert expected in shown, "the plot is not shown"

    screenshot = tmp_path / "screenshot.png"
    shot = browse(browser, page, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1400,1150")
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-3000:]
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=float)
    assert pixels.shape[:2] == (1150, 1400)
    plot_area = pixels[:, 450:]  # right of the menu: where the plot is drawn
    assert plot_area.std() > 20 and len(np.unique(plot_area.reshape(-1, 3), axis=0)) > 500, "the page shows no image"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, SCREENSHOT)
