# mof-experiments: run `make` or `make help` to list the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKSPACE ?= data/mof.duckdb
COMPANIES ?= 3000
SEED ?= 42
PYTEST_ARGS ?=

$(BIN)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,spark]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mof-experiments)" >/dev/null
	@touch $@

## Create .venv (if missing) and install the package with its pinned dependencies
venv: $(BIN)/.installed

## Simulate the demo workspace, label, segment, run the four reports (the main job)
demo: venv
	$(BIN)/mof simulate --companies $(COMPANIES) --seed $(SEED) --workspace $(WORKSPACE) --overwrite
	$(BIN)/mof label --workspace $(WORKSPACE)
	$(BIN)/mof segment --workspace $(WORKSPACE)
	$(BIN)/mof report run --workspace $(WORKSPACE) --out reports --jobs 2

## Check the architecture (import-linter contracts), then run the whole test suite on 2 workers
test: venv
	$(BIN)/lint-imports
	SPARK_LOCAL_IP=127.0.0.1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

## The fast lane: every test not marked slow or spark, on 2 workers (under a minute)
# (bytecode is written even where PYTHONDONTWRITEBYTECODE is set: pytest keeps its rewritten test
# modules in __pycache__ instead of compiling them again on every run, about 5 s per worker)
test-fast: venv
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow and not spark" $(PYTEST_ARGS)

## Open JupyterLab on notebooks/ with the project's environment as kernel (as root too: containers, CI)
lab: venv
	$(BIN)/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

## Run the benchmarks (slow; prints tables; see benchmarks/README.md)
bench: venv
	$(BIN)/python benchmarks/label_bench.py
	$(BIN)/python benchmarks/pipeline_bench.py
	SPARK_LOCAL_IP=127.0.0.1 $(BIN)/python benchmarks/spark_bench.py
	$(BIN)/python benchmarks/send_bench.py
	$(BIN)/python benchmarks/report_bench.py

## Remove the virtual environment and generated data
clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal data/*.sqlite reports/2*

## List the targets
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-zA-Z_-]+:/{if(doc){split($$1,t,":"); printf "  make %-9s %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

.PHONY: venv demo test test-fast lab bench clean help
