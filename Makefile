# dcsim: `make run` runs the headline scenario, `make test` the whole suite.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean browser

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

test: $(VENV)/.dev-deps browser
	$(BIN)/ruff check simulator tests benchmarks examples
	$(BIN)/python -m pytest

# The report test renders the HTML page in headless Chromium. Best effort: on a Debian-like
# machine run as root, install the distribution's chromium once; elsewhere the test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    timeout 600 apt-get install -y -q chromium >/dev/null 2>&1 && echo "installed chromium"; } || \
	  echo "no chromium: the browser test of dcsim report will skip"

bench: $(VENV)/.run-deps
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) results/*/ .pytest_cache .hypothesis
