"""The benchmarks run and report what they promise (their figures are never asserted: speed varies)."""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_throughput_prints_one_json_object_with_positive_ratios_without_snakemake():
    # snakemake is absent on GPU machines: the benchmark must not import it, even indirectly
    code = (
        "import runpy, sys; sys.modules['snakemake'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(ROOT / "benchmarks/train_throughput.py"),
            "--configfile",
            str(ROOT / "config/smoke.yaml"),
            "--steps",
            "2",
            "--warmup",
            "1",
            "--images",
            "8",
            "--batch-size",
            "4",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)  # the whole of stdout is one object
    assert {"device", "torch", "settings", "ceiling", "ours", "data_path", "naive", "ratios"} <= result.keys()
    assert result["settings"]["model"] == "test_resnet" and result["settings"]["workers"] == 1
    rates = [
        result["ceiling"]["train_images_per_s"],
        result["ceiling"]["inference_images_per_s"],
        result["ours"]["train_images_per_s"],
        result["naive"]["train_images_per_s"],
        result["data_path"]["images_per_s_1_worker"],
        result["data_path"]["images_per_s_all_workers"],
    ]
    ratios = [result["ratios"]["ours_over_ceiling"], result["ratios"]["ours_over_naive"]]
    assert all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in rates + ratios)
    assert "peak_memory_gib" in result["ceiling"] and "peak_memory_gib" in result["ours"]
