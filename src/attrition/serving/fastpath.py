"""Fast single-record scoring: the fitted pipeline compiled to plain numpy, same numbers.

A one-row ``predict_proba`` through the sklearn pipeline spends milliseconds on
pandas, input validation and (for forests) joblib, none of which a validated
API record needs. ``FastPredictor`` reads the *fitted* pipeline of an
``AttritionModel`` once and rebuilds its arithmetic step by step from the
fitted attributes, in the same floating-point operation order:

* ``FeatureBuilder``: integer columns as float64, level indicators of the
  ordinal columns, one-hot blocks against the contract's categories, and the
  engineered features computed by the builder's own functions
  (``ENGINEERED[i].compute``) on the same float64 arrays.
* ``StandardScaler``: ``(x - mean_) / scale_``.
* ``LogisticRegression``: ``x @ coef_.T + intercept_`` (the decision function).
* ``RandomForestClassifier``: every tree walked at once (vectorised over
  trees), inputs cast to float32 as sklearn does, leaf class fractions summed
  tree by tree in estimator order, divided by the number of trees.
* ``HistGradientBoostingClassifier``: every predictor walked at once, leaf
  values summed iteration by iteration onto the baseline (the raw decision).
* ``CalibratedClassifierCV``: each calibrated member's response through its
  sigmoid (``expit(-(a*t + b))``) or isotonic map (clip, then the fitted
  ``interp1d``), averaged over members.

Anything else (another estimator, categorical splits, a transformer this module
does not know) makes ``FastPredictor`` fall back to the full pipeline for that
model, with one log line saying why. Every compiled path is checked against the
full pipeline on 64 probe records before it is used (relative tolerance 1e-9);
a mismatch also means fallback. Batches should use the full pipeline: past a
few records it is as fast and it is the reference.

scikit-learn: components are matched by class name within the ``sklearn``
package (a same-named class from elsewhere is not trusted), and the compiler
reads fitted attributes, some private: ``tree_`` arrays, ``_predictors`` and
``_baseline_prediction`` of the boosting model, ``calibrators`` of each
calibrated member, ``a_``/``b_`` of ``_SigmoidCalibration``, ``f_`` of
``IsotonicRegression``. Checked on 1.7, 1.8 and 1.9 (tests/test_api_fastpath.py
runs every family with both calibrations). A release that renames or changes
one of them raises here or fails the self-check: the model is served by the
full pipeline, and the log line names the scikit-learn version.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit

from attrition import features as features_module
from attrition.config import RISK_BAND_NAMES, RiskBands
from attrition.features import ENGINEERED, FeatureBuilder
from attrition.schema import EXAMPLE_RECORD, SPECS

if TYPE_CHECKING:  # what the compiler reads; dispatch is by class name, so no import at run time
    from sklearn.base import BaseEstimator
    from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from attrition.serving.model import AttritionModel

logger = logging.getLogger(__name__)

Records = Sequence[Mapping[str, Any]]
Matrix = Callable[[np.ndarray], np.ndarray]
PROBE_RECORDS = 64
RTOL = 1e-9


class Unsupported(Exception):
    """A pipeline component the fast path does not reproduce."""


# --- features --------------------------------------------------------------------------------


class _CompiledFeatures:
    """``FeatureBuilder.transform`` for a list of dict records, without pandas.

    Blocks in the builder's order: integer columns, ordinal level indicators,
    category indicators, engineered features (computed by the builder's own functions).
    """

    def __init__(self, builder: FeatureBuilder) -> None:
        if not hasattr(builder, "feature_names_out_"):
            raise Unsupported("feature builder is not fitted")
        by_name = {e.name: e for e in ENGINEERED}
        self.builder = builder
        self.engineered = [by_name[name] for name in builder.engineered_]
        self.integers: list[str] = list(builder.integer_columns_)
        sources = {str(s) for e in self.engineered for s in e.sources}
        self.numeric: list[str] = sorted(set(self.integers) | sources, key=list(SPECS).index)
        self.position = {c: i for i, c in enumerate(self.numeric)}
        self.integer_index = [self.position[c] for c in self.integers]
        self.sources = [(c, self.position[c]) for c in sorted(sources)]  # what the engineered features read
        levels: dict[str, tuple[int, ...]] = getattr(features_module, "ORDINAL_LEVELS", {})
        ordinal = [(col, level) for col in getattr(builder, "ordinal_columns_", []) for level in levels[col]]
        onehot = [(col, cat) for col in builder.categorical_columns_ for cat in SPECS[col].categories]
        self.indicators: list[tuple[str, str | int]] = [*ordinal, *onehot]
        self.categoricals: list[str] = list(builder.categorical_columns_)
        self.width = len(self.integers) + len(self.indicators) + len(self.engineered)
        if self.width != len(builder.feature_names_out_):
            made = len(builder.feature_names_out_)
            raise Unsupported(f"feature layout: {self.width} columns rebuilt, the builder makes {made}")

    def __call__(self, records: Records) -> np.ndarray:
        try:
            numbers = np.array([[r[c] for c in self.numeric] for r in records], dtype=np.float64)
            indicators = [
                [1.0 if r[col] == value else 0.0 for col, value in self.indicators] for r in records
            ]
            if any(r[col] is None for r in records for col in self.categoricals):
                missing = next(col for r in records for col in self.categoricals if r[col] is None)
                raise ValueError(f"column {missing}: missing value")
        except KeyError as missing:
            raise ValueError(
                f"missing column {missing.args[0]!r}: records need the contract columns"
            ) from None
        if np.isnan(numbers).any():
            raise ValueError("missing value in a numeric column")
        out = np.empty((len(records), self.width))
        ints, ind = len(self.integer_index), len(self.indicators)
        out[:, :ints] = numbers[:, self.integer_index]
        out[:, ints : ints + ind] = indicators
        values = {c: numbers[:, i] for c, i in self.sources}
        for j, feature in enumerate(self.engineered, start=ints + ind):
            out[:, j] = feature.compute(values, self.builder)
        return out


# --- transformers and estimators -------------------------------------------------------------


def _sklearn_name(component: object) -> str:
    """The class name of a scikit-learn component; ``""`` for a class from any other package."""
    cls = type(component)
    return cls.__name__ if cls.__module__.split(".")[0] == "sklearn" else ""


def _qualified(component: object) -> str:
    """``MinMaxScaler`` for scikit-learn's own classes, ``package.module.Name`` for the others."""
    cls = type(component)
    return _sklearn_name(component) or f"{cls.__module__}.{cls.__qualname__}"


def _scaler(step: StandardScaler) -> Matrix:
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None

    def transform(X: np.ndarray) -> np.ndarray:
        if mean is not None:
            X = X - mean
        if scale is not None:
            X = X / scale
        return X

    return transform


def _logistic(model: LogisticRegression) -> Matrix:
    if model.coef_.shape[0] != 1:
        raise Unsupported("logistic regression with more than two classes")
    coef_t, intercept = model.coef_.T, model.intercept_

    def decision(X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ coef_t + intercept).reshape(-1)

    return decision


class _Forest:
    """All trees' nodes in flat arrays; leaves point at themselves so a fixed number of steps suffices."""

    def __init__(
        self,
        feature: list[np.ndarray],
        threshold: list[np.ndarray],
        left: list[np.ndarray],
        right: list[np.ndarray],
        depth: int,
    ) -> None:
        offsets = np.cumsum([0] + [len(f) for f in feature[:-1]])
        self.roots = offsets.astype(np.intp)
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.left = np.concatenate([lft + off for lft, off in zip(left, offsets, strict=True)]).astype(
            np.intp
        )
        self.right = np.concatenate([rgt + off for rgt, off in zip(right, offsets, strict=True)]).astype(
            np.intp
        )
        self.depth = depth

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """(rows, trees) flat node index of the leaf each row reaches in each tree."""
        node = np.broadcast_to(self.roots, (X.shape[0], self.roots.size)).copy()
        rows = np.arange(X.shape[0])[:, None]
        for _ in range(self.depth):
            go_left = X[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return node


def _random_forest(model: RandomForestClassifier) -> Matrix:
    if model.n_outputs_ != 1 or len(model.classes_) != 2:
        raise Unsupported("random forest that is not a single binary output")
    features, thresholds, lefts, rights, values = [], [], [], [], []
    depth = 0
    for tree in (e.tree_ for e in model.estimators_):
        leaf = tree.children_left == -1
        index = np.arange(tree.node_count)
        features.append(np.where(leaf, 0, tree.feature))
        thresholds.append(np.where(leaf, np.inf, tree.threshold))
        lefts.append(np.where(leaf, index, tree.children_left))
        rights.append(np.where(leaf, index, tree.children_right))
        values.append(tree.value[:, 0, :])
        depth = max(depth, int(tree.max_depth))
    forest = _Forest(features, thresholds, lefts, rights, depth)
    leaf_values = np.concatenate(values)[:, 1]
    n_trees = len(model.estimators_)

    def positive_proba(X: np.ndarray) -> np.ndarray:
        X32 = X.astype(np.float32).astype(np.float64)
        per_tree = leaf_values[forest.leaves(X32)]
        total = np.add.accumulate(per_tree, axis=1)[:, -1]  # sequential, in estimator order
        return np.asarray(total / n_trees)

    return positive_proba


def _hist_boosting(model: HistGradientBoostingClassifier) -> Matrix:
    if model.n_trees_per_iteration_ != 1:
        raise Unsupported("gradient boosting with more than two classes")
    predictors = [p[0] for p in model._predictors]
    if any(p.nodes["is_categorical"].any() for p in predictors):
        raise Unsupported("gradient boosting with categorical splits")
    features, thresholds, lefts, rights, values = [], [], [], [], []
    depth = 0
    for predictor in predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        index = np.arange(len(nodes))
        features.append(np.where(leaf, 0, nodes["feature_idx"]))
        thresholds.append(np.where(leaf, np.inf, nodes["num_threshold"]))
        lefts.append(np.where(leaf, index, nodes["left"].astype(np.intp)))
        rights.append(np.where(leaf, index, nodes["right"].astype(np.intp)))
        values.append(nodes["value"])
        depth = max(depth, int(nodes["depth"].max()))
    forest = _Forest(features, thresholds, lefts, rights, depth)
    leaf_values = np.concatenate(values).astype(np.float64)
    baseline = float(np.asarray(model._baseline_prediction).reshape(-1)[0])

    def decision(X: np.ndarray) -> np.ndarray:
        if np.isnan(X).any():
            raise ValueError("missing value in the features")
        per_tree = leaf_values[forest.leaves(X)]
        start = np.full((X.shape[0], 1), baseline)
        return np.asarray(np.add.accumulate(np.hstack([start, per_tree]), axis=1)[:, -1])

    return decision


def _response(estimator: BaseEstimator) -> Matrix:
    """What ``CalibratedClassifierCV`` reads from a fitted final estimator."""
    name = _sklearn_name(estimator)
    if name == "LogisticRegression":
        return _logistic(estimator)
    if name == "HistGradientBoostingClassifier":
        return _hist_boosting(estimator)
    if name == "RandomForestClassifier":
        return _random_forest(estimator)
    raise Unsupported(f"estimator {_qualified(estimator)}")


def _transformer(step: BaseEstimator | str | None) -> Matrix:
    if step is None or step == "passthrough":
        return lambda X: X
    if _sklearn_name(step) == "StandardScaler":
        return _scaler(step)
    raise Unsupported(f"transformer {_qualified(step)}")


def _scorer(pipeline: Pipeline | FrozenEstimator) -> Callable[[Records], np.ndarray]:
    """Records -> the raw response (decision function or P(leave)) of a fitted features pipeline."""
    if _sklearn_name(pipeline) == "FrozenEstimator":
        pipeline = pipeline.estimator
    steps = [step for _, step in getattr(pipeline, "steps", [])]
    if len(steps) < 2 or not isinstance(steps[0], FeatureBuilder):
        raise Unsupported("pipeline does not start with the FeatureBuilder")
    features = _CompiledFeatures(steps[0])
    middle = [_transformer(step) for step in steps[1:-1]]
    final = _response(steps[-1])

    def score(records: Records) -> np.ndarray:
        X = features(records)
        for transform in middle:
            X = transform(X)
        return final(X)

    return score


def _calibrator(calibrator: _SigmoidCalibration | IsotonicRegression) -> Matrix:
    name = _sklearn_name(calibrator)
    if name == "_SigmoidCalibration":
        a, b = calibrator.a_, calibrator.b_
        return lambda t: np.asarray(expit(-(a * t + b)))
    if name == "IsotonicRegression":
        if calibrator.out_of_bounds not in ("clip", "nan"):
            raise Unsupported(f"isotonic calibration with out_of_bounds={calibrator.out_of_bounds!r}")
        clip = calibrator.out_of_bounds == "clip"
        low, high = calibrator.X_min_, calibrator.X_max_

        def isotonic(t: np.ndarray) -> np.ndarray:
            t = t.astype(calibrator.X_thresholds_.dtype)
            if clip:
                t = np.clip(t, low, high)
            return np.asarray(calibrator.f_(t)).astype(t.dtype)

        return isotonic
    raise Unsupported(f"calibrator {_qualified(calibrator)}")


def compile_pipeline(pipeline: CalibratedClassifierCV) -> Callable[[Records], np.ndarray]:
    """Records -> calibrated P(leave) for a ``CalibratedClassifierCV`` over a features pipeline.

    Raises ``Unsupported`` naming the first component it cannot reproduce.
    """
    if _sklearn_name(pipeline) != "CalibratedClassifierCV":
        raise Unsupported(f"model pipeline {_qualified(pipeline)} (expected CalibratedClassifierCV)")
    if len(pipeline.classes_) != 2:
        raise Unsupported("calibrated classifier that is not binary")
    members = []
    for member in pipeline.calibrated_classifiers_:
        if len(member.calibrators) != 1:
            raise Unsupported("calibrated member with more than one calibrator")
        members.append((_scorer(member.estimator), _calibrator(member.calibrators[0])))
    count = len(members)

    def predict(records: Records) -> np.ndarray:
        total = np.zeros(len(records))
        for score, calibrate in members:
            proba = calibrate(score(records))
            proba = np.where((proba > 1.0) & (proba <= 1.0 + 1e-5), 1.0, proba)
            total += proba
        return total / count

    return predict


# --- the predictor ---------------------------------------------------------------------------


def _sklearn_version() -> str:
    """The installed scikit-learn's version, for the fallback log line."""
    try:
        return importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def probe_records(count: int = PROBE_RECORDS, seed: int = 0) -> list[dict[str, Any]]:
    """Deterministic varied records for the self-check: example first, then random in-contract values."""
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = [dict(EXAMPLE_RECORD)]
    for _ in range(count - 1):
        record = dict(EXAMPLE_RECORD)
        for name, spec in SPECS.items():
            if spec.kind == "categorical":
                record[name] = spec.categories[int(rng.integers(len(spec.categories)))]
            elif spec.kind == "integer" and spec.soft_min is not None and spec.soft_max is not None:
                record[name] = int(rng.integers(spec.soft_min, spec.soft_max + 1))
        records.append(record)
    return records


class FastPredictor:
    """Calibrated probability, label and risk band for a few dict records.

    ``compiled`` says whether the numpy path is in use; ``reason`` says why not.
    """

    def __init__(self, model: AttritionModel) -> None:
        self.model = model
        self.threshold = float(model.threshold)
        self.bands: RiskBands = model.risk_bands
        self.compiled = False
        self.reason: str | None = None
        self._predict: Callable[[Records], np.ndarray] = self._full
        try:
            compiled = compile_pipeline(model.pipeline)
            self._verify(compiled)
        except Exception as error:  # anything the compiler cannot follow means: use the full pipeline
            self.reason = f"{type(error).__name__}: {error}"
            logger.warning(
                "fast path disabled for this model (scikit-learn %s), using the full pipeline (%s)",
                _sklearn_version(),
                self.reason,
            )
            return
        self._predict = compiled
        self.compiled = True

    def _full(self, records: Records) -> np.ndarray:
        return np.asarray(
            self.model.predict_proba(pd.DataFrame.from_records(list(records))), dtype=np.float64
        )

    def _verify(self, compiled: Callable[[Records], np.ndarray]) -> None:
        records = probe_records()
        expected = self._full(records)
        one_by_one = np.concatenate([compiled([r]) for r in records])
        together = compiled(records)
        for got in (one_by_one, together):
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=RTOL, atol=0.0):
                worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("nan")
                raise ValueError(f"compiled path differs from the pipeline (max abs difference {worst:.3g})")

    def predict_proba(self, records: Records) -> np.ndarray:
        """Calibrated P(leave) per record (1-D), equal to ``model.predict_proba`` on the same records."""
        return self._predict(records)

    def band(self, probability: float) -> str:
        """Risk band of one probability (same rule as ``attrition.serving.model.risk_band_of``)."""
        low, medium, high, critical = RISK_BAND_NAMES
        if probability >= self.bands.critical:
            return critical
        if probability >= self.bands.high:
            return high
        if probability >= self.bands.medium:
            return medium
        return low

    def predict(self, records: Records) -> list[tuple[float, bool, str]]:
        """(probability, label at the model's threshold, risk band) per record."""
        return [
            (float(p), bool(p >= self.threshold), self.band(float(p))) for p in self.predict_proba(records)
        ]
