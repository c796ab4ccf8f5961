# Config validation, wildcard constraints and the helpers rules share.
# Parsed on every run, dry runs included: it imports nothing heavier than ast (foldwise.code).

import copy
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.utils import validate

# "dataset: null" (and "external: null") mean none: drop them so that schema defaults are not
# filled into a null
if config.get("dataset") is None:
    config.pop("dataset", None)
elif config["dataset"].get("external", 1) is None:
    config["dataset"].pop("external")
validate(config, "../schemas/config.schema.yaml")

FOLDS = list(range(config["folds"]["k"]))
SIZE = "{}x{}".format(*config["cache"]["size"])
PREDICT_SETS = config["predict_sets"]  # more test sets, predicted on demand: results/predict/{name}/
LIBRARY = Path(workflow.basedir) / "src" / "foldwise"
sys.path.insert(0, str(LIBRARY.parent))  # this checkout's library, installed or not
from foldwise import FoldwiseError  # noqa: E402 (needs the path above)
from foldwise.code import source_hash  # noqa: E402

# scripts import foldwise from this checkout, installed or not (conda envs, cluster jobs)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [str(LIBRARY.parent), os.getenv("PYTHONPATH")])))


def demo_dataset():
    """The embedded demo, in the dataset contract's layout (written by make_demo)."""
    common = {
        "train": "resources/demo/train.csv",
        "test": "resources/demo/test.csv",
        "group_column": None,
        "channels": None,
        "boxes": None,
        "test_images": None,
        "bit_depth": "auto",
        "classes": None,
        "test_id_column": None,
    }
    if config["demo"]["layout"] == "identity":  # Happywhale's files: ids are file names
        images = "resources/demo/images/{id}"
        layout = {
            "id_column": "image",
            "task": "identity",
            "label_column": "individual_id",
            "num_classes": None,
            "boxes": "resources/demo/boxes.csv",
        }
    elif config["demo"]["layout"] == "hpa":
        colors = ["red", "green", "blue", "yellow"]
        images = {color: f"resources/demo/images/{{id}}_{color}.png" for color in colors}
        # samples of one antibody share a fold, and its embedding replaces labels (label_replacement)
        layout = {
            "id_column": "Id",
            "task": "multilabel",
            "label_column": "Target",
            "num_classes": 6,
            "group_column": "antibody",
        }
    else:
        images = "resources/demo/images/{id}.jpg"
        layout = {"id_column": "image_id", "task": "multiclass", "label_column": None, "num_classes": None}
    return {
        **common,
        **layout,
        "images": images,
        "external": {"train": "resources/demo/external.csv", "images": images},
    }


from foldwise.configs import dataset_defaults, member_weights, merge  # noqa: E402

DATASET = dataset_defaults(config["dataset"]) if config.get("dataset") else demo_dataset()
IDENTITY = DATASET["task"] == "identity"  # Happywhale: embeddings, retrieval and pseudo-labels
# the second stage: distillation on soft labels, or for identities retraining with pseudo-labels
STAGES = ["base", "pseudo" if IDENTITY else "distill"]
# the {suffix} of the competition's file names: submission.csv (base), submission_distill.csv (or _pseudo)
STAGE_OF = {"": "base", f"_{STAGES[1]}": STAGES[1]}
OOF_STAGES = [*STAGES, "mix"]  # the out-of-fold predictions that the report plots


def resolve_task_defaults(train):
    """``auto`` head and metric by task, checked against it: an embedding head for identities, a classifier
    head and its metric for classes."""
    if train["head"] == "auto":
        train["head"] = "embedding" if IDENTITY else "linear"
    if train["metric"] == "auto":
        train["metric"] = "map@5" if IDENTITY else "roc_auc"
    if (
        train["select"] == "best"
        and (train["metric"] if train["select_by"] == "metric" else train["select_by"]) == "macro_f1"
    ):
        raise ValueError(
            "config: train.select_by: macro_f1 at a flat 0.5 is no selection measure; "
            "use val_loss, roc_auc or average_precision (or train.select: last)"
        )
    if IDENTITY != (train["head"] == "embedding") or IDENTITY != (train["metric"] == "map@5"):
        fits = "head: embedding and metric: map@5" if IDENTITY else "a classifier head and roc_auc or macro_f1"
        raise ValueError(
            f"config: train.head {train['head']} / train.metric {train['metric']} do not fit the task "
            f"{DATASET['task']}; it takes {fits} (or auto)"
        )


