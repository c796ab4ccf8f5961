#!/usr/bin/env bash
# The GPU measurements of the README, in one go (an H100/H200 with 16 cores): training throughput
# of both presets' models, eager and compiled, then the torch unit tests on the GPU.
#   bash benchmarks/gpu_check.sh OUT_DIR
# Each step has its own time limit, so one slow compile cannot starve the rest.
set -u
out=${1:-benchmarks/out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi -L; nproc
bench() {  # name, limit in seconds, arguments
  local name=$1 limit=$2; shift 2
  timeout "$limit" python3 benchmarks/train_throughput.py "$@" >"$out/$name.json" 2>"$out/$name.log"
  echo "$name: exit $? $(tail -c 300 "$out/$name.json" | tr -d '\n ')"
}
pp=(--configfile config/presets/plant_pathology_2020.yaml --workers 16 --steps 30 --warmup 3 --images 128)
hpa=(--configfile config/presets/hpa_2018.yaml --channels 4 --workers 16 --steps 30 --warmup 3 --images 128)
bench pp_eager 100 "${pp[@]}" --no-compile
bench hpa_eager 100 "${hpa[@]}" --no-compile
bench pp_compiled 150 "${pp[@]}" --compile --phases ceiling ours
bench hpa_compiled 150 "${hpa[@]}" --compile --phases ceiling ours
FOLDWISE_TEST_DEVICE=cuda timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_train.py tests/test_augment.py \
  tests/test_tta.py tests/test_models_losses.py 2>&1 | tail -15 | tee "$out/pytest_cuda.log"
