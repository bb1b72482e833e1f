"""Model performance in the current window: realised with outcomes, estimated without.

Realised (labels known): ROC-AUC with a Hanley-McNeil interval, recall and
precision at the decision threshold with Wilson intervals.

Estimated (labels months away), confidence-based performance estimation as in
NannyML's CBPE: if the probabilities are calibrated, employee *i* leaves with
probability p_i, so the expected confusion matrix at the threshold is known:
expected TP = sum of p over flagged rows, FN = sum of p over the rest, and so
on. Point estimates are those expectations (ROC-AUC from the expected TPR/FPR
curve). The interval comes from simulation: draw outcomes y_i ~ Bernoulli(p_i)
``performance_samples`` times, compute the realised metric for each draw, take
the central ``confidence_level`` percentile interval (windows so large that
this would exceed 2e8 draws use fewer samples, at least 200). If calibration holds, the
realised value falls inside it at about that rate; it does not see concept
drift (a changed relation between features and leaving), only covariate shift.

A *confident drop* is the drop beyond what the noise of both figures explains:
``(reference - current) - z * sqrt(se_ref**2 + se_cur**2)``, floored at 0, each
standard error read off its interval and ``z`` Bonferroni-corrected over the
three metrics. Noise alone rarely produces one (a one-sided test at
(1 - confidence_level) / 6 per metric), so the severity rule uses it instead
of the raw difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

#: Metrics compared with the reference (holdout) figures.
METRICS: tuple[str, ...] = ("roc_auc", "recall", "precision")

#: Largest label matrix simulated at once (samples x rows).
_CHUNK_CELLS = 4_000_000
#: Most outcome draws simulated per estimate (samples x rows): huge windows get fewer
#: samples (never under _MIN_SAMPLES); their intervals are narrow and smooth anyway.
_MAX_CELLS = 200_000_000
_MIN_SAMPLES = 200


@dataclass
class MetricEstimate:
    """One metric in the current window, its interval and the reference figure."""

    value: float
    ci_low: float
    ci_high: float
    reference: float | None = None
    reference_ci_low: float | None = None
    reference_ci_high: float | None = None
    confidence_level: float = 0.95

    @property
    def drop(self) -> float | None:
        """Reference minus current (positive = worse)."""
        return None if self.reference is None else self.reference - self.value

    @property
    def confident_drop(self) -> float:
        """The drop beyond what noise in both figures explains (0 when within it).

        ``drop - z * sqrt(se_ref**2 + se_cur**2)``, each standard error read off
        its interval (``width / 2z``; a reference without an interval counts as
        exact); ``z`` is Bonferroni-corrected over the compared metrics.
        """
        if self.drop is None or not np.isfinite(self.ci_high - self.ci_low):
            return 0.0
        z = _z(self.confidence_level)
        se_current = (self.ci_high - self.ci_low) / (2 * z)
        se_reference = 0.0
        if self.reference_ci_low is not None and self.reference_ci_high is not None:
            se_reference = (self.reference_ci_high - self.reference_ci_low) / (2 * z)
        z_test = _z(1 - (1 - self.confidence_level) / len(METRICS))
        return max(0.0, self.drop - z_test * float(np.hypot(se_current, se_reference)))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop, "confident_drop": self.confident_drop}


@dataclass
class PerformanceResult:
    """Realised or estimated metrics of one window against the reference figures."""

    kind: Literal["realised", "estimated"]
    rows: int
    threshold: float
    confidence_level: float
    metrics: dict[str, MetricEstimate] = field(default_factory=dict)
    positives: float | None = None

    @property
    def max_confident_drop(self) -> float:
        return max((m.confident_drop for m in self.metrics.values()), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "threshold": self.threshold,
            "confidence_level": self.confidence_level,
            "positives": self.positives,
            "max_confident_drop": self.max_confident_drop,
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }


_LABEL_WORDS = {"yes": 1, "no": 0, "true": 1, "false": 0, "1": 1, "0": 0}


def as_binary_labels(labels: Any) -> np.ndarray:
    """0/1 labels from bools, 0/1 or "Yes"/"No"; a clear error for anything else."""
    array = np.asarray(labels).reshape(-1)
    if array.dtype.kind in "biuf":
        numbers = array.astype(float)
        bad = ~np.isin(numbers, (0.0, 1.0))
        mapped = pd.Series(numbers)
    else:  # map the few distinct spellings, not every row
        codes, spellings = pd.factorize(array, use_na_sentinel=False)
        words = pd.Series(spellings.astype(str)).str.strip().str.lower().map(_LABEL_WORDS).to_numpy()
        mapped = pd.Series(words[codes], dtype=float)
        bad = mapped.isna().to_numpy()
    if bad.any():
        value = array[np.argmax(bad)]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"current_labels: expected 0/1, booleans or 'Yes'/'No'; got {value!r}")
    return mapped.to_numpy(dtype=np.int8)


def _z(confidence_level: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def wilson_interval(successes: float, trials: float, confidence_level: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (nan when there are no trials)."""
    if trials <= 0:
        return float("nan"), float("nan")
    z = _z(confidence_level)
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def hanley_mcneil_interval(
    auc: float, positives: int, negatives: int, confidence_level: float
) -> tuple[float, float]:
    """Normal interval of a ROC-AUC from the Hanley-McNeil (1982) standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives
    )
    half = _z(confidence_level) * np.sqrt(max(variance, 0.0))
    return float(max(0.0, auc - half)), float(min(1.0, auc + half))


def _rank_auc(ranks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row of a 0/1 label matrix from the (tied-average) score ranks."""
    positives = labels.sum(axis=-1).astype(float)
    negatives = labels.shape[-1] - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        return (labels @ ranks - positives * (positives + 1) / 2) / (positives * negatives)


