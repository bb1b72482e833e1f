"""Realised and label-free (CBPE) performance, and the drop the severity rule reads."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from attrition.data.generator import attrition_probability, generate_workforce
from attrition.drift.performance import (
    METRICS,
    MetricEstimate,
    as_binary_labels,
    estimated_performance,
    realised_performance,
)

THRESHOLD = 0.3


def test_realised_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    p = rng.beta(2, 6, 2000)
    y = (rng.random(2000) < p).astype(int)
    result = realised_performance(y, p, THRESHOLD)
    flagged = (p >= THRESHOLD).astype(int)
    assert result.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, p))
    assert result.metrics["recall"].value == pytest.approx(recall_score(y, flagged))
    assert result.metrics["precision"].value == pytest.approx(precision_score(y, flagged))
    for metric in result.metrics.values():
        assert metric.ci_low < metric.value < metric.ci_high
    assert result.positives == y.sum()


@pytest.mark.slow
def test_label_free_estimate_covers_the_realised_value() -> None:
    """Outcomes drawn from calibrated probabilities land inside the stated 95% interval.

    The interval is the simulated distribution of the realised metric, so the
    expected coverage is ~95% (Monte Carlo error in the percentiles and the
    discreteness of recall/precision move it by a point or two); 300
    repetitions put the 90% floor about 2.5 standard errors below that.
    """
    repetitions = 300
    inside = dict.fromkeys(METRICS, 0)
    widths = dict.fromkeys(METRICS, 0.0)
    for seed in range(repetitions):
        # The generator's Attrition is a Bernoulli draw from exactly these probabilities.
        p = attrition_probability(1000, 500 + seed)
        y = (generate_workforce(1000, 500 + seed)["Attrition"] == "Yes").to_numpy()
        estimate = estimated_performance(p, THRESHOLD, samples=1000, confidence_level=0.95, seed=seed)
        realised = realised_performance(y, p, THRESHOLD)
        for name in METRICS:
            est = estimate.metrics[name]
            inside[name] += est.ci_low <= realised.metrics[name].value <= est.ci_high
            widths[name] += (est.ci_high - est.ci_low) / repetitions
    for name in METRICS:
        assert inside[name] / repetitions >= 0.90, (name, inside[name])
        assert 0.01 < widths[name] < 0.25, (name, widths[name])  # informative, not vacuous


def test_label_free_point_estimate_is_unbiased() -> None:
    p = attrition_probability(20_000, 9)
    y = (generate_workforce(20_000, 9)["Attrition"] == "Yes").to_numpy()
    estimate = estimated_performance(p, THRESHOLD, samples=50)
    realised = realised_performance(y, p, THRESHOLD)
    for name in METRICS:
        assert estimate.metrics[name].value == pytest.approx(realised.metrics[name].value, abs=0.02)


def test_confident_drop_discounts_noise_in_both_figures() -> None:
    # Current 0.80 +- 0.04 (95%); reference 0.85 exact: drop 0.05 is within z*se (Bonferroni z ~ 2.39).
    metric = MetricEstimate(0.80, 0.76, 0.84, reference=0.85)
    assert metric.drop == pytest.approx(0.05)
    se = 0.04 / 1.959964
    assert metric.confident_drop == pytest.approx(max(0.0, 0.05 - 2.394 * se), abs=1e-3)
    far = MetricEstimate(0.70, 0.68, 0.72, reference=0.85)
    assert far.confident_drop == pytest.approx(0.15 - 2.394 * 0.02 / 1.959964, abs=1e-3)
    # An uncertain reference widens the allowance.
    uncertain = MetricEstimate(
        0.70, 0.68, 0.72, reference=0.85, reference_ci_low=0.75, reference_ci_high=0.95
    )
    assert 0.0 <= uncertain.confident_drop < far.confident_drop
    assert MetricEstimate(0.9, 0.88, 0.92, reference=0.85).confident_drop == 0.0
    assert MetricEstimate(0.9, 0.88, 0.92).confident_drop == 0.0


def test_binary_labels_accept_common_spellings_and_reject_the_rest() -> None:
    assert as_binary_labels(["Yes", "No", " yes "]).tolist() == [1, 0, 1]
    assert as_binary_labels(np.array([True, False])).tolist() == [1, 0]
    assert as_binary_labels([1.0, 0.0]).tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"got 2$"):
        as_binary_labels([0, 2])
    with pytest.raises(ValueError, match="got 'Left'"):
        as_binary_labels(["Yes", "Left"])