resolve_task_defaults(config["train"])


def experiment_configs():
    """{folder: config} of the run's experiments (config ``experiments:``): each its own config, the
    run's with the experiment's overrides laid over it as a config file is, validated as a whole; and
    "" for the run's own config, which is the whole run without experiments."""
    named = config["experiments"]
    if named and IDENTITY:
        raise ValueError("config: experiments: are for class tasks; an identity run is one experiment (drop it)")
    own = {key: value for key, value in config.items() if key != "experiments"}
    folders = {"": config}
    for name, overrides in named.items():
        merged = merge(copy.deepcopy(own), overrides or {})
        validate(merged, "../schemas/config.schema.yaml")
        resolve_task_defaults(merged["train"])
        folders[f"experiments/{name}/"] = merged
    return folders


# the {experiment} wildcard: an experiment's folder under results/, or "" for the run's own config
EXPERIMENT_CONFIGS = experiment_configs()
EXPERIMENTS = [folder for folder in EXPERIMENT_CONFIGS if folder] or [""]  # what the run trains and blends
# HPA 2018's nearest-neighbour label replacement (workflow/rules/neighbours.smk)
REPLACE_LABELS = config["label_replacement"]["enabled"] is True or (
    config["label_replacement"]["enabled"] == "auto" and bool(DATASET.get("group_column"))
)
if REPLACE_LABELS and (IDENTITY or not DATASET.get("group_column")):
    raise ValueError("config: label_replacement needs a classification dataset with a dataset.group_column")


def check_ensemble(ensemble):
    """Refuse, before any job, an ensemble the run cannot blend: weights naming no member, OR of labels for
    single-label data, and a fitted blend or OR over an extra submission without out-of-fold predictions."""
    if not IDENTITY:
        top_level = SimpleNamespace(experiment="")
        members = [*blend_members(top_level), *ensemble["extra"]]
        try:
            member_weights(ensemble["weights"], members)
        except FoldwiseError as error:
            raise ValueError(f"config: {error}") from None
    if ensemble["method"] == "or" and DATASET["task"] != "multilabel":
        raise ValueError(f"config: ensemble.method: or takes multi-label data, not {DATASET['task']}; use mean")
    for name, extra in ensemble["extra"].items():
        if extra["oof"] is None and (ensemble["weights"] == "fit" or ensemble["method"] == "or"):
            raise ValueError(
                f"config: ensemble.extra.{name} has no oof, and weights: fit and method: or fit on every member's "
                f"out-of-fold predictions: give ensemble.extra.{name}.oof, or fixed weights"
            )


wildcard_constraints:
    experiment="(?:{})".format("|".join(map(re.escape, EXPERIMENT_CONFIGS))),
    # nested{f}: a teacher trained without fold f; groups: the embedding of dataset.group_column
    stage=r"base|distill|pseudo|groups|nested\d+",
    fold=r"\d+",
    size=r"\d+x\d+",
    suffix="|_distill|_pseudo",
    # train: the train and external rows; test: the dataset's test rows; then the predict sets
    split="|".join(["train", "test", *PREDICT_SETS]),
    # where a test set's submissions go: results/ for the dataset's, results/predict/{name}/ for a predict set's
    setdir="({})?".format("|".join(f"predict/{name}/" for name in PREDICT_SETS)),
    model=r"[\w.-]+",  # a timm model name, possibly with a tag: seresnext50_32x4d.racm_in1k
    oof="|".join(OOF_STAGES),
    submission=r"submission(_distill|_pseudo|_mix|_labels|_nn|_labels_nn)?",
    of="|_distill|_mix",  # the probability table a submission is formatted from


def demo_outputs():
    """What make_demo writes: the dataset's CSVs and images; the identity demo adds its detector boxes and
    the test truth (for measuring only)."""
    outputs = {
        "train": "resources/demo/train.csv",
        "test": "resources/demo/test.csv",
        "external": "resources/demo/external.csv",
        "planted": "resources/demo/external_duplicates.csv",
        "images": directory("resources/demo/images"),
    }
    if config["demo"]["layout"] in ("identity", "hpa"):
        outputs["truth"] = "resources/demo/test_truth.csv"
    if config["demo"]["layout"] == "identity":
        outputs["boxes"] = "resources/demo/boxes.csv"
    return outputs


