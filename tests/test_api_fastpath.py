"""The compiled single-record path gives the full pipeline's numbers, for every model family."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from conftest_model import ModelEnv, training_settings
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from attrition.data.generator import generate_workforce
from attrition.features import FeatureBuilder
from attrition.schema import RECORD_COLUMNS, TARGET
from attrition.serving.fastpath import FastPredictor
from attrition.serving.model import AttritionModel, risk_band_of


@pytest.fixture(scope="module")
def random_records() -> pd.DataFrame:
    """1,000 random records from the generator (not the training data)."""
    return generate_workforce(1000, seed=20260101)[list(RECORD_COLUMNS)]


def _assert_same(model: AttritionModel, frame: pd.DataFrame) -> FastPredictor:
    fast = FastPredictor(model)
    records: list[dict[str, Any]] = frame.to_dict("records")
    expected = model.predict_proba(frame)
    one_by_one = np.concatenate([fast.predict_proba([r]) for r in records])
    np.testing.assert_allclose(one_by_one, expected, rtol=1e-9, atol=0)
    np.testing.assert_allclose(fast.predict_proba(records[:7]), expected[:7], rtol=1e-9, atol=0)
    # Label and band come out the same as AttritionModel.predict's.
    reference = model.predict(frame.iloc[:200])
    got = fast.predict(records[:200])
    assert [g[1] for g in got] == reference["label"].tolist()
    assert [g[2] for g in got] == reference["risk_band"].tolist()
    return fast


def test_fast_path_equals_the_served_pipeline_on_1000_records(
    model_env: ModelEnv, random_records: pd.DataFrame
) -> None:
    fast = _assert_same(model_env.result.model, random_records)
    assert fast.compiled, fast.reason


@pytest.mark.slow
@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting"])
def test_fast_path_equals_pipeline_for_tree_families(family: str, random_records: pd.DataFrame) -> None:
    from attrition.training.pipeline import train_model

    frame = generate_workforce(800, seed=5)
    settings = training_settings(families=[family], trials=2, cv_folds=3, bootstrap_resamples=20)
    model = train_model(frame, settings).model
    assert model.family == family
    fast = _assert_same(model, random_records)
    assert fast.compiled, fast.reason


def test_unknown_component_falls_back_to_the_full_pipeline(
    model_env: ModelEnv, random_records: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    train = model_env.employees.drop(columns="snapshot_date")
    y = (train[TARGET] == "Yes").to_numpy()
    base = Pipeline(
        [("features", FeatureBuilder()), ("scale", MinMaxScaler()), ("model", LogisticRegression())]
    )
    pipeline = CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False).fit(train, y)
    model = dataclasses.replace(model_env.result.model, pipeline=pipeline)
    with caplog.at_level(logging.WARNING, logger="attrition.serving.fastpath"):
        fast = _assert_same(model, random_records.iloc[:100])
    assert not fast.compiled and "MinMaxScaler" in str(fast.reason)
    assert any(
        "fast path disabled" in r.getMessage() and "MinMaxScaler" in r.getMessage() for r in caplog.records
    )


def test_band_rule_matches_risk_band_of(model_env: ModelEnv) -> None:
    fast = FastPredictor(model_env.result.model)
    bands = model_env.result.model.risk_bands
    edges = np.array([0.0, bands.medium - 1e-12, bands.medium, bands.high, bands.critical, 1.0])
    assert [fast.band(float(p)) for p in edges] == risk_band_of(edges, bands).tolist()


def test_missing_column_is_a_clear_error(model_env: ModelEnv) -> None:
    fast = FastPredictor(model_env.result.model)
    record = dict(generate_workforce(1, seed=3)[list(RECORD_COLUMNS)].iloc[0])
    del record["OverTime"]
    with pytest.raises(ValueError, match="missing column 'OverTime'"):
        fast.predict_proba([record])


# --- scikit-learn versions: every family, both calibrations, safe fallback ------------------


@pytest.mark.slow
@pytest.mark.parametrize("family", ["logistic_regression", "random_forest", "hist_gradient_boosting"])
def test_fast_path_equals_pipeline_with_isotonic_calibration(
    family: str, random_records: pd.DataFrame
) -> None:
    """Isotonic is what ``auto`` picks from 5,000 training rows; sigmoid is covered above."""
    from attrition.training.pipeline import train_model

    settings = training_settings(
        families=[family], trials=2, cv_folds=3, bootstrap_resamples=20, calibration="isotonic"
    )
    model = train_model(generate_workforce(800, seed=5), settings).model
    assert (model.family, model.calibration) == (family, "isotonic")
    fast = _assert_same(model, random_records)
    assert fast.compiled, fast.reason


class _ShiftedFeatures(FeatureBuilder):
    """A builder the compiler accepts (a FeatureBuilder) whose output it does not reproduce."""

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return super().transform(X) + 0.5


class StandardScaler(SkStandardScaler):
    """Named like scikit-learn's scaler but another class: the compiler must not trust the name."""

    def transform(self, X: Any, copy: bool | None = None) -> Any:
        return np.clip(super().transform(X, copy=copy), -1.0, 1.0)


def _calibrated(model_env: ModelEnv, features: FeatureBuilder, scaler: Any) -> AttritionModel:
    train = model_env.employees.drop(columns="snapshot_date")
    y = (train[TARGET] == "Yes").to_numpy()
    base = Pipeline([("features", features), ("scale", scaler), ("model", LogisticRegression())])
    pipeline = CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False).fit(train, y)
    return dataclasses.replace(model_env.result.model, pipeline=pipeline)


def test_self_check_mismatch_falls_back_and_names_the_version(
    model_env: ModelEnv, random_records: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    """What a scikit-learn release changing a fitted attribute's meaning looks like: numbers differ."""
    model = _calibrated(model_env, _ShiftedFeatures(), SkStandardScaler())
    with caplog.at_level(logging.WARNING, logger="attrition.serving.fastpath"):
        fast = _assert_same(model, random_records.iloc[:100])  # the fallback gives the pipeline's numbers
    assert not fast.compiled and "compiled path differs from the pipeline" in str(fast.reason)
    (message,) = [r.getMessage() for r in caplog.records if "fast path disabled" in r.getMessage()]
    assert f"scikit-learn {sklearn.__version__}" in message


def test_a_same_named_class_outside_sklearn_is_not_compiled(
    model_env: ModelEnv, random_records: pd.DataFrame
) -> None:
    fast = _assert_same(_calibrated(model_env, FeatureBuilder(), StandardScaler()), random_records.iloc[:100])
    assert not fast.compiled
    assert f"transformer {__name__}.StandardScaler" in str(fast.reason)
