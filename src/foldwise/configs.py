"""The config as the workflow sees it, without Snakemake: config files laid over each other.

The Snakefile loads ``config/config.yaml``; each ``--configfile`` is then laid over it in
order. Tools outside the workflow (benchmarks/) read the same config through ``load``.
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


def load(*paths: str | Path) -> dict:
    """The first YAML file with each later one laid over it: ``load("config/config.yaml", *configfiles)``."""
    config = {}
    for path in paths:
        config = merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return config
