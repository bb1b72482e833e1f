"""Calibration of the drift verdict on synthetic workforces (the acceptance criteria).

* No drift: over 100 pairs of independent 1,000-row windows, severity >= moderate
  in at most 5% of runs.
* Each generator scenario at 1,000 rows per window: the features it moves are
  flagged, and severity >= moderate, in at least 95% of runs.

Runs carry the generator's true (calibrated) probabilities and outcomes, so
prediction drift, label-free and realised performance and fairness are part of
every verdict. The domain classifier is checked in its own, shorter loop.
"""

from __future__ import annotations

import pytest

from attrition.config import Settings, at_least
from attrition.data.generator import attrition_probability, generate_workforce
from attrition.data.scenarios import DRIFT_SCENARIOS
from attrition.drift import DriftResult, run_drift_analysis
from attrition.drift.windows import Window
from attrition.schema import TARGET

ROWS = 1000
NULL_RUNS = 100
SCENARIO_RUNS = 40
AFFECTED = {
    "pay_freeze": ["PercentSalaryHike"],
    "overtime_surge": ["OverTime"],
    "remote_hiring": ["DistanceFromHome"],
    "reorg": ["Department", "JobRole"],
}

pytestmark = pytest.mark.slow


@pytest.fixture
def loop_settings() -> Settings:
    settings = Settings()
    settings.monitoring.domain_classifier = False
    return settings


def _run(settings: Settings, reference_seed: int, current_seed: int, drift: str | None) -> DriftResult:
    reference = generate_workforce(ROWS, reference_seed)
    current = generate_workforce(ROWS, current_seed, drift=drift)
    return run_drift_analysis(
        Window(reference, "reference", attrition_probability(ROWS, reference_seed)),
        Window(
            current, "current", attrition_probability(ROWS, current_seed, drift), current[TARGET].to_numpy()
        ),
        settings,
    )


def test_every_scenario_has_expected_features() -> None:
    assert set(AFFECTED) == set(DRIFT_SCENARIOS)


def test_no_drift_false_alarm_rate_at_most_five_percent(loop_settings: Settings) -> None:
    alarms = []
    for i in range(NULL_RUNS):
        result = _run(loop_settings, 10_000 + 2 * i, 10_001 + 2 * i, None)
        assert result.status == "ok"
        if at_least(result.severity, "moderate"):
            alarms.append(result.reasons)
    assert len(alarms) <= NULL_RUNS * 0.05, alarms


@pytest.mark.parametrize("scenario", sorted(AFFECTED))
def test_scenario_detected_in_at_least_95_percent(scenario: str, loop_settings: Settings) -> None:
    found = dict.fromkeys(AFFECTED[scenario], 0)
    raised = 0
    for i in range(SCENARIO_RUNS):
        result = _run(loop_settings, 20_000 + 2 * i, 20_001 + 2 * i, scenario)
        for column in found:
            found[column] += column in result.drifted_features
        raised += at_least(result.severity, "moderate")
    for column, hits in found.items():
        assert hits >= 0.95 * SCENARIO_RUNS, (scenario, column, hits)
    assert raised >= 0.95 * SCENARIO_RUNS, (scenario, raised)


def test_domain_classifier_is_quiet_without_drift_and_sees_strong_shifts() -> None:
    settings = Settings()
    limit = settings.monitoring.severity.domain_auc_moderate
    null_aucs = []
    for i in range(12):
        result = run_drift_analysis(
            Window(generate_workforce(ROWS, 30_000 + 2 * i), "reference"),
            Window(generate_workforce(ROWS, 30_001 + 2 * i), "current"),
            settings,
        )
        assert result.domain is not None
        null_aucs.append(result.domain.roc_auc)
    assert max(null_aucs) < limit, null_aucs
    for scenario in ("pay_freeze", "remote_hiring"):
        result = run_drift_analysis(
            Window(generate_workforce(ROWS, 30_100), "reference"),
            Window(generate_workforce(ROWS, 30_101, drift=scenario), "current"),
            settings,
        )
        assert result.domain is not None and result.domain.roc_auc >= limit, (scenario, result.domain)