def realised_performance(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, confidence_level: float = 0.95
) -> PerformanceResult:
    """ROC-AUC, recall and precision on known outcomes, each with its interval."""
    y = as_binary_labels(labels)
    p = np.asarray(probabilities, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels: expected {p.size} values (one per probability), got {y.size}")
    flagged = p >= threshold
    positives, negatives = int(y.sum()), int(y.size - y.sum())
    true_pos = int(y[flagged].sum())
    result = PerformanceResult("realised", int(y.size), threshold, confidence_level, positives=positives)
    if positives and negatives:
        auc = float(_rank_auc(stats.rankdata(p), y.astype(float)))
        low, high = hanley_mcneil_interval(auc, positives, negatives, confidence_level)
        result.metrics["roc_auc"] = MetricEstimate(auc, low, high, confidence_level=confidence_level)
    if positives:
        low, high = wilson_interval(true_pos, positives, confidence_level)
        result.metrics["recall"] = MetricEstimate(
            true_pos / positives, low, high, confidence_level=confidence_level
        )
    if flagged.any():
        low, high = wilson_interval(true_pos, int(flagged.sum()), confidence_level)
        result.metrics["precision"] = MetricEstimate(
            true_pos / int(flagged.sum()), low, high, confidence_level=confidence_level
        )
    return result


def _expected_auc(probabilities: np.ndarray) -> float:
    """CBPE ROC-AUC: area under the expected TPR/FPR curve."""
    order = np.argsort(-probabilities, kind="stable")
    p = probabilities[order]
    tpr = np.r_[0.0, np.cumsum(p) / p.sum()]
    fpr = np.r_[0.0, np.cumsum(1 - p) / (1 - p).sum()]
    return float(np.trapezoid(tpr, fpr))


def _simulate(
    p: np.ndarray, flagged: np.ndarray, samples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Realised metrics of ``samples`` outcome draws y ~ Bernoulli(p), in chunks.

    The draws go into one reused buffer and outcomes stay boolean until the rank sum;
    the float64 rank sum is exact (ranks are multiples of 0.5), so the chunk size
    never changes a result.
    """
    ranks = stats.rankdata(p)
    p32 = p.astype(np.float32)
    chunk = max(1, min(samples, _CHUNK_CELLS // max(p.size, 1)))
    draws = np.empty((chunk, p.size), dtype=np.float32)
    results = {name: np.empty(samples) for name in METRICS}
    n_flagged, n = float(flagged.sum()), p.size
    for done in range(0, samples, chunk):
        size = min(chunk, samples - done)
        rng.random(out=draws[:size], dtype=np.float32)
        outcomes = draws[:size] < p32
        positives = np.count_nonzero(outcomes, axis=1).astype(float)
        true_pos = np.count_nonzero(outcomes & flagged, axis=1).astype(float)
        rank_sums = outcomes.astype(np.float64) @ ranks
        part = slice(done, done + size)
        with np.errstate(divide="ignore", invalid="ignore"):
            results["recall"][part] = true_pos / positives
            results["precision"][part] = true_pos / n_flagged
            results["roc_auc"][part] = (rank_sums - positives * (positives + 1) / 2) / (
                positives * (n - positives)
            )
    return results


def estimated_performance(
    probabilities: np.ndarray,
    threshold: float,
    *,
    samples: int = 300,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> PerformanceResult:
    """Label-free ROC-AUC, recall and precision (CBPE) with simulated intervals."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    flagged = p >= threshold
    expected_positives = float(p.sum())
    result = PerformanceResult(
        "estimated", int(p.size), threshold, confidence_level, positives=expected_positives
    )
    if p.size == 0 or expected_positives == 0:
        return result
    samples = min(samples, max(_MIN_SAMPLES, _MAX_CELLS // p.size))
    draws = _simulate(p, flagged, samples, np.random.default_rng(seed))
    tail = (1 - confidence_level) / 2 * 100
    points = {
        "roc_auc": _expected_auc(p) if expected_positives < p.size else float("nan"),
        "recall": float(p[flagged].sum() / expected_positives),
        "precision": float(p[flagged].mean()) if flagged.any() else float("nan"),
    }
    for name, point in points.items():
        finite = draws[name][np.isfinite(draws[name])]
        if np.isnan(point) or finite.size == 0:
            continue
        low, high = np.percentile(finite, [tail, 100 - tail])
        result.metrics[name] = MetricEstimate(
            point, float(low), float(high), confidence_level=confidence_level
        )
    return result


def with_reference(
    result: PerformanceResult, reference_metrics: dict[str, float] | None
) -> PerformanceResult:
    """Attach each metric's reference figure and, when given, its interval.

    ``reference_metrics`` uses the training metric names: ``roc_auc`` with
    optional ``roc_auc_ci_low`` / ``roc_auc_ci_high``, likewise recall, precision.
    """
    figures = reference_metrics or {}
    for name, metric in result.metrics.items():
        value, low, high = (figures.get(k) for k in (name, f"{name}_ci_low", f"{name}_ci_high"))
        metric.reference = None if value is None else float(value)
        metric.reference_ci_low = None if low is None else float(low)
        metric.reference_ci_high = None if high is None else float(high)
    return result


def as_reference_metrics(result: PerformanceResult) -> dict[str, float]:
    """Realised metrics in the reference-figure form ``with_reference`` reads."""
    figures: dict[str, float] = {}
    for name, metric in result.metrics.items():
        figures |= {name: metric.value, f"{name}_ci_low": metric.ci_low, f"{name}_ci_high": metric.ci_high}
    return figures
