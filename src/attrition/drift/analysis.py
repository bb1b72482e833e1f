"""One entry point: compare a current window with the reference and give a verdict."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from attrition.config import MonitoringSettings, RiskBands, Settings
from attrition.drift.domain import domain_classifier_auc
from attrition.drift.fairness_drift import fairness_drift
from attrition.drift.features import SchemaCheck, feature_drift
from attrition.drift.performance import (
    PerformanceResult,
    as_binary_labels,
    as_reference_metrics,
    estimated_performance,
    realised_performance,
    with_reference,
)
from attrition.drift.prediction_drift import prediction_drift
from attrition.drift.result import DriftResult
from attrition.drift.severity import assess_severity
from attrition.drift.windows import DriftInputError, Window
from attrition.schema import ATTRITION_YES, FEATURE_COLUMNS, TARGET
from attrition.serving.model import risk_band_of

logger = logging.getLogger(__name__)


def _probabilities(values: Any, rows: int, name: str, *, unscored_ok: bool = False) -> np.ndarray | None:
    """A 1-D float array in [0, 1] with one value per row (NaN: row not scored, if allowed)."""
    if values is None:
        return None
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size != rows:
        raise ValueError(f"{name}: expected {rows} probabilities (one per row), got {array.size}")
    present = array[~np.isnan(array)] if unscored_ok else array
    if np.isnan(present).any() or (present < 0).any() or (present > 1).any():
        raise ValueError(f"{name}: expected probabilities in [0, 1] without NaN")
    return array


def _known_labels(labels: Any, rows: int) -> np.ndarray | None:
    """Outcomes as floats 0/1 with NaN where unknown (None, NaN), one per current row."""
    if labels is None:
        return None
    series = pd.Series(np.asarray(labels).reshape(-1))
    if series.size != rows:
        raise ValueError(f"current_labels: expected {rows} labels (one per row), got {series.size}")
    known = series.notna().to_numpy()
    out = np.full(rows, np.nan)
    if known.any():
        values = series[known]
        out[known] = as_binary_labels(values.to_numpy(dtype=float) if values.dtype.kind in "biuf" else values)
    return out


def _parameters(settings: Settings) -> dict[str, Any]:
    m = settings.monitoring
    return {
        "min_rows": m.min_rows,
        "false_discovery_rate": m.false_discovery_rate,
        "min_psi": m.min_psi,
        "min_wasserstein": m.min_wasserstein,
        "min_jensen_shannon": m.min_jensen_shannon,
        "max_ordinal_levels": m.max_ordinal_levels,
        "psi_bins": m.psi_bins,
        "domain_classifier": m.domain_classifier,
        "severity_thresholds": m.severity.model_dump(),
    }


def _reference_labels(reference: pd.DataFrame) -> np.ndarray | None:
    """0/1 outcomes of the reference window when it carries a complete target column."""
    if TARGET not in reference.columns or reference[TARGET].isna().any():
        return None
    return (reference[TARGET] == ATTRITION_YES).to_numpy(dtype=np.int8)


def _reference_metrics(
    reference: pd.DataFrame,
    probabilities: np.ndarray | None,
    threshold: float,
    given: dict[str, float] | None,
) -> dict[str, float] | None:
    """The holdout figures when given, else realised metrics on a labelled reference window."""
    labels = _reference_labels(reference)
    if given is not None or probabilities is None or labels is None:
        return given
    return as_reference_metrics(realised_performance(labels, probabilities, threshold))


def _performance(
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    threshold: float,
    figures: dict[str, float] | None,
    m: MonitoringSettings,
) -> tuple[PerformanceResult, PerformanceResult | None]:
    """Label-free estimate always; realised metrics too when outcomes are known."""
    estimated = estimated_performance(
        probabilities,
        threshold,
        samples=m.performance_samples,
        confidence_level=m.confidence_level,
        seed=m.seed,
    )
    realised = None
    # Realised metrics on the rows whose outcome is known, when there are enough of them.
    known = None if labels is None else ~np.isnan(labels)
    if labels is not None and known is not None and known.sum() >= m.min_rows:
        realised = with_reference(
            realised_performance(
                labels[known].astype(np.int8), probabilities[known], threshold, m.confidence_level
            ),
            figures,
        )
    return with_reference(estimated, figures), realised


def _checked(reference: Window, current: Window) -> tuple[Window, Window]:
    """The windows with probabilities and labels as validated float arrays (ValueError naming the bad one)."""
    ref_rows, cur_rows = len(reference.frame), len(current.frame)
    ref_p = _probabilities(reference.probabilities, ref_rows, "reference_probabilities")
    cur_p = _probabilities(current.probabilities, cur_rows, "current_probabilities", unscored_ok=True)
    return (
        replace(reference, probabilities=ref_p),
        replace(current, probabilities=cur_p, labels=_known_labels(current.labels, cur_rows)),
    )


def _model_checks(
    result: DriftResult,
    reference: Window,
    current: Window,
    settings: Settings,
    threshold: float,
    bands: RiskBands,
    reference_metrics: dict[str, float] | None,
) -> None:
    """Prediction drift, fairness over time and performance, on the current rows the champion scored."""
    m = settings.monitoring
    ref_p, cur_p = reference.probabilities, current.probabilities
    if cur_p is None:
        return
    scored = ~np.isnan(cur_p)  # out-of-contract rows cannot be scored
    cur_p = cur_p[scored]
    # Fairness reads the protected attributes only: copy those columns, not a 1M-row frame.
    protected = [c for c in settings.training.protected_attributes if c in current.frame.columns]
    scored_current = current.frame.loc[scored, protected]
    known = None if current.labels is None else current.labels[scored]
    complete = None if known is None or np.isnan(known).any() else known.astype(np.int8)
    if ref_p is not None:
        result.prediction = prediction_drift(
            ref_p, cur_p, risk_band_of(ref_p, bands), risk_band_of(cur_p, bands), m
        )
        result.fairness = fairness_drift(
            reference.frame,
            scored_current,
            ref_p >= threshold,
            cur_p >= threshold,
            m,
            settings.training,
            current_labels=complete,
            reference_labels=_reference_labels(reference.frame),
        )
    figures = _reference_metrics(reference.frame, ref_p, threshold, reference_metrics)
    result.estimated_performance, result.performance = _performance(cur_p, known, threshold, figures, m)


def _insufficient(reference_rows: int, current_rows: int, settings: Settings) -> DriftResult | None:
    """The "no verdict" result when a window is under ``monitoring.min_rows``, else None."""
    needed = settings.monitoring.min_rows
    if min(reference_rows, current_rows) >= needed:
        return None
    return DriftResult(
        status="insufficient_data",
        severity=None,
        message=(
            f"Reference has {reference_rows:,} rows and current {current_rows:,}; at least "
            f"{needed:,} rows in each window are needed for a verdict (monitoring.min_rows)."
        ),
        reference_rows=reference_rows,
        current_rows=current_rows,
        parameters=_parameters(settings),
    )


def _data_checks(
    reference: Window, current: Window, settings: Settings, importance: dict[str, float] | None
) -> tuple[DriftResult, SchemaCheck]:
    """Feature drift, the data's schema and quality, and the domain classifier: no model needed."""
    m = settings.monitoring
    features, schema = feature_drift(reference.frame, current.frame, m, importance)
    result = DriftResult(
        status="ok",
        severity="none",
        features=features,
        schema=schema,
        reference_rows=len(reference.frame),
        current_rows=len(current.frame),
        parameters=_parameters(settings),
    )
    tested = [f.column for f in features if f.tested]
    result.domain = domain_classifier_auc(reference.frame, current.frame, tested, m)
    return result, schema


