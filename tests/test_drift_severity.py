"""The documented severity rule, signal by signal."""

from __future__ import annotations

import pytest

from attrition.config import SeverityThresholds, at_least
from attrition.drift.domain import DomainClassifierResult
from attrition.drift.features import FeatureDrift, SchemaCheck
from attrition.drift.performance import MetricEstimate, PerformanceResult
from attrition.drift.prediction_drift import PredictionDrift
from attrition.drift.severity import assess_severity

T = SeverityThresholds()
NO_SCHEMA_ISSUES = SchemaCheck([], [], [])


def _features(drifted_weights: list[float], clean_weights: list[float]) -> list[FeatureDrift]:
    features = [
        FeatureDrift(f"d{i}", "continuous", p_value=0.0, drifted=True, weight=w, current_rows=500)
        for i, w in enumerate(drifted_weights)
    ]
    features += [
        FeatureDrift(f"c{i}", "continuous", p_value=0.5, weight=w, current_rows=500)
        for i, w in enumerate(clean_weights)
    ]
    return features


@pytest.mark.parametrize(
    ("drifted", "clean", "expected"),
    [
        ([], [0.5, 0.5], "none"),
        ([0.05], [0.95], "moderate"),  # any drifted feature
        ([0.30], [0.70], "severe"),  # weighted share >= 0.25
        ([0.30, 0.25], [0.45], "critical"),  # weighted share >= 0.50
    ],
)
def test_feature_share_levels(drifted: list[float], clean: list[float], expected: str) -> None:
    assert assess_severity(_features(drifted, clean), NO_SCHEMA_ISSUES, T).level == expected


def _prediction(psi: float, drifted: bool) -> PredictionDrift:
    return PredictionDrift(500, 500, 0.15, 0.25, 0.2, 0.0, psi, drifted, None, None, 0.0, False)


def test_prediction_domain_and_performance_signals() -> None:
    clean = _features([], [1.0])
    assert assess_severity(clean, NO_SCHEMA_ISSUES, T, prediction=_prediction(0.15, True)).level == "moderate"
    assert assess_severity(clean, NO_SCHEMA_ISSUES, T, prediction=_prediction(0.30, True)).level == "severe"
    assert assess_severity(clean, NO_SCHEMA_ISSUES, T, prediction=_prediction(0.30, False)).level == "none"
    domain = DomainClassifierResult(0.65, 500, 500, ["Age"], 3)
    assert assess_severity(clean, NO_SCHEMA_ISSUES, T, domain=domain).level == "moderate"
    domain.roc_auc = 0.85
    assert assess_severity(clean, NO_SCHEMA_ISSUES, T, domain=domain).level == "severe"
    for current, expected in ((0.84, "none"), (0.805, "moderate"), (0.77, "severe"), (0.70, "critical")):
        perf = PerformanceResult("realised", 500, 0.5, 0.95)
        perf.metrics["roc_auc"] = MetricEstimate(current, current - 0.01, current + 0.01, reference=0.85)
        assessment = assess_severity(clean, NO_SCHEMA_ISSUES, T, performance=perf)
        assert assessment.level == expected, (current, assessment.reasons)


def test_quality_signals_and_reasons_sorted_highest_first() -> None:
    features = _features([0.1], [0.9])
    features[1].current_out_of_contract_rate = 0.02
    assessment = assess_severity(features, SchemaCheck(["OverTime"], [], ["Bonus"]), T)
    assert assessment.level == "severe"
    reasons = assessment.sorted_reasons()
    assert reasons[0].startswith("severe: feature column(s) absent from current: OverTime")
    assert any(r.startswith("moderate: out-of-contract values") for r in reasons)


def test_at_least() -> None:
    assert at_least("severe", "moderate") and at_least("moderate", "moderate")
    assert not at_least("none", "moderate") and not at_least(None, "none")
