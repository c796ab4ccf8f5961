"""Several models in one run (config experiments:): each experiment's own stages under
results/experiments/{name}/, shared data stages, one cache per size, the blend of them all fitted out of
fold, and a change of one experiment that reruns that experiment and the blend only."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from test_workflow import CLASSES, job_counts, override, planned_jobs, snakemake

pytestmark = pytest.mark.workflow
K = 2
EXPERIMENTS = {
    "resnet": {},
    "effnet": {"train": {"model": "test_efficientnet"}, "cache": {"size": [24, 24]}},
}
STAGES = ("base", "distill")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("experiments")
    settings = {"folds": {"k": K}, "experiments": EXPERIMENTS, "ensemble": {"weights": "fit"}}
    config = override(workdir, "experiments", settings)
    snakemake(workdir, configs=[config])
    return workdir, config


def test_each_experiment_trains_its_own_models_over_shared_data_stages(run):
    results = run[0] / "results"
    assert sorted(p.name for p in (results / "cache").iterdir()) == ["24x24", "32x32"]  # one cache per size
    assert not (results / "models").exists()  # the run's own config trains nothing of its own
    for name in EXPERIMENTS:
        for stage in STAGES:
            assert len(list((results / f"experiments/{name}/models/{stage}").glob("fold*/model.pt"))) == K
            score = json.loads((results / f"experiments/{name}/scores/{stage}.json").read_text())
            assert len(score["folds"]) == K
        mix = pd.read_csv(results / f"experiments/{name}/submission_mix.csv")
        assert mix.columns.tolist() == ["image_id", *CLASSES]
    log = (results / "experiments/effnet/logs/train_fold/base/fold0.log").read_text()
    assert "epoch 2/2" in log


def test_the_blend_is_fitted_out_of_fold_and_weighs_the_test_as_fitted(run):
    results = run[0] / "results"
    score = json.loads((results / "scores/mix.json").read_text())
    names = sorted(EXPERIMENTS)  # as the config file lists them (override writes keys sorted)
    members = [f"{name}/{stage}" for name in names for stage in STAGES]
    assert score["members"] == members and score["fitted_by"] == "roc_auc"
    weights = np.array(score["weights"])
    assert (weights >= 0).all() and np.isclose(weights.sum(), 1) and len(weights) == 4
    assert sorted(score["fold_weights"]) == [str(f) for f in range(K)]
    assert 0 <= score["cv"] <= 1 and 0 <= score["cv_in_sample"] <= 1  # out of fold, and in sample
    assert score["biased"] and "resnet/distill" in score["note"]  # distilled members' OOF saw their labels
    tables = [
        pd.read_csv(results / f"experiments/{name}/probabilities/submission{'' if stage == 'base' else '_distill'}.csv")
        for name in names
        for stage in STAGES
    ]
    blend = pd.read_csv(results / "probabilities/submission_mix.csv")
    expected = np.tensordot(weights / weights.sum(), np.stack([t[CLASSES].to_numpy() for t in tables]), axes=1)
    np.testing.assert_allclose(blend[CLASSES].to_numpy(), expected, rtol=1e-6)
    assert blend.image_id.tolist() == tables[0].image_id.tolist()


def test_one_experiments_new_epochs_rerun_that_experiment_and_the_blend_only(run, tmp_path):
    workdir, config = run
    changed = {"experiments": {**EXPERIMENTS, "effnet": {**EXPERIMENTS["effnet"], "train": {"epochs": 3}}}}
    dry = snakemake(workdir, "-n", configs=[config, override(tmp_path, "epochs", changed)])
    jobs = planned_jobs(dry.stdout)
    assert not [w for rule, w in jobs if "experiments/resnet/" in w]
    trained = sorted(w for rule, w in jobs if rule == "train_fold")
    assert trained == sorted(f"experiment=experiments/effnet/, stage={s}, fold={f}" for s in STAGES for f in range(K))
    assert job_counts(dry.stdout)["mix_oof"] == 2  # effnet's own mix, and the blend


def test_an_unknown_member_in_the_weights_is_one_line_naming_the_members(run, tmp_path):
    workdir, config = run
    wrong = override(tmp_path, "weights", {"ensemble": {"weights": {"resnet": 1, "vit": 2}}})
    result = snakemake(workdir, "-n", configs=[config, wrong], check=False)
    assert result.returncode != 0
    assert "ensemble.weights names 'vit', which is none of the members" in result.stdout


def test_the_report_shows_every_experiment_and_the_blend(run):
    workdir, config = run
    dry = snakemake(workdir, "-n", configs=[config], targets=("plots",))
    roc = sorted(w for rule, w in planned_jobs(dry.stdout) if rule == "plot_roc")
    expected = [f"experiment=experiments/{n}/, oof={o}" for n in EXPERIMENTS for o in (*STAGES, "mix")]
    assert roc == sorted([*expected, "oof=mix"])
    snakemake(workdir, configs=[config], targets=("results/plots/scores.html",))
    page = (workdir / "results/plots/scores.html").read_text()
    rows = [f"{n}/{s}" for n in sorted(EXPERIMENTS) for s in (*STAGES, "mix")]
    assert re.findall(r"<tr>\s*<td>([^<]*)</td>", page) == [*rows, "blend"]  # each row's first cell


def test_an_extra_submission_joins_the_blend_checked_for_its_ids(run, tmp_path):
    workdir, config = run
    results = workdir / "results"
    submission = pd.read_csv(results / "experiments/resnet/probabilities/submission.csv")
    oof = pd.read_parquet(results / "experiments/resnet/oof/base.parquet").drop(columns="fold")
    submission.to_csv(tmp_path / "other.csv", index=False)
    oof.rename(columns={"id": "image_id"}).to_csv(tmp_path / "other_oof.csv", index=False)
    extra = {"submission": str(tmp_path / "other.csv"), "oof": str(tmp_path / "other_oof.csv")}
    joined = override(tmp_path, "extra", {"ensemble": {"weights": None, "extra": {"other": extra}}})
    snakemake(workdir, configs=[config, joined], targets=("results/submission_mix.csv", "results/scores/mix.json"))
    score = json.loads((results / "scores/mix.json").read_text())
    assert score["members"][-1] == "other" and score["weights"] == [0.2] * 5
    assert "other: an OOF table from outside the workflow" in score["note"]
    members = [
        results / f"experiments/{n}/probabilities/submission{s}.csv"
        for n in sorted(EXPERIMENTS)
        for s in ("", "_distill")
    ]
    expected = np.mean([pd.read_csv(p)[CLASSES].to_numpy() for p in [*members, tmp_path / "other.csv"]], axis=0)
    np.testing.assert_allclose(pd.read_csv(results / "probabilities/submission_mix.csv")[CLASSES], expected, rtol=1e-6)

    submission.iloc[1:].to_csv(tmp_path / "other.csv", index=False)  # one test id short
    failed = snakemake(workdir, configs=[config, joined], targets=("results/submission_mix.csv",), check=False)
    assert failed.returncode != 0 and "other lacks some of the ids" in failed.stdout
