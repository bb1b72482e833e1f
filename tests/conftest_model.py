"""A real trained champion, once per test session, and cheap independent copies of it.

``model_env`` trains one model on generator data (1,500 rows, logistic regression,
8 trials), logs it to a real MLflow store (SQLite + local artifacts in a tmp dir),
registers it and promotes it: version 1 is champion. Tests that only read use it
directly; tests that move aliases or write predictions take ``champion_env``, a copy
of its two databases (MLflow store and app DB) in their own tmp dir, so they can
change state without affecting each other.

The fairness audit covers Gender only here: the generator makes Age and MaritalStatus
genuine risk factors (as in the IBM data), so with the default attributes every
model fails the 0.10 demographic-parity limit and nothing could be promoted. Gender has
no effect in the generator, which makes "flip one gender's labels" a clean biased case.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from attrition.config import Settings, TrainingSettings, location_env, reset_settings
from attrition.db.engine import get_engine
from attrition.db.migrate import upgrade
from attrition.db.repositories import insert_employees

if TYPE_CHECKING:  # heavy imports (MLflow, SHAP) only when a test asks for a model
    from attrition.training.pipeline import TrainingResult

SNAPSHOT = dt.date(2026, 10, 31)
ROWS = 1500


def training_settings(**overrides: object) -> TrainingSettings:
    """Fast, deterministic training for tests (see the module docstring on Gender)."""
    values: dict[str, object] = {
        "trials": 8,
        "seed": 7,
        "families": ["logistic_regression"],
        "protected_attributes": ["Gender"],
        "bootstrap_resamples": 200,
        # A 300-row holdout has ~130 women and ~20 female leavers, so group rates move by
        # +-0.1 by chance; 0.25 keeps honest models promotable and still stops a biased one
        # (flipped labels give differences far above 0.5).
        "max_equal_opportunity_difference": 0.25,
        "max_demographic_parity_difference": 0.25,
    }
    values.update(overrides)
    return TrainingSettings.model_validate(values)


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a system living entirely under ``root`` (no env, no configs/ YAML)."""
    values: dict[str, object] = {
        "data_dir": root / "var",
        "database_url": f"sqlite:///{root / 'app.db'}",
        "mlflow_tracking_uri": f"sqlite:///{root / 'var' / 'mlflow.db'}",
        "mlflow_artifact_root": (root / "var" / "mlartifacts").as_uri(),
        "reports_dir": root / "reports",
        "reference_dir": root / "reference_data",
        "training": training_settings(),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class ModelEnv:
    root: Path
    settings: Settings
    result: TrainingResult
    version: str
    employees: pd.DataFrame


@pytest.fixture(scope="session")
def workforce() -> pd.DataFrame:
    """The generator's employees with a snapshot date (the training data of ``model_env``)."""
    from attrition.data.generator import generate_workforce

    return generate_workforce(ROWS, seed=11, snapshot_date=SNAPSHOT)


@pytest.fixture(scope="session")
def model_env(tmp_path_factory: pytest.TempPathFactory, workforce: pd.DataFrame) -> Iterator[ModelEnv]:
    """Employees in the app DB, a trained model registered and promoted: version 1 is champion."""
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register
    from attrition.training.pipeline import train_model

    root = tmp_path_factory.mktemp("model_env")
    settings = make_settings(root)
    upgrade(settings.db_url)
    insert_employees(get_engine(settings.db_url), workforce, "test")
    result = train_model(workforce, settings.training)  # snapshot dates travel into the provenance
    version = log_and_register(result, settings, actor="fixture", source=f"employees@{SNAPSHOT}")
    decision = promote(settings, actor="fixture")
    assert decision.promoted, decision.message()
    yield ModelEnv(root, settings, result, version, workforce)
    get_engine.cache_clear()


@pytest.fixture
def champion_env(model_env: ModelEnv, tmp_path: Path) -> ModelEnv:
    """A private copy of ``model_env``'s MLflow store and app DB (artifacts are shared, read-only)."""
    (tmp_path / "var").mkdir()
    for source in model_env.root.glob("app.db*"):
        shutil.copy2(source, tmp_path / source.name)
    for source in (model_env.root / "var").glob("mlflow.db*"):
        shutil.copy2(source, tmp_path / "var" / source.name)
    settings = make_settings(tmp_path, mlflow_artifact_root=model_env.settings.mlflow_artifact_root)
    return ModelEnv(tmp_path, settings, model_env.result, model_env.version, model_env.employees)


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its schema created and nothing in it (creating one takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def empty_env(tmp_path: Path, empty_mlflow_db: Path) -> Settings:
    """A migrated app DB and an MLflow store with no models yet."""
    settings = make_settings(tmp_path)
    upgrade(settings.db_url)
    (tmp_path / "var").mkdir(exist_ok=True)
    shutil.copy2(empty_mlflow_db, tmp_path / "var" / "mlflow.db")
    return settings


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Point ``get_settings()`` (what the CLI reads) at a Settings object through the environment."""

    def apply(settings: Settings, **training_env: str) -> None:
        env = location_env(settings, Path(settings.data_dir) / "no-configs") | {
            "ATTRITION_TRAINING__TRIALS": str(settings.training.trials),
            "ATTRITION_TRAINING__SEED": str(settings.training.seed),
            "ATTRITION_TRAINING__FAMILIES": '["logistic_regression"]',
            "ATTRITION_TRAINING__PROTECTED_ATTRIBUTES": '["Gender"]',
            "ATTRITION_TRAINING__BOOTSTRAP_RESAMPLES": "200",
            "ATTRITION_TRAINING__MAX_EQUAL_OPPORTUNITY_DIFFERENCE": "0.25",
            "ATTRITION_TRAINING__MAX_DEMOGRAPHIC_PARITY_DIFFERENCE": "0.25",
        }
        env |= {f"ATTRITION_TRAINING__{k.upper()}": v for k, v in training_env.items()}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_settings()
        get_engine.cache_clear()

    yield apply
    reset_settings()
    get_engine.cache_clear()
