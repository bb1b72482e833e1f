# Employee attrition platform. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ATTRITION := $(VENV)/bin/attrition
DEMO_ROWS ?= 5000
DEMO_SNAPSHOT ?= 2026-10-31
DEMO_TRIALS ?= 10

.PHONY: help venv deps demo test test-fast lint format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade uv
	$(PY) -m uv pip install -q --python $(PY) -r requirements.lock
	$(PY) -m uv pip install -q --python $(PY) --no-deps -e .
	@touch $@

venv: $(VENV)/.installed ## Create .venv and install the locked dependencies

deps: ## Install the system packages (ODBC driver) and start the local database servers
	@bash scripts/system-deps.sh

demo: venv ## Run the main job on the embedded defaults (SQLite + local MLflow in ./var)
	$(ATTRITION) db upgrade
	$(ATTRITION) generate --rows $(DEMO_ROWS) --seed 7 --snapshot-date $(DEMO_SNAPSHOT) --out var/workforce.csv
	$(ATTRITION) ingest var/workforce.csv
	$(ATTRITION) train --trials $(DEMO_TRIALS) --promote
	$(ATTRITION) score --out var/scores.csv
	$(ATTRITION) model-card > /dev/null
	@echo "demo: ./var holds a $(DEMO_ROWS)-employee snapshot of $(DEMO_SNAPSHOT), a champion model in MLflow (var/mlflow.db), its scores (var/scores.csv); model card in reports/model_card.md"

test: venv deps ## Run the test suite (PostgreSQL and MariaDB too, when they answer)
	@servers=$$($(PY) scripts/db_env.py) && eval "$$servers" && $(PY) -m pytest -q

test-fast: venv ## Run the tests not marked slow, on SQLite only
	$(PY) -m pytest -q -m "not slow"

lint: venv ## Ruff lint + format check, mypy on src
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv ## Run the benchmarks (results in benchmarks/results/)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## Remove the demo data, caches and reports (keeps .venv)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache reports/*.md reports/*.html reports/*.json
