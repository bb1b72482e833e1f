"""Commands that need no model load no model stack, so they start in well under a second.

Each command runs in a fresh interpreter through the console script's ``main``; when it
exits, the interpreter writes every top-level package it imported (``sys.modules``, so
imports made lazily while the command ran count too). The model, training, drift and UI
stacks must be absent. Wall time is measured in benchmarks/bench_startup.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_model import ModelEnv

#: Heavy packages only the commands that use them may import.
HEAVY = (
    "mlflow",
    "shap",
    "evidently",
    "optuna",
    "plotly",
    "sklearn",
    "fairlearn",
    "matplotlib",
    "numba",
    "streamlit",
    "fastapi",
    "uvicorn",
)
#: What scoring needs (MLflow, scikit-learn) is allowed there; training, drift and the UI are not.
NOT_FOR_SCORING = ("optuna", "fairlearn", "evidently", "plotly", "streamlit")

#: Runs the ``attrition`` console script's ``main`` with argv, then records what was imported.
_RUNNER = """
import json, os, sys
from attrition.entrypoint import main

sys.argv = ["attrition", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = 0 if exc.code is None else exc.code
with open(os.environ["STARTUP_MODULES_OUT"], "w", encoding="utf-8") as out:
    json.dump(sorted({name.split(".")[0] for name in sys.modules}), out)
sys.exit(code)
"""

HELP_COMMANDS = [
    [],
    ["keys"],
    ["users"],
    ["ingest"],
    ["generate"],
    ["db"],
    ["db", "upgrade"],
    ["score"],
    ["train"],
    ["promote"],
    ["model-card"],
    ["drift"],
    ["drift", "run"],
    ["serve"],
    ["serve", "api"],
    ["notify"],
    ["bootstrap"],
    ["purge"],
]


def _env(root: Path, **extra: str) -> dict[str, str]:
    """A system under ``root``: its own SQLite database and MLflow store, no configs/ YAML."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRITION_")}
    env |= {
        "ATTRITION_DATA_DIR": str(root / "var"),
        "ATTRITION_DATABASE_URL": f"sqlite:///{root / 'app.db'}",
        "ATTRITION_MLFLOW_TRACKING_URI": f"sqlite:///{root / 'var' / 'mlflow.db'}",
        "ATTRITION_REPORTS_DIR": str(root / "reports"),
        "ATTRITION_REFERENCE_DIR": str(root / "reference_data"),
        "ATTRITION_CONFIG_DIR": str(root / "no-configs"),
        "STARTUP_MODULES_OUT": str(root / "modules.json"),
    }
    return env | extra


def _imported(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Run ``attrition *args``; the top-level packages it imported and its output (exit 0 asserted)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        env=env or _env(root),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"attrition {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return set(json.loads((root / "modules.json").read_text(encoding="utf-8"))), done.stdout


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "attrition")
def test_help_loads_no_heavy_package(command: list[str], tmp_path: Path) -> None:
    modules, out = _imported(tmp_path, *command, "--help")
    assert "Usage:" in out  # the help was printed: the runner really ran the command
    assert "typer" in modules  # the list is the real import list
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_database_commands_load_no_heavy_package(tmp_path: Path) -> None:
    modules, out = _imported(tmp_path, "db", "upgrade")
    assert "is at revision" in out
    assert {"sqlalchemy", "alembic"} <= modules
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    for command in (["keys", "list"], ["users", "list"]):
        modules, _ = _imported(tmp_path, *command)
        assert "sqlalchemy" in modules
        assert modules.isdisjoint(HEAVY), (command, sorted(modules & set(HEAVY)))


def test_generate_loads_no_heavy_package(tmp_path: Path) -> None:
    out_csv = tmp_path / "workforce.csv"
    modules, out = _imported(tmp_path, "generate", "--rows", "50", "--seed", "3", "--out", str(out_csv))
    assert out_csv.read_text(encoding="utf-8").count("\n") == 51
    assert "wrote 50 employees" in out
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_legacy_model_paths_load_no_training_stack(tmp_path: Path) -> None:
    """Unpickling an old version imports ``attrition.model`` / ``attrition.training.explain``."""
    code = (
        "import json, sys, attrition.model, attrition.training.explain; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(done.stdout))
    assert "attrition.serving.model" in modules
    top = {name.split(".")[0] for name in modules}
    assert top.isdisjoint(NOT_FOR_SCORING), sorted(top & set(NOT_FOR_SCORING))
    assert not {
        m for m in modules if m.startswith("attrition.training.") and m != "attrition.training.explain"
    }


@pytest.mark.slow
def test_scoring_the_champion_loads_no_training_drift_or_ui_stack(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    env = _env(
        champion_env.root,
        ATTRITION_DATA_DIR=str(settings.data_dir),
        ATTRITION_DATABASE_URL=settings.db_url,
        ATTRITION_MLFLOW_TRACKING_URI=settings.tracking_uri,
        ATTRITION_MLFLOW_ARTIFACT_ROOT=settings.artifact_root,
    )
    out = champion_env.root / "scores.csv"
    modules, _ = _imported(champion_env.root, "score", "--out", str(out), env=env)
    assert out.read_text(encoding="utf-8").count("\n") == len(champion_env.employees) + 1
    assert {"mlflow", "sklearn"} <= modules  # it did load and run the model
    assert modules.isdisjoint(NOT_FOR_SCORING), sorted(modules & set(NOT_FOR_SCORING))