def boxes_input(wildcards):
    """The detector boxes the cache crops (dataset.boxes), and which the test side's manifest checks."""
    return {"boxes": DATASET["boxes"]} if DATASET.get("boxes") else {}


def test_set(split):
    """The CSV and image template of a test-side split: the dataset's test set, or a predict set."""
    return PREDICT_SETS.get(split) or {
        "test": DATASET["test"],
        "images": DATASET.get("test_images") or DATASET["images"],
    }


def manifest_inputs(wildcards):
    """The training side reads train.csv and the external CSV, a test side its CSV and the training
    side's manifest (it is checked against it); for the demo, rule make_demo writes the CSVs."""
    if wildcards.split == "train":
        external = {"external": DATASET["external"]["train"]} if DATASET.get("external") else {}
        return {"train": DATASET["train"], **external}
    train_side = filled(rules.build_manifest.output.manifest, split="train")
    # the dataset's test side checks that every box names a train or test image
    boxes = boxes_input(wildcards) if wildcards.split == "test" else {}
    return {"test": test_set(wildcards.split)["test"], "train_side": train_side, **boxes}


def manifest_spec(wildcards):
    """The dataset keys that shape one side's manifest: a new test set changes only the test side's.
    Keys sorted, nested ones too, so that the same dataset written in another order changes nothing."""
    if wildcards.split == "train":
        # the test side's keys, and boxes (they shape the cache, not the manifest), stay out
        side = {**DATASET, "test": None, "test_images": None, "test_id_column": None, "boxes": None}
    else:
        side = {**DATASET, **test_set(wildcards.split), "external": None}
    return json.loads(json.dumps(side, sort_keys=True))


def test_split(wildcards):
    """The test-side split whose submissions go to results/{setdir}: "test", or a predict set's name."""
    return Path(wildcards.setdir).name or "test"


def filled(path, **wildcards):
    """One file of a rule's output pattern: ``path`` with its wildcards filled."""
    return expand(path, **wildcards)[0]


def top(path):
    """A per-experiment output pattern at the top of results/: the run's own (its blend, without
    experiments its only experiment); the other wildcards stay."""
    return expand(path, experiment="", allow_missing=True)[0]


def xp(wildcards):
    """The config of the job's experiment."""
    return EXPERIMENT_CONFIGS[wildcards.experiment]


def xp_size(wildcards):
    """The cache size the job's experiment trains and predicts at."""
    return "{}x{}".format(*xp(wildcards)["cache"]["size"])


def xp_cache(wildcards, split="train"):
    """The cached images and index of ``split`` at the experiment's size (a job's split wildcard: None),
    each a list of one, as the scripts read them."""
    split = split or wildcards.split
    return {
        name: expand(path, size=xp_size(wildcards), split=split) for name, path in rules.cache_images.output.items()
    }


SUFFIX = {stage: suffix for suffix, stage in STAGE_OF.items()}  # a stage's {suffix} of submission{suffix}.csv


def blend_members(wildcards):
    """{name: (experiment folder, stage)} of what the mix at results/{experiment} blends: that experiment's
    stages; at the top of a run with experiments, every experiment's stages (named experiment/stage)."""
    if wildcards.experiment == "" and EXPERIMENTS != [""]:
        return {f"{Path(folder).name}/{stage}": (folder, stage) for folder in EXPERIMENTS for stage in STAGES}
    return {stage: (wildcards.experiment, stage) for stage in STAGES}


def blend_extras(wildcards):
    """The other submissions (ensemble.extra) the top-level blend joins (of the dataset's test set only:
    a predict set's blend leaves them out)."""
    return config["ensemble"]["extra"] if wildcards.experiment == "" else {}


def blend_weights(wildcards):
    """ensemble.weights at the top; an experiment's own mix weighs its stages equally, or fits them."""
    weights = config["ensemble"]["weights"]
    return weights if wildcards.experiment == "" or weights in (None, "fit") else None


check_ensemble(config["ensemble"])
# the test's blend takes what its OOF blend fitted (results/{experiment}scores/mix.json); fixed weights need none
BLEND_FITTED = config["ensemble"]["weights"] == "fit" or config["ensemble"]["method"] == "or"


# train settings that cannot change the weights (foldwise.train.SYSTEM_SETTINGS, and the job's
# threads): scripts read them from the config, so that changing them is no rerun trigger
TRAIN_SYSTEM_SETTINGS = ("num_workers", "eval_batch_size", "threads")


