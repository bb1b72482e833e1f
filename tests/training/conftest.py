"""Fixtures for the ML-core tests: synthetic workforce, one trained run, one fitted model per family."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import optuna
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from attrition.config import TrainingSettings
from attrition.data.generator import generate_workforce
from attrition.serving.model import AttritionModel
from attrition.training.evaluation import labels_of
from attrition.training.final import fit_final
from attrition.training.pipeline import TrainingResult, train_model
from attrition.training.search import BOOSTING, FOREST, LOGISTIC, SearchOutcome

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Fixed, reasonable hyperparameters per family (tests of the final fit / explainer need no search).
FAMILY_PARAMS: dict[str, dict[str, object]] = {
    LOGISTIC: {"C": 0.05, "class_weight": None},
    FOREST: {
        "n_estimators": 60,
        "max_depth": 6,
        "min_samples_leaf": 3,
        "max_features": 0.4,
        "class_weight": None,
    },
    BOOSTING: {
        "learning_rate": 0.08,
        "max_iter": 80,
        "max_leaf_nodes": 12,
        "l2_regularization": 0.1,
        "class_weight": "balanced",
    },
}


@pytest.fixture(scope="session")
def workforce() -> pd.DataFrame:
    """1,500 synthetic employees (~16% leavers)."""
    return generate_workforce(1500, seed=11)


@pytest.fixture(scope="session")
def trained_workforce() -> pd.DataFrame:
    """3,000 synthetic employees: a 600-row holdout keeps the ROC-AUC estimate within about +-0.03."""
    return generate_workforce(3000, seed=11)


@pytest.fixture(scope="session")
def trained(trained_workforce: pd.DataFrame) -> TrainingResult:
    """One full training run: 20 trials over all three families."""
    return train_model(trained_workforce, TrainingSettings(trials=20, seed=5))


def _fit_family(frame: pd.DataFrame, family: str, settings: TrainingSettings | None = None) -> AttritionModel:
    outcome = SearchOutcome(
        optuna.create_study(), family, dict(FAMILY_PARAMS[family]), float("nan"), float("nan")
    )
    return fit_final(frame, labels_of(frame), outcome, settings or TrainingSettings()).model


@pytest.fixture(scope="session")
def fit_family() -> Callable[..., AttritionModel]:
    """``fit_family(frame, family, settings=None)``: final fit with FAMILY_PARAMS, no search."""
    return _fit_family


@pytest.fixture(scope="session")
def family_models(workforce: pd.DataFrame) -> dict[str, AttritionModel]:
    """A calibrated model of each family, fitted on the first 1,200 rows."""
    return {family: _fit_family(workforce.iloc[:1200], family) for family in FAMILY_PARAMS}


@pytest.fixture
def optuna_postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for Optuna's tables (skipped without ATTRITION_TEST_POSTGRES_URL)."""
    url = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("ATTRITION_TEST_POSTGRES_URL not set")
    name = f"optuna_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
