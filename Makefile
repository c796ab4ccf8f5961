# Two commands for a fresh clone:
#   make run    create .venv, install, run the whole workflow on the default config
#   make test   create .venv if needed, run the test suite
PYTHON ?= python3
CORES ?= 8
# visible GPUs; without any, 2 slots so that two training jobs share the CPU
GPUS ?= $(shell n=$$(nvidia-smi -L 2>/dev/null | wc -l); [ "$$n" -gt 0 ] && echo $$n || echo 2)
BIN := .venv/bin

.PHONY: run test test-long test-cluster lint dry-run clean

$(BIN)/snakemake: pyproject.toml
	$(PYTHON) -m venv .venv
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# targets first: --resources takes several values and would swallow a target after it
run: $(BIN)/snakemake
	$(BIN)/snakemake all --cores $(CORES) --resources gpu=$(GPUS)

dry-run: $(BIN)/snakemake
	$(BIN)/snakemake all --cores $(CORES) --resources gpu=$(GPUS) -n

# two workers, a test module each (module fixtures share one smoke run): snakemake's and Python's
# start-up of one run overlaps the other's training
test: $(BIN)/snakemake
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# the kill-and-resume soak test, the slow checks, and the workflow on a real one-node SLURM started here
# (root; installs slurm and munge if missing)
test-long: .venv/.cluster
	$(BIN)/python -m pytest -q -s -m "soak or cluster or slow" tests

test-cluster: .venv/.cluster
	$(BIN)/python -m pytest -q -s -m cluster tests/cluster

# the SLURM executor plugin (profiles/slurm)
.venv/.cluster: $(BIN)/snakemake
	$(BIN)/python -m pip install --quiet -e ".[test,cluster]"
	touch $@

# the style gates: Snakemake's linter, ruff (lint and format) and snakefmt
lint: $(BIN)/snakemake
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow

clean:
	rm -rf results .snakemake