def train_recipe(wildcards):
    """The train settings of the job's experiment that shape a model: the params of the training rules."""
    return {k: v for k, v in xp(wildcards)["train"].items() if k not in TRAIN_SYSTEM_SETTINGS}


def stage_recipe(wildcards):
    """The train settings of a stage: the recipe's, and for the groups embedding its overrides, with an
    embedding head, ArcFace and MAP@5 by class centres (whatever the classifier uses)."""
    if wildcards.stage != "groups":
        return train_recipe(wildcards)
    recipe = {**train_recipe(wildcards), **config["label_replacement"]["train"]}
    return {**recipe, "head": "embedding", "loss": "auto", "metric": "map@5"}


def stage_task(wildcards):
    return "identity" if wildcards.stage == "groups" else DATASET["task"]


def code_hash(*modules):
    """Hash of the src/foldwise modules that a job runs, so that editing one reruns its users; by their
    syntax trees (foldwise.code): a comment or docstring reruns nothing. Modules that cannot change an
    output (artifacts: atomic writes and logs; progress) are left out."""
    return source_hash(LIBRARY / f"{module}.py" for module in modules)


def kept_external(wildcards):
    """The external ids that survived dedup (results/data/external_kept.parquet).

    dedup_external is a checkpoint, and every rule from training down takes this file as an
    input: once dedup has run, Snakemake re-creates those jobs and decides again whether they
    must run, now by the kept set's checksum. A new dedup threshold that keeps the same external
    rows therefore retrains and repredicts nothing (without the re-creation, the first plan,
    made while dedup was pending, would stand).
    """
    if not (DATASET.get("external") and config["dedup"]["use_external"]):
        return []
    return checkpoints.dedup_external.get().output.kept


def pretrained_weights(wildcards):
    """The file training starts from: the model's stored default weights (`pretrained: true`,
    rule fetch_weights), a file the user names, or none (random init). An input function of its
    own, apart from the checkpoint-dependent ones, so that a plan made before dedup has run
    already lists fetch_weights."""
    train = xp(wildcards)["train"]
    pretrained = train["pretrained"]
    if pretrained is True:
        return {"weights": rules.fetch_weights.output.weights.format(model=train["model"])}
    return {"weights": pretrained} if pretrained else {}


def train_duplicates(wildcards):
    """Near-duplicate pairs of training rows, which must share a fold (dedup.group_train_duplicates).

    Taken from a checkpoint of the training side, like the kept external rows from dedup: a new
    threshold that finds the same pairs then reruns no fold split, and so no training.
    """
    if not config["dedup"]["group_train_duplicates"]:
        return []
    return checkpoints.find_train_duplicates.get().output.duplicates


def training_inputs(wildcards):
    """Distillation trains on the soft labels, the pseudo stage on the test rows' pseudo-labels (and so
    on the test cache too); both stages add the kept external rows."""
    inputs = {"external_kept": kept_external(wildcards)}
    if wildcards.stage == "groups":  # one sample of a group validated against the rest (split_group_folds)
        inputs["group_folds"] = "results/data/group_folds.parquet"
    if wildcards.stage == "pseudo":
        inputs["soft_labels"] = rules.make_pseudo_labels.output.labels
        inputs["test_images"] = filled(rules.cache_images.output.images, size=SIZE, split="test")
        inputs["test_index"] = filled(rules.cache_images.output.index, size=SIZE, split="test")
    if wildcards.stage == "distill" and xp(wildcards)["distill"]["teachers"] == "nested":
        inputs["soft_labels"] = filled(
            rules.make_nested_soft_labels.output.labels, experiment=wildcards.experiment, fold=wildcards.fold
        )
    elif wildcards.stage == "distill":
        inputs["soft_labels"] = filled(rules.make_soft_labels.output.labels, experiment=wildcards.experiment)
    return inputs


def final_outputs():
    """The default targets: every stage's submission and the mix, in the sample submission's form, and
    the scores; for multi-label data the thresholds and labels. With experiments, each experiment's
    submissions and scores (its stages and its own mix) beside the blend of them all at the top."""
    outputs = ["results/submission_mix.csv", "results/scores/mix.json"]  # identities: their own top-5 form
    for folder in EXPERIMENTS:
        outputs += [f"results/{folder}submission{SUFFIX[stage]}.csv" for stage in STAGES]
        outputs += [f"results/{folder}scores/{stage}.json" for stage in STAGES]
        outputs += [f"results/{folder}submission_mix.csv", f"results/{folder}scores/mix.json"] if folder else []
    if DATASET["task"] == "multilabel":
        outputs += [top(rules.write_labels.output.labels)]
    if REPLACE_LABELS:
        outputs += [rules.replace_labels.output.score, rules.replace_labels.output.labels]
    if IDENTITY:  # the baselines' scores
        outputs += [rules.score_baselines.output.score]
    return outputs


