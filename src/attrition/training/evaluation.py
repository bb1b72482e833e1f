"""Holdout metrics at the model's threshold, calibration error and bootstrap intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    fbeta_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from attrition.schema import ATTRITION_NO, ATTRITION_YES, TARGET

if TYPE_CHECKING:
    from attrition.serving.model import AttritionModel

METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "f1",
    "f2",
    "precision",
    "recall",
    "accuracy",
    "brier",
    "ece",
    "roc_auc_ci_low",
    "roc_auc_ci_high",
    "recall_ci_low",
    "recall_ci_high",
    "threshold",
)


def labels_of(frame: pd.DataFrame) -> np.ndarray:
    """``Attrition`` Yes/No -> 1/0; anything else is an error naming the values."""
    if TARGET not in frame.columns:
        raise ValueError(f"frame has no {TARGET} column: labels are needed to evaluate")
    values = frame[TARGET]
    bad = ~values.isin([ATTRITION_YES, ATTRITION_NO])
    if bad.any():
        raise ValueError(
            f"column {TARGET}: expected {ATTRITION_YES!r} or {ATTRITION_NO!r}, "
            f"got {sorted(map(str, values[bad].unique()))[:5]}"
        )
    return (values == ATTRITION_YES).to_numpy(dtype=np.int64)


def expected_calibration_error(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width probability bins of (bin share) x |observed rate - mean probability|."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    gaps = np.abs(
        np.bincount(index, weights=y, minlength=bins) - np.bincount(index, weights=p, minlength=bins)
    )
    # |sum(y) - sum(p)| per bin / N == share * |mean(y) - mean(p)|
    return float(gaps[counts > 0].sum() / p.size)


def confusion_counts(y_true: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, int]:
    """tn, fp, fn, tp when flagging ``probability >= threshold``."""
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(probability) >= threshold
    return {
        "tn": int((~y & ~pred).sum()),
        "fp": int((~y & pred).sum()),
        "fn": int((y & ~pred).sum()),
        "tp": int((y & pred).sum()),
    }


def bootstrap_intervals(
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    *,
    resamples: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Percentile bootstrap intervals for ROC-AUC and recall (resamples with one class are skipped).

    ROC-AUC is computed from ranks (Mann-Whitney), vectorised over resamples.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // max(p.size, 1))
    aucs: list[np.ndarray] = []
    recalls: list[np.ndarray] = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, p.size, size=(min(chunk, resamples - start), p.size))
        ys, ps = y[idx], p[idx]
        pos = ys.sum(axis=1).astype(np.float64)
        neg = p.size - pos
        ok = (pos > 0) & (neg > 0)
        ranks = rankdata(ps, axis=1)
        auc = ((ranks * ys).sum(axis=1) - pos * (pos + 1) / 2) / np.where(ok, pos * neg, 1.0)
        aucs.append(auc[ok])
        recalls.append(((ps >= threshold) & (ys == 1)).sum(axis=1)[ok] / pos[ok])
    tail = (1 - level) / 2 * 100
    auc_all, recall_all = np.concatenate(aucs), np.concatenate(recalls)
    if auc_all.size == 0:
        nan = float("nan")
        return {"roc_auc_ci_low": nan, "roc_auc_ci_high": nan, "recall_ci_low": nan, "recall_ci_high": nan}
    return {
        "roc_auc_ci_low": float(np.percentile(auc_all, tail)),
        "roc_auc_ci_high": float(np.percentile(auc_all, 100 - tail)),
        "recall_ci_low": float(np.percentile(recall_all, tail)),
        "recall_ci_high": float(np.percentile(recall_all, 100 - tail)),
    }


def classification_metrics(
    y_true: np.ndarray, probability: np.ndarray, threshold: float, *, resamples: int = 500, seed: int = 0
) -> dict[str, float]:
    """Every holdout metric of ``METRIC_NAMES``; both classes must be present."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    if np.unique(y).size < 2:
        raise ValueError("metrics need both classes (leavers and stayers) in the evaluation data")
    pred = (p >= threshold).astype(np.int64)
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(fbeta_score(y, pred, beta=1.0, zero_division=0)),
        "f2": float(fbeta_score(y, pred, beta=2.0, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "threshold": float(threshold),
    }
    metrics.update(bootstrap_intervals(y, p, threshold, resamples=resamples, seed=seed))
    return {name: metrics[name] for name in METRIC_NAMES}


def evaluate(
    model: AttritionModel, frame: pd.DataFrame, *, resamples: int = 500, seed: int = 0
) -> dict[str, float]:
    """Score ``model`` on labelled raw records (e.g. a champion on a challenger's holdout)."""
    return classification_metrics(
        labels_of(frame), model.predict_proba(frame), model.threshold, resamples=resamples, seed=seed
    )
