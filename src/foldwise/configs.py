"""The config as the workflow sees it, without Snakemake: config files laid over each other.

The Snakefile loads ``config/config.yaml``; the ``--configfile`` files, merged with each other
in order, are then laid over it. Tools outside the workflow (benchmarks/) read the same config
through ``load``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from foldwise import FoldwiseError


def merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base`` as Snakemake lays a --configfile over the config: mappings
    merge key by key, anything else (lists included) replaces. Neither argument is changed.

    >>> merge({"train": {"model": "resnet18", "epochs": 12}}, {"train": {"epochs": 2}, "seed": 7})
    {'train': {'model': 'resnet18', 'epochs': 2}, 'seed': 7}
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def load(config: str | Path, *configfiles: str | Path) -> dict:
    """``config`` (the Snakefile's ``configfile:``) with ``configfiles`` over it, combined as snakemake
    combines them: the --configfile files merged with each other first, then laid over it as one."""
    overrides = {}
    for path in configfiles:
        overrides = merge(overrides, read(path))
    return merge(read(config), overrides)


FOLDER_LABEL = "label"  # the class column a training folder stands for (its subfolders)


def dataset_defaults(dataset: dict) -> dict:
    """The ``dataset:`` section with what folders imply filled in: a folder as ``train`` (ImageFolder:
    ``train/<class>/<file>``) has its images under ``{train}/{id}`` and its classes in a label column;
    a folder as ``test`` has them under ``{test}/{id}`` (the ids are paths relative to the folder).
    ``images`` is required otherwise."""
    dataset = dict(dataset)
    train_folder, test_folder = Path(dataset["train"]).is_dir(), Path(dataset["test"]).is_dir()
    if train_folder:
        dataset["images"] = dataset.get("images") or f"{dataset['train'].rstrip('/')}/{{id}}"
        dataset["label_column"] = dataset.get("label_column") or FOLDER_LABEL
    if test_folder and not dataset.get("test_images"):
        dataset["test_images"] = f"{dataset['test'].rstrip('/')}/{{id}}"
    if not dataset.get("images"):
        raise ValueError(
            f"config: dataset.images is required (a path template with {{id}}) unless dataset.train is a "
            f"folder of class folders; {dataset['train']!r} is not a folder"
        )
    return dataset


def member_weights(setting, members: list[str]) -> list[float] | str | None:
    """``ensemble.weights`` for ``members`` (named ``stage``, ``experiment/stage`` or an extra's name):
    None (equal), ``"fit"``, or one weight per member. A list gives them in the members' order; a
    mapping names an experiment (a number for all its stages, or ``{stage: weight}``), a stage or an
    extra, and a member it does not name weighs 0."""
    if setting is None or setting == "fit":
        return setting
    if isinstance(setting, (list, tuple)):
        if len(setting) != len(members):
            raise FoldwiseError(
                f"ensemble.weights has {len(setting)} value(s) for the {len(members)} members {members}; "
                "give one per member, or a mapping {experiment: {stage: weight}}"
            )
        return [float(w) for w in setting]
    weights = dict.fromkeys(members, 0.0)
    for key, value in setting.items():
        named = {f"{key}/{stage}": w for stage, w in value.items()} if isinstance(value, dict) else None
        matched = list(named) if named else [m for m in members if m == key or m.startswith(f"{key}/")]
        unknown = [m for m in matched if m not in weights] or ([] if matched else [key])
        if unknown:
            raise FoldwiseError(f"ensemble.weights names {unknown[0]!r}, which is none of the members {members}")
        for member in matched:
            weights[member] = float(named[member] if named else value)
    if not any(weights.values()):
        raise FoldwiseError(f"ensemble.weights gives every member of {members} weight 0")
    return list(weights.values())
