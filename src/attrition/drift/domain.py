"""Multivariate drift: can a classifier tell reference rows from current rows?

Per-column tests miss shifts that live in the joint distribution (same
marginals, new combinations) and many small shifts that are each below a
column's bar. A gradient-boosted classifier trained to separate the windows
catches both; its cross-validated ROC-AUC is ~0.5 when the windows are alike
and grows with the shift. Rows are capped per window (random, seeded) so the
check costs about the same at 1k and 1M rows.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from attrition.config import MonitoringSettings
from attrition.schema import SPECS

logger = logging.getLogger(__name__)

#: HistGradientBoosting takes at most 255 bins per categorical feature; rarer labels count as missing.
_MAX_CATEGORY_CODES = 250


@dataclass
class DomainClassifierResult:
    """Cross-validated ROC-AUC of reference-vs-current, with what it was fitted on."""

    roc_auc: float
    reference_rows: int
    current_rows: int
    columns: list[str]
    folds: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encode(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as floats, categories as codes shared by both windows; NaN stays NaN."""
    encoded = {}
    categorical = []
    for column in columns:
        series = frame[column]
        if SPECS[column].kind == "categorical":
            codes = pd.Categorical(series.astype("string")).codes.astype(float)
            codes[(codes < 0) | (codes >= _MAX_CATEGORY_CODES)] = np.nan
            encoded[column] = codes
            categorical.append(True)
        else:
            encoded[column] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            categorical.append(False)
    return np.column_stack([encoded[c] for c in columns]), np.array(categorical)


def domain_classifier_auc(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], settings: MonitoringSettings
) -> DomainClassifierResult | None:
    """Cross-validated AUC of a classifier separating the windows; None when not possible."""
    if not columns or not settings.domain_classifier:
        return None
    cap = settings.domain_classifier_max_rows
    ref = reference.sample(n=cap, random_state=settings.seed) if len(reference) > cap else reference
    cur = current.sample(n=cap, random_state=settings.seed + 1) if len(current) > cap else current
    folds = settings.domain_classifier_folds
    if min(len(ref), len(cur)) < folds * 2:
        return None
    both = pd.concat([ref[columns], cur[columns]], ignore_index=True)
    features, categorical = _encode(both, columns)
    target = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    model = HistGradientBoostingClassifier(
        max_iter=60,
        max_depth=3,
        learning_rate=0.1,
        categorical_features=categorical if categorical.any() else None,
        early_stopping=False,
        random_state=settings.seed,
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=settings.seed)
    # One OpenMP thread: on a shared machine more threads oversubscribe and run 50x slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(model, features, target, cv=splitter, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(target, scores))
    logger.debug("domain classifier AUC %.3f on %d + %d rows", auc, len(ref), len(cur))
    return DomainClassifierResult(auc, len(ref), len(cur), list(columns), folds)
