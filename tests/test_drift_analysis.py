"""run_drift_analysis end to end on generator data: verdicts, edge cases, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from attrition.config import Settings
from attrition.data.generator import attrition_probability, generate_workforce
from attrition.drift import DriftResult, run_drift_analysis
from attrition.drift.features import importance_weights
from attrition.drift.windows import DriftInputError, Window
from attrition.schema import FEATURE_COLUMNS

ROWS = 1000


@pytest.fixture
def drift_settings() -> Settings:
    settings = Settings()
    settings.monitoring.domain_classifier = False  # covered by its own test; keeps these fast
    return settings


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate_workforce(ROWS, seed=101)


@pytest.fixture(scope="module")
def current() -> pd.DataFrame:
    return generate_workforce(ROWS, seed=102)


def test_same_population_gives_no_verdict_of_drift(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    assert result.status == "ok"
    assert result.severity == "none", result.reasons
    assert result.drifted_features == []
    assert {f.column for f in result.features} == set(FEATURE_COLUMNS)
    kinds = {f.column: (f.kind, f.test) for f in result.features}
    assert kinds["MonthlyIncome"] == ("continuous", "ks")
    assert kinds["JobSatisfaction"] == ("ordinal", "chi2")
    assert kinds["OverTime"] == ("categorical", "chi2")
    assert all(0 <= f.p_adjusted <= 1 for f in result.features if f.tested)
    assert result.prediction is None and result.performance is None


def test_scenario_drift_is_found_and_rendered(reference: pd.DataFrame, drift_settings: Settings) -> None:
    current = generate_workforce(ROWS, seed=103, drift="overtime_surge")
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    assert "OverTime" in result.drifted_features
    overtime = result.by_column["OverTime"]
    assert overtime.significant and overtime.effect_passed and overtime.psi >= 0.1
    assert result.severity == "moderate"
    markdown = result.to_markdown()
    assert markdown.startswith("## Attrition drift check: MODERATE")
    table = markdown[markdown.index("### Drifted columns") :]
    assert "| OverTime | categorical | chi2 |" in table
    assert "Yes" in overtime.change and "->" in overtime.change


def test_to_dict_is_plain_json_and_round_trips(reference: pd.DataFrame, drift_settings: Settings) -> None:
    current = generate_workforce(ROWS, seed=104, drift="pay_freeze")
    result = run_drift_analysis(
        Window(reference, "reference", attrition_probability(ROWS, 101)),
        Window(
            current,
            "current",
            attrition_probability(ROWS, 104, "pay_freeze"),
            current["Attrition"].to_numpy(),
        ),
        drift_settings,
    )
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)  # no NaN / numpy leaks
    assert json.loads(text) == data
    assert data["severity"] == result.severity and data["status"] == "ok"
    assert data["drifted_features"] == result.drifted_features
    by_column = {f["column"]: f for f in data["features"]}
    assert by_column["PercentSalaryHike"]["drifted"] is True
    assert data["prediction"]["psi"] == pytest.approx(result.prediction.psi)
    assert set(data["performance"]["metrics"]) == {"roc_auc", "recall", "precision"}
    assert data["parameters"]["false_discovery_rate"] == drift_settings.monitoring.false_discovery_rate


def test_insufficient_data_is_not_a_verdict(reference: pd.DataFrame, drift_settings: Settings) -> None:
    small = generate_workforce(drift_settings.monitoring.min_rows - 1, seed=105)
    result = run_drift_analysis(Window(reference, "reference"), Window(small, "current"), drift_settings)
    assert result.status == "insufficient_data"
    assert result.severity is None
    assert result.features == []
    assert "INSUFFICIENT DATA" in result.to_markdown()
    assert f"{drift_settings.monitoring.min_rows:,}" in result.message
    assert json.loads(json.dumps(result.to_dict()))["severity"] is None
    # Either window too small.
    assert (
        run_drift_analysis(Window(small, "reference"), Window(reference, "current"), drift_settings).status
        == "insufficient_data"
    )


def test_new_category_is_reported(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    current = current.copy()
    current.loc[current.index[:50], "JobRole"] = "Data Scientist"
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    role = result.by_column["JobRole"]
    assert role.new_values == ["Data Scientist"]
    assert role.new_value_rate == pytest.approx(0.05)
    assert role.current_out_of_contract_rate == pytest.approx(0.05)
    assert result.severity in ("moderate", "severe")
    assert any("out-of-contract" in r and "JobRole" in r for r in result.reasons)
    assert "new value(s) 'Data Scientist'" in result.to_markdown()


def test_all_missing_column_is_reported_not_tested(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    current = current.copy()
    current["MonthlyIncome"] = None
    current["Department"] = "  "  # blank text counts as missing
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    for column in ("MonthlyIncome", "Department"):
        feature = result.by_column[column]
        assert not feature.tested and not feature.drifted
        assert feature.current_missing_rate == 1.0
        assert "all values missing" in (feature.note or "")
    assert result.severity == "severe"
    assert any("all values missing in current: Department, MonthlyIncome" in r for r in result.reasons)


def test_extra_and_missing_columns_never_crash(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    current = current.drop(columns=["Attrition"]).assign(Bonus=1, probability=0.3)
    result = run_drift_analysis(
        Window(reference.drop(columns=["Age"]), "reference"), Window(current, "current"), drift_settings
    )
    assert result.schema is not None
    assert result.schema.missing_in_current == []
    assert result.schema.missing_in_reference == ["Age"]
    assert result.schema.extra_in_current == ["Bonus", "probability"]
    assert "Age" not in result.by_column
    markdown = result.to_markdown()
    assert "absent from reference: Age" in markdown
    assert "not in the contract (ignored): Bonus, probability" in markdown


def test_a_current_window_without_contract_columns_cannot_be_compared(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    """A wrong header is an input error, never a verdict (it used to read as severe drift)."""
    current = current.drop(columns=["OverTime", "Age"])
    with pytest.raises(DriftInputError, match=r"lacks 2 contract feature column\(s\): Age, OverTime"):
        run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)


def test_out_of_contract_numbers_are_counted(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    current = current.copy()
    current["Age"] = current["Age"].astype(object)
    current.loc[current.index[:20], "Age"] = 150  # above the hard maximum
    current.loc[current.index[20:40], "Age"] = "forty"  # not a number
    current.loc[current.index[40:50], "Age"] = np.nan
    result = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    age = result.by_column["Age"]
    assert age.current_out_of_contract_rate == pytest.approx(0.04)
    assert age.current_missing_rate == pytest.approx(0.01)
    assert age.current_rows == ROWS - 30  # readable numbers, 150 included
    assert any("out-of-contract" in r and "Age" in r for r in result.reasons)


def test_importance_weights_drive_severity(reference: pd.DataFrame, drift_settings: Settings) -> None:
    current = generate_workforce(ROWS, seed=106, drift="overtime_surge")
    equal = run_drift_analysis(Window(reference, "reference"), Window(current, "current"), drift_settings)
    weighted = run_drift_analysis(
        Window(reference, "reference"),
        Window(current, "current"),
        drift_settings,
        importance={"cat__OverTime_Yes": 3.0, "num__Age": 1.0, "Bogus": 5.0},
    )
    assert equal.severity == "moderate"
    assert weighted.by_column["OverTime"].weight == pytest.approx(0.75)
    assert weighted.drifted_share >= 0.5
    assert weighted.severity == "critical"


def test_importance_weights_fall_back_to_equal() -> None:
    assert importance_weights(None, ["A", "B"]) == {"A": 0.5, "B": 0.5}
    assert importance_weights({"A": 0.0}, ["A", "B"]) == {"A": 0.5, "B": 0.5}
    assert importance_weights({"A_x": 1.0, "A_y": 1.0, "B": 2.0}, ["A", "B"]) == {"A": 0.5, "B": 0.5}
    weights = importance_weights(
        {"EducationField_Medical": 1.0, "Education": 3.0}, ["Education", "EducationField"]
    )
    assert weights == {"Education": 0.75, "EducationField": 0.25}


def _with_probabilities(
    reference: pd.DataFrame, current: pd.DataFrame, settings: Settings, current_probabilities: np.ndarray
) -> DriftResult:
    """The analysis with the generator's probabilities for the reference and the given current ones."""
    return run_drift_analysis(
        Window(reference, "reference", attrition_probability(ROWS, 101)),
        Window(current, "current", current_probabilities),
        settings,
        threshold=0.5,
    )


