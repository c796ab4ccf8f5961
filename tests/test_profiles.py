"""The SLURM profile: every GPU rule of the workflow gets the time and memory of a GPU job, not the
defaults of the cheap table steps (2,000 MB, 30 minutes)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "profiles" / "slurm" / "config.yaml"


def gpu_rules() -> list[str]:
    """The rules of workflow/rules/*.smk whose resources ask for a GPU (``gpu=1``), in file order."""
    rules = []
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        headers = list(re.finditer(r"^[ \t]*(?:rule|use rule \S+ as|checkpoint) (\w+)", text, re.M))
        for header, following in zip(headers, [*headers[1:], None]):
            body = text[header.end() : following.start() if following else len(text)]
            if re.search(r"^[ \t]+resources:[^\n]*\n(?:[ \t]+[^\n]*\n)*?[ \t]+gpu\s*=\s*[1-9]", body, re.M):
                rules.append(header[1])
    return rules


def test_the_rules_are_found():
    assert {"train_fold", "predict_fold", "predict_oof"} <= set(gpu_rules())


def test_every_gpu_rule_has_the_profile_gpu_settings():
    profile = yaml.safe_load(SLURM.read_text())
    defaults, settings = profile["default-resources"], profile["set-resources"]
    missing = [rule for rule in gpu_rules() if rule not in settings]
    assert not missing, f"GPU rules on the SLURM defaults ({defaults}): {missing}"
    for rule in gpu_rules():
        for key in ("runtime", "mem_mb"):
            assert settings[rule].get(key, 0) > defaults[key], (rule, key, settings[rule])
    assert settings["predict_oof"] == settings["predict_fold"]  # the same work
