# dcsim: `make run` runs the headline scenario, `make test` the whole suite.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,dask]'
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/dcsim run scenarios/100k_h100.yaml

test: $(VENV)/.dev-deps
	$(BIN)/ruff check simulator tests benchmarks
	$(BIN)/python -m pytest

bench: $(VENV)/.run-deps
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) results/*/ .pytest_cache .hypothesis