def _require_feature_columns(current: Window) -> None:
    """A file with the wrong header is an input error, not drift: the check cannot be done on it."""
    absent = [c for c in FEATURE_COLUMNS if c not in current.frame.columns]
    if absent:
        raise DriftInputError(
            f"the current window ({current.description}) lacks {len(absent)} contract feature column(s): "
            f"{', '.join(absent)}; a CSV with the record contract's header is expected (`attrition generate` writes one)"
        )


def run_drift_analysis(
    reference: Window,
    current: Window,
    settings: Settings,
    *,
    threshold: float | None = None,
    bands: RiskBands | None = None,
    reference_metrics: dict[str, float] | None = None,
    importance: dict[str, float] | None = None,
) -> DriftResult:
    """Feature, prediction, performance and fairness drift of ``current`` vs ``reference``.

    Each window's ``probabilities`` are the champion's on its rows (NaN in the current
    window: a row it could not score, left out of the model-side checks); with them come
    prediction drift, the label-free performance estimate and fairness over time. The
    current ``labels`` (0/1, bool or "Yes"/"No", NaN/None where unknown) add realised
    performance on the known rows (at least ``min_rows``) and, when all are known, equal
    opportunity. ``threshold``: the champion's (default: the "high" band's lower bound);
    ``bands``: its risk bands (default: settings); ``reference_metrics``: its holdout
    figures (default: realised on a labelled reference); ``importance``: its global
    importance, which weights the drifted share. A window under ``monitoring.min_rows``
    gives status "insufficient_data" and no severity. A current window without every
    contract feature column cannot be compared: DriftInputError naming them (never a verdict).
    """
    _require_feature_columns(current)
    insufficient = _insufficient(len(reference.frame), len(current.frame), settings)
    if insufficient is not None:
        return insufficient
    reference, current = _checked(reference, current)
    bands = bands or settings.training.risk_bands
    threshold = bands.high if threshold is None else float(threshold)
    result, schema = _data_checks(reference, current, settings, importance)
    _model_checks(result, reference, current, settings, threshold, bands, reference_metrics)
    assessment = assess_severity(
        result.features,
        schema,
        settings.monitoring.severity,
        domain=result.domain,
        prediction=result.prediction,
        performance=result.performance or result.estimated_performance,
        fairness=result.fairness,
    )
    result.severity, result.reasons = assessment.level, assessment.sorted_reasons()
    logger.info(
        "drift analysis: severity %s, %d drifted feature(s), %d + %d rows",
        result.severity,
        len(result.drifted_features),
        result.reference_rows,
        result.current_rows,
    )
    return result
