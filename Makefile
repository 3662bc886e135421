# Two commands on a fresh machine: `make demo` and `make test`.
# `make setup` is shared, idempotent and quick when nothing changed (stamp files).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.perpwatch-installed
NODE_STAMP := node_modules/.package-lock.json

.PHONY: setup demo test lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

demo: setup
	$(VENV)/bin/perpwatch demo

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules .cache
