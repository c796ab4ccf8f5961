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