def nested_teacher_oof(wildcards):
    """OOF predictions for distilled fold f from the teachers trained without fold f: one model
    per other fold g, predicting g."""
    outer = int(wildcards.fold)
    others = [g for g in FOLDS if g != outer]
    return expand(rules.predict_oof.output.oof, experiment=wildcards.experiment, stage=f"nested{outer}", fold=others)


def oof_predictions(wildcards):
    """The out-of-fold predictions of a stage ({oof} base or distill), or of the mix."""
    if wildcards.oof == "mix":
        return expand(rules.mix_oof.output.oof, experiment=wildcards.experiment)
    return expand(rules.collect_oof.output.oof, experiment=wildcards.experiment, stage=wildcards.oof)


def scores_of_run():
    """{row name: scores JSON} of the report's scores table: every experiment's stages and mix, then
    the blend (without experiments: the stages and the mix, named as before)."""
    named = {}
    for folder in EXPERIMENTS:
        prefix = f"{Path(folder).name}/" if folder else ""
        named |= {f"{prefix}{stage}": f"results/{folder}scores/{stage}.json" for stage in STAGES}
        named |= {f"{prefix}mix": f"results/{folder}scores/mix.json"} if folder else {}
    named["mix" if EXPERIMENTS == [""] else "blend"] = "results/scores/mix.json"
    if REPLACE_LABELS:
        named["mix + nearest-sample labels"] = rules.replace_labels.output.score
    return named


def report_plots():
    """Every plot of the report, by task: scores, training curves, submissions and (with external
    data) the dedup galleries for all; identities then add MAP@5 against the new_individual
    threshold and each stage's worst queries, classes the ROC curves and the confusion matrix (of every
    experiment's stages and mixes, and of the blend), the F1 thresholds and the Grad-CAM worst samples;
    label replacement its F1 curve and replaced samples."""
    submissions = [path for path in final_outputs() if path.endswith(".csv") and path.count("/") == 1]
    names = list(dict.fromkeys(Path(path).stem for path in submissions))
    plots = [
        rules.tabulate_scores.output.table,
        *expand(rules.tabulate_submission.output.table, submission=names),
    ]
    for folder in EXPERIMENTS:
        plots += expand(rules.plot_training_curves.output.curves, experiment=folder, stage=STAGES)
        if IDENTITY:
            plots += expand(rules.plot_worst_queries.output.gallery, stage=STAGES)
        else:
            plots += expand(rules.plot_roc.output.figure, experiment=folder, oof=OOF_STAGES)
            plots += expand(rules.plot_worst_samples.output.gallery, experiment=folder, stage=STAGES)
        if DATASET["task"] == "multiclass":
            plots += expand(rules.plot_confusion.output.figure, experiment=folder, oof=OOF_STAGES)
    if EXPERIMENTS != [""]:  # the blend
        plots += [filled(rules.plot_roc.output.figure, experiment="", oof="mix")]
        if DATASET["task"] == "multiclass":
            plots += [filled(rules.plot_confusion.output.figure, experiment="", oof="mix")]
    if IDENTITY:
        plots += [rules.plot_identity_thresholds.output.figure]
    if DATASET["task"] == "multilabel":
        plots += [rules.plot_thresholds.output.figure]
    if DATASET.get("external"):
        plots += [rules.plot_duplicates.output.pairs, rules.plot_duplicates.output.dropped]
    if REPLACE_LABELS:
        plots += [rules.plot_label_replacement.output.curve, rules.plot_label_replacement.output.gallery]
    return plots


def stats_inputs(wildcards):
    """The caches whose pixels set the normalisation: the training side's, and the test set's with
    stats.over: train+test (then a new test set retrains, as HPA 2018's recipe implies)."""
    splits = ["train", "test"] if config["stats"]["over"] == "train+test" else ["train"]
    return {name: expand(path, size=SIZE, split=splits) for name, path in rules.cache_images.output.items()}
