"""FeatureBuilder: layout, documented values, protected-attribute exclusion, unseen categories, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from attrition.features import ENGINEERED, ORDINAL_LEVELS, FeatureBuilder
from attrition.schema import (
    CATEGORICAL_COLUMNS,
    CONSTANT_COLUMNS,
    EXAMPLE_RECORD,
    ID_COLUMN,
    INTEGER_COLUMNS,
    SPECS,
    TARGET,
)

PROTECTED = ("Gender", "Age", "MaritalStatus")


def records(**changes: object) -> pd.DataFrame:
    """Three example records with different job levels and incomes."""
    rows = []
    for level, income in ((1, 3000), (2, 6000), (2, 4000)):
        row = dict(EXAMPLE_RECORD)
        row.update(JobLevel=level, MonthlyIncome=income)
        row.update(changes)
        rows.append(row)
    return pd.DataFrame(rows)


def column(builder: FeatureBuilder, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, builder.feature_names_out_.index(name)]


def test_layout_all_columns_when_nothing_excluded(workforce: pd.DataFrame) -> None:
    builder = FeatureBuilder().fit(workforce)
    matrix = builder.transform(workforce)
    one_hot = sum(len(SPECS[c].categories) for c in CATEGORICAL_COLUMNS)
    levels = sum(len(v) for v in ORDINAL_LEVELS.values())
    assert matrix.shape == (len(workforce), len(INTEGER_COLUMNS) + levels + one_hot + len(ENGINEERED))
    assert matrix.dtype == np.float64
    names = list(builder.get_feature_names_out())
    assert names[: len(INTEGER_COLUMNS)] == list(INTEGER_COLUMNS)
    assert "Department=Research & Development" in names
    assert {"WorkLifeBalance=1", "StockOptionLevel=0", "JobLevel=5"} <= set(names)
    assert "Age=18" not in names and "MonthlyIncome=1" not in names  # wide ranges stay numeric only
    assert names[-len(ENGINEERED) :] == [e.name for e in ENGINEERED]
    assert not {ID_COLUMN, TARGET, *CONSTANT_COLUMNS} & set(builder.input_columns_)
    assert set(builder.feature_sources_) == set(names)
    assert builder.derived_excluded_ == []


def test_protected_attributes_and_their_derivatives_are_excluded(workforce: pd.DataFrame) -> None:
    builder = FeatureBuilder(exclude=PROTECTED).fit(workforce)
    names = builder.feature_names_out_
    sources = {s for srcs in builder.feature_sources_.values() for s in srcs}
    assert not sources & set(PROTECTED)
    assert not set(builder.input_columns_) & set(PROTECTED)
    assert "age_at_joining" not in names and builder.derived_excluded_ == ["age_at_joining"]
    assert not any(n.startswith(("Gender=", "MaritalStatus=")) or n == "Age" for n in names)

    # Changing only protected values cannot change the features.
    swapped = workforce.copy()
    swapped["Gender"] = np.where(swapped["Gender"] == "Male", "Female", "Male")
    swapped["Age"] = swapped["Age"] + 7
    swapped["MaritalStatus"] = "Divorced"
    np.testing.assert_array_equal(builder.transform(workforce), builder.transform(swapped))

    # ... and the model may not even receive them.
    np.testing.assert_array_equal(
        builder.transform(workforce), builder.transform(workforce.drop(columns=list(PROTECTED)))
    )


def test_included_protected_attributes_do_reach_the_features(workforce: pd.DataFrame) -> None:
    builder = FeatureBuilder().fit(workforce)
    older = workforce.assign(Age=workforce["Age"] + 7)
    diff = builder.transform(older) - builder.transform(workforce)
    changed = {builder.feature_names_out_[i] for i in np.flatnonzero(np.abs(diff).max(axis=0) > 0)}
    assert changed == {"Age", "age_at_joining"}


def test_engineered_values_match_their_documented_formulas() -> None:
    frame = records()
    builder = FeatureBuilder().fit(frame)
    m = builder.transform(frame)
    # EXAMPLE_RECORD: YearsAtCompany 6, TotalWorkingYears 8, YearsInCurrentRole 4, NumCompaniesWorked 8,
    # Age 41, satisfaction scales Environment 2, Job 4, Relationship 1, WorkLifeBalance 1.
    assert column(builder, m, "tenure_ratio")[0] == pytest.approx(6 / 8)
    assert column(builder, m, "role_ratio")[0] == pytest.approx(4 / 6)
    assert column(builder, m, "promotion_stagnation")[0] == pytest.approx(0 / 6)
    assert column(builder, m, "companies_per_year")[0] == pytest.approx(8 / 8)
    assert column(builder, m, "age_at_joining")[0] == pytest.approx(41 - 6)
    assert column(builder, m, "satisfaction_mean")[0] == pytest.approx((2 + 4 + 1 + 1) / 4)
    # Income relative to the level's median learned at fit: level 1 -> 3000, level 2 -> median(6000, 4000).
    assert builder.income_median_by_level_ == {1: 3000.0, 2: 5000.0}
    np.testing.assert_allclose(column(builder, m, "income_vs_level_median"), [1.0, 1.2, 0.8])
    # A level unseen at fit uses the overall training median (4000).
    unseen = builder.transform(records(JobLevel=5, MonthlyIncome=8000))
    assert column(builder, unseen, "income_vs_level_median")[0] == pytest.approx(2.0)


def test_zero_denominators_give_zero_ratios() -> None:
    frame = records(TotalWorkingYears=0, YearsAtCompany=0, YearsInCurrentRole=0, YearsSinceLastPromotion=0)
    builder = FeatureBuilder().fit(frame)
    m = builder.transform(frame)
    for name in ("tenure_ratio", "role_ratio", "promotion_stagnation"):
        assert np.all(column(builder, m, name) == 0.0)
    assert np.all(column(builder, m, "companies_per_year") == 8.0)  # 8 companies / max(0, 1)


def test_ordinal_levels_are_indicators_of_the_contract_levels() -> None:
    frame = records()  # WorkLifeBalance 1 and StockOptionLevel 0 everywhere
    builder = FeatureBuilder().fit(frame)
    m = builder.transform(records(WorkLifeBalance=3))
    assert [column(builder, m, f"WorkLifeBalance={v}")[0] for v in (1, 2, 3, 4)] == [0, 0, 1, 0]
    assert column(builder, m, "WorkLifeBalance")[0] == 3.0  # the value itself stays too
    assert [column(builder, m, f"StockOptionLevel={v}")[0] for v in (0, 1, 2, 3)] == [1, 0, 0, 0]
    assert builder.feature_sources_["JobLevel=2"] == ("JobLevel",)


def test_one_hot_uses_contract_categories_and_unseen_values_give_zeros() -> None:
    frame = records()  # only Department=Sales at fit
    builder = FeatureBuilder().fit(frame)
    m = builder.transform(records(Department="Research & Development"))
    assert np.all(column(builder, m, "Department=Research & Development") == 1.0)
    assert np.all(column(builder, m, "Department=Sales") == 0.0)
    odd = builder.transform(records(Department="Legal"))
    block = [n for n in builder.feature_names_out_ if n.startswith("Department=")]
    assert all(np.all(column(builder, odd, n) == 0.0) for n in block)
    np.testing.assert_array_equal(odd, builder.transform(records(Department="Legal")))  # deterministic


def test_extra_columns_and_order_are_ignored() -> None:
    frame = records()
    builder = FeatureBuilder().fit(frame)
    shuffled = frame[frame.columns[::-1]].assign(snapshot_date="2024-01-01", extra=1)
    np.testing.assert_array_equal(builder.transform(frame), builder.transform(shuffled))
    lean = frame.drop(columns=[ID_COLUMN, TARGET, *CONSTANT_COLUMNS])
    np.testing.assert_array_equal(builder.transform(frame), builder.transform(lean))


def test_bad_input_errors_name_the_column() -> None:
    builder = FeatureBuilder().fit(records())
    with pytest.raises(ValueError, match="missing column 'OverTime'"):
        builder.transform(records().drop(columns=["OverTime"]))
    with pytest.raises(ValueError, match="column MonthlyIncome: expected a number, got 'lots'"):
        builder.transform(records().astype({"MonthlyIncome": object}).assign(MonthlyIncome="lots"))
    with pytest.raises(ValueError, match="column JobLevel: missing value"):
        builder.transform(records(JobLevel=None))
    with pytest.raises(ValueError, match="column OverTime: missing value"):
        builder.transform(records(OverTime=None))
    with pytest.raises(TypeError, match="DataFrame"):
        builder.transform(np.zeros((2, 3)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not contract columns"):
        FeatureBuilder(exclude=("Salary",)).fit(records())


def test_clone_and_pickle_keep_behaviour(workforce: pd.DataFrame) -> None:
    builder = FeatureBuilder(exclude=PROTECTED).fit(workforce)
    assert clone(builder).get_params() == {"exclude": PROTECTED}
    restored = pickle.loads(pickle.dumps(builder))
    np.testing.assert_array_equal(
        restored.transform(workforce.head(50)), builder.transform(workforce.head(50))
    )
