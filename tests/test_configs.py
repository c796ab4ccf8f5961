from pathlib import Path

import yaml
from snakemake.utils import update_config

from foldwise import configs

ROOT = Path(__file__).resolve().parents[1]


def snakemake_config(config, *configfiles) -> dict:
    """The config snakemake builds: its --configfile files merged into one, laid over the Snakefile's."""
    overrides = {}
    for path in configfiles:
        update_config(overrides, yaml.safe_load(Path(path).read_text()))
    combined = yaml.safe_load(Path(config).read_text())
    update_config(combined, overrides)
    return combined


def test_presets_combine_as_snakemake_combines_them():
    files = [ROOT / "config/config.yaml", ROOT / "config/presets/hpa_2018.yaml", ROOT / "config/demo_hpa.yaml"]
    combined = configs.load(*files)
    assert combined == snakemake_config(*files)
    # the demo's model and head over the preset's, the preset's selection over the default's, its min_lr kept
    assert combined["train"]["model"] == "resnet18" and combined["train"]["head"] == "linear"
    assert combined["train"]["select_by"] == "val_loss" and combined["train"]["focal_gamma"] == 2.0
    assert combined["train"]["scheduler"]["min_lr"] == 1.0e-6


def test_configfiles_merge_with_each_other_before_the_config(tmp_path):
    for name, content in {
        "base": {"a": {"x": 1, "y": 2}, "k": [1, 2]},
        "one": {"a": None, "k": [3]},
        "two": {"a": {"y": 3}},
    }.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(content))
    files = [tmp_path / f"{name}.yaml" for name in ("base", "one", "two")]
    # "one" drops a, "two" brings back a.y; together they are laid over base's a
    assert configs.load(*files) == {"a": {"x": 1, "y": 3}, "k": [3]} == snakemake_config(*files)
