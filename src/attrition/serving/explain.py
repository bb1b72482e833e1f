"""SHAP explanations of the calibrated model, reported per ORIGINAL contract column, in probability points.

How a record's contributions are computed:

1. Exact SHAP values of the underlying estimator on the engineered features, in the
   estimator's raw output (the score the calibrator reads):
   logistic regression -> ``coef * (x - mean of training features)`` in log-odds
   (the linear-model SHAP values under feature independence, what
   ``shap.LinearExplainer`` gives); random forest -> ``shap.TreeExplainer``
   (path-dependent) on the leaver probability; HistGradientBoosting ->
   ``shap.TreeExplainer`` in log-odds.
2. Back to contract columns: a feature with one source column (an integer column,
   a one-hot ``Column=category``) gives its whole value to that column; an
   engineered feature with k source columns gives 1/k to each (e.g.
   ``tenure_ratio`` -> half to YearsAtCompany, half to TotalWorkingYears). Sums are
   preserved.
3. To probability points of the calibrated probability: with base value ``b``
   (raw) and calibration map ``g``, each contribution is scaled by
   ``(g(f(x)) - g(b)) / sum of raw contributions``. Signs are kept (``g`` is
   increasing) and ``base + sum(contributions) == predict_proba`` to float
   precision (tests use 1e-6).

Speed: the tree explainer is built once, lazily (the first call also imports shap),
and never pickled (rebuilt after loading). One record takes milliseconds, 1,000
records seconds at most; see benchmarks/bench_model.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from attrition.config import FOREST, LOGISTIC
from attrition.features import FeatureBuilder


@dataclass(frozen=True)
class Contributions:
    """Per-record contributions in probability points; ``base + values.sum(axis=1) == probability``."""

    base: float
    values: pd.DataFrame
    probability: np.ndarray


def source_mapping(builder: FeatureBuilder, columns: list[str]) -> np.ndarray:
    """(n_features, n_columns) weights: 1 for a single source, 1/k for each of k sources."""
    mapping = np.zeros((len(builder.feature_names_out_), len(columns)))
    position = {c: i for i, c in enumerate(columns)}
    for row, name in enumerate(builder.feature_names_out_):
        sources = builder.feature_sources_[name]
        for source in sources:
            mapping[row, position[source]] = 1.0 / len(sources)
    return mapping


class ShapExplainer:
    """Explains a fitted ``features -> [scale ->] model`` pipeline behind a fitted calibrator."""

    def __init__(self, base: Pipeline, calibrator: Any, family: str, background: pd.DataFrame) -> None:
        builder: FeatureBuilder = base.named_steps["features"]
        self.family = family
        self.columns: list[str] = list(builder.input_columns_)
        self.feature_names: list[str] = list(builder.feature_names_out_)
        self.mapping = source_mapping(builder, self.columns)
        self._pre = base[:-1]
        self._model = base[-1]
        self._calibrator = calibrator
        self._background_mean: np.ndarray | None = None
        if family == LOGISTIC:
            self._background_mean = np.asarray(self._pre.transform(background)).mean(axis=0)
        self._tree: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tree"] = None  # rebuilt on first use; keeps the pickle small and shap-version independent
        return state

    # -- raw space -------------------------------------------------------------------

    def _response(self, X: np.ndarray) -> np.ndarray:
        """What the calibrator reads: decision_function when the estimator has one, else P(leave)."""
        if hasattr(self._model, "decision_function"):
            return np.asarray(self._model.decision_function(X), dtype=np.float64)
        return np.asarray(self._model.predict_proba(X)[:, 1], dtype=np.float64)

    def _tree_explainer(self) -> Any:
        if self._tree is None:
            import shap

            self._tree = shap.TreeExplainer(self._model)
        return self._tree

    def raw_shap(self, records: pd.DataFrame) -> tuple[float, np.ndarray, np.ndarray]:
        """(base value, SHAP values per engineered feature, raw model output), all in raw units."""
        X = np.asarray(self._pre.transform(records), dtype=np.float64)
        if self.family == LOGISTIC:
            assert self._background_mean is not None
            coef = self._model.coef_[0]
            base = float(self._model.intercept_[0] + coef @ self._background_mean)
            return base, (X - self._background_mean) * coef, self._response(X)
        explainer = self._tree_explainer()
        values = explainer.shap_values(X, check_additivity=False)
        expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
        if isinstance(values, list):  # older shap: one array per class
            values = values[1]
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:  # (rows, features, classes)
            values = values[:, :, 1]
        base = float(expected[1] if self.family == FOREST and expected.size > 1 else expected[0])
        return base, values, self._response(X)

    # -- probability points per contract column ------------------------------------

    def contributions(self, records: pd.DataFrame) -> Contributions:
        base_raw, phi, raw = self.raw_shap(records)
        calibrate = self._calibrator.predict
        probability = np.asarray(calibrate(raw), dtype=np.float64)
        base = float(np.asarray(calibrate(np.array([base_raw])))[0])
        per_column = phi @ self.mapping
        total = phi.sum(axis=1)
        safe = np.where(np.abs(total) > 1e-12, total, 1.0)
        scale = np.where(np.abs(total) > 1e-12, (probability - base) / safe, 0.0)
        values = pd.DataFrame(per_column * scale[:, None], columns=self.columns, index=records.index)
        return Contributions(base=base, values=values, probability=probability)


def global_importance(contributions: Contributions) -> dict[str, float]:
    """Mean |contribution| per contract column (probability points), largest first."""
    means = contributions.values.abs().mean(axis=0).sort_values(ascending=False)
    return {str(k): float(v) for k, v in means.items()}