def test_prediction_and_fairness_shift(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    cur_p = attrition_probability(ROWS, 102).copy()
    women = (current["Gender"] == "Female").to_numpy()
    cur_p[women] = np.clip(cur_p[women] + 0.35, 0, 1)
    result = _with_probabilities(reference, current, drift_settings, cur_p)
    assert result.prediction is not None and result.prediction.probabilities_drifted
    assert result.prediction.current_mean > result.prediction.reference_mean
    assert result.fairness is not None and result.fairness.shifted
    shifted = {(g.attribute, g.group) for g in result.fairness.groups if g.shifted}
    assert ("Gender", "Female") in shifted and ("Gender", "Male") not in shifted
    assert result.severity in ("moderate", "severe")
    assert any(r.startswith("moderate: fairness shift: Gender=Female") for r in result.reasons)
    assert result.estimated_performance is not None  # label-free estimate without outcomes
    assert "no outcomes for the current window yet" in result.to_markdown()


def test_a_shift_every_group_shares_is_not_a_fairness_shift(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    cur_p = np.clip(attrition_probability(ROWS, 102) + 0.3, 0, 1)  # everyone's risk rises
    result = _with_probabilities(reference, current, drift_settings, cur_p)
    assert result.prediction is not None and result.prediction.probabilities_drifted
    assert result.fairness is not None and not result.fairness.shifted
    women = next(g for g in result.fairness.groups if g.group == "Female")
    assert women.difference > 0.1 and abs(women.excess) < 0.05


def test_realised_performance_drop_is_severe(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    cur_p = attrition_probability(ROWS, 102)
    noise = np.random.default_rng(0).random(ROWS)  # a model that lost its signal
    result = run_drift_analysis(
        Window(reference, "reference", attrition_probability(ROWS, 101)),
        Window(current, "current", cur_p, current["Attrition"].to_numpy()),
        drift_settings,
        reference_metrics={"roc_auc": 0.99, "roc_auc_ci_low": 0.98, "roc_auc_ci_high": 1.0},
    )
    assert result.performance is not None and result.performance.metrics["roc_auc"].confident_drop > 0.05
    assert result.severity in ("severe", "critical")
    useless = run_drift_analysis(
        Window(reference, "reference", attrition_probability(ROWS, 101)),
        Window(current, "current", noise, current["Attrition"].to_numpy() == "Yes"),
        drift_settings,
    )
    assert useless.performance is not None
    assert useless.performance.metrics["roc_auc"].value == pytest.approx(0.5, abs=0.08)
    assert useless.severity == "critical"


def test_bad_inputs_name_the_field(
    reference: pd.DataFrame, current: pd.DataFrame, drift_settings: Settings
) -> None:
    with pytest.raises(ValueError, match="current_probabilities: expected 1000 probabilities"):
        run_drift_analysis(
            Window(reference, "reference"), Window(current, "current", np.zeros(5)), drift_settings
        )
    with pytest.raises(ValueError, match=r"reference_probabilities: expected probabilities in \[0, 1\]"):
        run_drift_analysis(
            Window(reference, "reference", np.full(ROWS, 1.5)), Window(current, "current"), drift_settings
        )
    with pytest.raises(ValueError, match=r"current_labels: expected 0/1.*'maybe'"):
        run_drift_analysis(
            Window(reference, "reference"),
            Window(current, "current", np.full(ROWS, 0.2), np.array(["maybe"] * ROWS)),
            drift_settings,
        )


def test_domain_classifier_sees_a_joint_shift_the_marginals_miss(reference: pd.DataFrame) -> None:
    settings = Settings()
    shuffled = reference.copy()
    rng = np.random.default_rng(3)
    # Same marginals, broken link between level and income: only a multivariate check can tell.
    shuffled["MonthlyIncome"] = rng.permutation(shuffled["MonthlyIncome"].to_numpy())
    result = run_drift_analysis(Window(reference, "reference"), Window(shuffled, "current"), settings)
    assert result.drifted_features == []
    assert result.domain is not None and result.domain.roc_auc >= 0.6
    assert result.severity in ("moderate", "severe")
    same = run_drift_analysis(
        Window(reference, "reference"), Window(generate_workforce(ROWS, seed=107), "current"), settings
    )
    assert same.domain is not None and same.domain.roc_auc < 0.6
    assert isinstance(same, DriftResult) and same.severity == "none"
