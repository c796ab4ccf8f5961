"""The config as the workflow sees it, without Snakemake: config files laid over each other.

The Snakefile loads ``config/config.yaml``; the ``--configfile`` files, merged with each other
in order, are then laid over it. Tools outside the workflow (benchmarks/) read the same config
through ``load``.
"""

from __future__ import annotations

from pathlib import Path

import yaml


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
