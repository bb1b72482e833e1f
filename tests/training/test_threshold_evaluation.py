"""Threshold rules on known cases; metrics, ECE and bootstrap intervals against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import fbeta_score, recall_score, roc_auc_score

from attrition.training.evaluation import (
    METRIC_NAMES,
    bootstrap_intervals,
    classification_metrics,
    confusion_counts,
    expected_calibration_error,
)
from attrition.training.threshold import choose_threshold

# Three leavers, five stayers. Flagging p >= 0.3 catches every leaver with one false alarm.
Y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.05, 0.01])


def test_f2_rule_picks_the_f2_optimal_threshold_on_a_toy_case() -> None:
    choice = choose_threshold(Y, P, "f2")
    assert choice.threshold == 0.3
    assert choice.score == pytest.approx(15 / 16)  # 5*3 / (5*3 + 4*0 + 1)
    assert choice.recall == 1.0 and choice.precision == 0.75 and choice.flagged_rate == 0.5


def test_f2_rule_matches_brute_force_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1), 2)  # rounding makes ties
    choice = choose_threshold(y, p, "f2")
    brute = {t: fbeta_score(y, p >= t, beta=2) for t in np.unique(p)}
    best = max(brute.values())
    assert choice.score == pytest.approx(best)
    assert choice.threshold == max(t for t, s in brute.items() if np.isclose(s, best))  # ties -> higher


def test_cost_rule_follows_the_costs() -> None:
    # Missed leavers expensive: same cut as F2 (catch all three for one false alarm).
    assert choose_threshold(Y, P, "cost", cost_missed_leaver=10, cost_intervention=1).threshold == 0.3
    # Interventions expensive: only the two sure leavers, no false alarm (cost 1 missed leaver).
    expensive = choose_threshold(Y, P, "cost", cost_missed_leaver=1, cost_intervention=5)
    assert expensive.threshold == 0.8 and expensive.score == 1.0
    assert expensive.threshold > choose_threshold(Y, P, "f2").threshold


def test_threshold_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="'f2' or 'cost'"):
        choose_threshold(Y, P, "accuracy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="equal-length"):
        choose_threshold(Y, P[:-1])


def test_ece_is_zero_for_calibrated_and_large_for_overconfident() -> None:
    # Exactly calibrated: in each bin the observed rate equals the predicted probability.
    p = np.repeat([0.05, 0.25, 0.5, 0.75], 20)
    y = np.concatenate([np.r_[np.ones(k), np.zeros(20 - k)] for k in (1, 5, 10, 15)])
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    # Calibrated in distribution: large sample of y ~ Bernoulli(p).
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    assert expected_calibration_error(rng.uniform(0, 1, p.size) < p, p) < 0.01
    # Says 0.9, right 10% of the time.
    assert expected_calibration_error(np.r_[np.ones(10), np.zeros(90)], np.full(100, 0.9)) == pytest.approx(
        0.8
    )
    # p == 1.0 lands in the top bin, not out of range.
    assert expected_calibration_error(np.array([1, 1]), np.array([1.0, 1.0])) == 0.0


def test_metrics_are_sane_and_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=600) < 0.2).astype(int)
    p = np.clip(0.15 + 0.35 * y + rng.normal(0, 0.15, 600), 0, 1)
    m = classification_metrics(y, p, 0.3, resamples=300, seed=4)
    assert list(m) == list(METRIC_NAMES)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["recall"] == pytest.approx(recall_score(y, p >= 0.3))
    assert m["f2"] == pytest.approx(fbeta_score(y, p >= 0.3, beta=2))
    assert all(0.0 <= v <= 1.0 for v in m.values())
    assert m["roc_auc_ci_low"] < m["roc_auc"] < m["roc_auc_ci_high"]
    assert m["recall_ci_low"] <= m["recall"] <= m["recall_ci_high"]
    assert m == classification_metrics(y, p, 0.3, resamples=300, seed=4)  # seeded bootstrap
    counts = confusion_counts(y, p, 0.3)
    assert sum(counts.values()) == 600 and counts["tp"] + counts["fn"] == y.sum()
    assert counts["tp"] / (counts["tp"] + counts["fn"]) == pytest.approx(m["recall"])


def test_bootstrap_auc_from_ranks_equals_sklearn_per_resample() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 50)
    p = np.round(rng.uniform(size=50), 1)  # many ties
    ci = bootstrap_intervals(
        y, p, 0.5, resamples=1, seed=9, level=0.0
    )  # one resample: low == high == its AUC
    idx = np.random.default_rng(9).integers(0, 50, size=(1, 50))[0]
    assert ci["roc_auc_ci_low"] == pytest.approx(roc_auc_score(y[idx], p[idx]))
    assert ci["recall_ci_low"] == pytest.approx(recall_score(y[idx], p[idx] >= 0.5))


def test_metrics_need_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics(np.zeros(10), np.linspace(0, 1, 10), 0.5)
