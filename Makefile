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
DEMO_DRIFT_SNAPSHOT ?= 2026-11-30
DEMO_DRIFT ?= overtime_surge

.PHONY: help venv lock hooks deps demo stop test test-fast check-core lint format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# The lock pins every extra; the project goes in editable with all of them (pyproject.toml says
# which service needs which). Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE=1
# every command would otherwise recompile the stack it imports (`attrition --help` 2.2 s ->
# 0.8 s, loading the serving package 6.9 s -> 2.1 s).
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade uv
	$(PY) -m uv pip install -q --python $(PY) --compile-bytecode -r requirements.lock
	$(PY) -m uv pip install -q --python $(PY) --no-deps -e '.[all]'
	@touch $@

venv: $(VENV)/.installed ## Create .venv: the locked dependencies, the project with every extra

lock: ## Re-resolve requirements.lock after editing dependencies (keeps the pinned versions it can)
	$(PY) -m uv pip compile -q pyproject.toml --all-extras --python-version 3.11 -o requirements.lock

hooks: venv ## Install the git pre-commit hook (the checks of make lint)
	$(VENV)/bin/pre-commit install

deps: ## Install the system packages (ODBC driver) and start the local database servers
	@bash scripts/system-deps.sh

demo: venv ## Run the main job on the embedded defaults (SQLite + local MLflow in ./var), then start the API, the UI, the drift service and an MLflow server
	$(ATTRITION) db upgrade
	$(ATTRITION) generate --rows $(DEMO_ROWS) --seed 7 --snapshot-date $(DEMO_SNAPSHOT) --out var/workforce.csv
	$(ATTRITION) ingest var/workforce.csv
	$(ATTRITION) train --trials $(DEMO_TRIALS) --promote
	$(ATTRITION) score --out var/scores.csv
	$(ATTRITION) model-card > /dev/null
	@echo "== a month later: a $(DEMO_DRIFT) snapshot arrives; the drift check compares it with the champion's data"
	$(ATTRITION) generate --rows $(DEMO_ROWS) --seed 8 --snapshot-date $(DEMO_DRIFT_SNAPSHOT) --drift $(DEMO_DRIFT) --out var/workforce_$(DEMO_DRIFT_SNAPSHOT).csv
	$(ATTRITION) ingest var/workforce_$(DEMO_DRIFT_SNAPSHOT).csv
	@status=0; $(ATTRITION) drift run --fail-on severe || status=$$?; \
	  if [ $$status -gt 1 ]; then echo "demo: the drift check failed (exit $$status)" >&2; exit $$status; fi
	@echo "== the new snapshot is scored too, so the UI's overview opens on scored employees"
	$(ATTRITION) score --snapshot-date $(DEMO_DRIFT_SNAPSHOT) --out var/scores_$(DEMO_DRIFT_SNAPSHOT).csv
	@echo "demo: ./var holds snapshots $(DEMO_SNAPSHOT) and $(DEMO_DRIFT_SNAPSHOT) ($(DEMO_ROWS) employees each), a champion in MLflow (var/mlflow.db), its scores (var/scores.csv); model card reports/model_card.md; drift reports reports/drift_latest.md and reports/drift_*.html"
	@bash scripts/demo-services.sh

stop: ## Stop the demo services started by make demo (API, UI, drift service, MLflow server) and all they spawned
	@bash scripts/demo-services.sh stop

test: venv deps ## Run the test suite (PostgreSQL and MariaDB too, when they answer)
	@servers=$$($(PY) scripts/db_env.py) && eval "$$servers" && $(PY) -m pytest -q

test-fast: venv ## Run the tests not marked slow, on SQLite only
	$(PY) -m pytest -q -m "not slow"

check-core: venv ## Check that the core install alone (no extras) loads the champion and scores
	@bash scripts/check-core-install.sh

# The same commands as the hooks in .pre-commit-config.yaml: change both together.
lint: venv ## Ruff lint + format check, mypy on src, api and monitoring (what the pre-commit hook runs)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv ## Run the benchmarks (results in benchmarks/results/)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: stop ## Stop the demo services; remove the demo data, caches and reports (keeps .venv)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache reports/*.md reports/*.html reports/*.json
	cd reference_data && find . -mindepth 1 ! -name README.md -delete
