"""Fairness report: group rates, gaps over large-enough groups, the gate, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from attrition.config import Settings, TrainingSettings
from attrition.training.fairness import age_band, fairness_report


def audit_frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Gender": rng.choice(["Male", "Female"], rows),
            "Age": rng.integers(20, 60, rows),
            "MaritalStatus": rng.choice(["Married", "Single", "Divorced"], rows),
        }
    )
    return frame, (rng.uniform(size=rows) < 0.3).astype(int)


def test_age_bands() -> None:
    assert list(age_band(np.array([18, 29, 30, 39, 40, 49, 50, 71]))) == [
        "<30",
        "<30",
        "30-39",
        "30-39",
        "40-49",
        "40-49",
        "50+",
        "50+",
    ]


def test_perfect_predictions_pass_with_zero_opportunity_gap() -> None:
    frame, y = audit_frame()
    report = fairness_report(y, y, frame, TrainingSettings(max_demographic_parity_difference=0.3))
    assert report.passed, report.failures
    for audit in report.attributes:
        assert audit.equal_opportunity_difference == 0.0
        assert audit.equalized_odds_difference == 0.0  # TPR all 1, FPR all 0


def test_predicting_by_group_fails_the_gate_and_says_why() -> None:
    frame, y = audit_frame()
    biased = (frame["Gender"] == "Female").to_numpy().astype(int)
    report = fairness_report(y, biased, frame, TrainingSettings())
    assert not report.passed
    gender = next(a for a in report.attributes if a.attribute == "Gender")
    assert gender.demographic_parity_difference == 1.0 and gender.equal_opportunity_difference == 1.0
    assert not gender.passed
    assert any(f.startswith("Gender: demographic parity difference 1.000 > 0.1") for f in report.failures)
    assert any(f.startswith("Gender: equal opportunity difference 1.000") for f in report.failures)
    rates = {g.group: g for g in gender.groups}
    assert rates["Female"].selection_rate == 1.0 and rates["Male"].selection_rate == 0.0
    assert rates["Female"].size + rates["Male"].size == len(frame)
    assert rates["Female"].fpr == 1.0 and rates["Male"].tpr == 0.0


def test_small_groups_are_reported_flagged_and_not_gated() -> None:
    frame, y = audit_frame(rows=300)
    frame.loc[:9, "MaritalStatus"] = "Widowed"  # 10 rows: below min_group_size
    pred = y.copy()
    pred[:10] = 1 - y[:10]  # awful on the small group only
    settings = TrainingSettings(min_group_size=30, fairness_gated_attributes=None)  # gate every attribute
    report = fairness_report(y, pred, frame, settings)
    marital = next(a for a in report.attributes if a.attribute == "MaritalStatus")
    small = next(g for g in marital.groups if g.group == "Widowed")
    assert small.size == 10 and not small.gated
    assert marital.passed and marital.equal_opportunity_difference == 0.0
    assert "Widowed" in marital.note


def test_a_gap_within_the_holdout_noise_does_not_fail_the_gate() -> None:
    frame, y = audit_frame(rows=400, seed=3)
    women = (frame["Gender"] == "Female").to_numpy()
    pred = y.copy()
    missed = np.flatnonzero(women & (y == 1))[:9]  # miss ~15% of the ~60 female leavers
    pred[missed] = 0
    point = TrainingSettings(fairness_confidence=0.0, max_demographic_parity_difference=1.0)
    noisy = TrainingSettings(max_demographic_parity_difference=1.0)
    strict = fairness_report(y, pred, frame, point)
    gender = next(a for a in strict.attributes if a.attribute == "Gender")
    assert gender.equal_opportunity_difference is not None and gender.equal_opportunity_difference > 0.1
    assert not strict.passed  # the point estimate is over the limit...
    lenient = fairness_report(y, pred, frame, noisy)
    bound = next(a for a in lenient.attributes if a.attribute == "Gender").equal_opportunity_lower_bound
    assert bound is not None and bound <= 0.1 and lenient.passed  # ...but not beyond its noise
    assert lenient.to_dict()["attributes"]["Gender"]["equal_opportunity_lower_bound"] == round(bound, 6)


def test_attribute_with_one_large_group_is_not_gated() -> None:
    frame, y = audit_frame(rows=100)
    report = fairness_report(y, y, frame, TrainingSettings(min_group_size=80))
    assert report.passed
    assert all("not gated" in a.note for a in report.attributes)


def test_only_the_configured_attributes_are_gated() -> None:
    frame, y = audit_frame()
    biased = (frame["Gender"] == "Female").to_numpy().astype(int)
    report = fairness_report(y, biased, frame, TrainingSettings(fairness_gated_attributes=[]))
    gender = next(a for a in report.attributes if a.attribute == "Gender")
    assert report.passed and not gender.gated and gender.demographic_parity_difference == 1.0
    assert report.to_dict()["attributes"]["Gender"]["gated"] is False
    only_gender = fairness_report(y, biased, frame, TrainingSettings(fairness_gated_attributes=["Gender"]))
    assert not only_gender.passed and all(f.startswith("Gender:") for f in only_gender.failures)
    with pytest.raises(ValueError, match="not in protected_attributes"):
        fairness_report(y, y, frame, TrainingSettings(fairness_gated_attributes=["OverTime"]))


def test_to_dict_is_json_and_nan_rates_become_null() -> None:
    frame, y = audit_frame(rows=200)
    y[(frame["Gender"] == "Female").to_numpy()] = 0  # no female leavers: TPR undefined
    report = fairness_report(y, y, frame, Settings().training)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    female = next(g for g in data["attributes"]["Gender"]["groups"] if g["group"] == "Female")
    assert female["tpr"] is None and female["positives"] == 0
    assert data["limits"]["min_group_size"] == 30 and data["passed"] == report.passed
    assert list(data["attributes"]["Age"]["groups"][0]) == [
        "group",
        "size",
        "positives",
        "selection_rate",
        "tpr",
        "fpr",
        "gated",
    ]
    assert "equal_opportunity_lower_bound" in data["attributes"]["Gender"]


def test_settings_object_and_errors() -> None:
    frame, y = audit_frame(rows=100)
    assert fairness_report(y, y, frame, Settings()).min_group_size == 30  # whole Settings accepted
    with pytest.raises(ValueError, match="missing columns: Gender"):
        fairness_report(y, y, frame.drop(columns=["Gender"]), TrainingSettings())
    with pytest.raises(ValueError, match="must align"):
        fairness_report(y[:-1], y, frame, TrainingSettings())
