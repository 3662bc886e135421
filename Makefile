# Two commands on a fresh machine: `make demo` and `make test`.
# `make setup` is shared, idempotent and quick when nothing changed (stamp files).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.perpwatch-installed
NODE_STAMP := node_modules/.package-lock.json

.PHONY: setup demo test lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

# Quiet steps with one progress line each: pip's and npm's own output only on failure.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

$(PY):
	@echo "setup: creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(PY)
	@echo "setup: installing perpwatch and its Python dependencies (1-2 minutes the first time)"
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[dev]'
	@touch $@
	@echo "setup: Python dependencies ready"

$(NODE_STAMP): package.json package-lock.json
	@echo "setup: installing anvil and solc from npm (package.json)"
	@npm ci --no-audit --no-fund --loglevel=error --silent
	@echo "setup: npm dependencies ready"

demo: setup
	$(VENV)/bin/perpwatch demo

# Two workers, whole files each (a file's devnet and fixtures stay in one process): the suite's
# e2e tests mostly wait on interval-mined chains and child processes, so two overlap well even on
# two cores (15 min serial, 8.5 min this way). TEST_WORKERS=0 runs it serially.
TEST_WORKERS ?= 2

test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules .cache
