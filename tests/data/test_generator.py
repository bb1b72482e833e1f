"""The synthetic workforce: realistic marginals, consistent records, honest drift, determinism."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from attrition.cli import app
from attrition.data.generator import (
    ATTRITION_INTERCEPT,
    attrition_probability,
    calibrate_intercept,
    generate_workforce,
    write_csv,
)
from attrition.data.scenarios import DRIFT_SCENARIOS
from attrition.schema import (
    ALL_COLUMNS,
    ATTRITION_YES,
    CATEGORICAL_COLUMNS,
    CONSTANT_COLUMNS,
    CROSS_FIELD_RULES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    INTEGER_COLUMNS,
    ROLE_DEPARTMENTS,
    SNAPSHOT_DATE,
    SPECS,
    TARGET,
    Col,
)

ROWS = 50_000
SEED = 11


@pytest.fixture(scope="module")
def workforce() -> pd.DataFrame:
    return generate_workforce(ROWS, SEED)


@pytest.fixture(scope="module")
def drifted() -> dict[str, pd.DataFrame]:
    return {name: generate_workforce(ROWS, SEED, drift=name) for name in DRIFT_SCENARIOS}


def _left(frame: pd.DataFrame) -> pd.Series:
    return frame[TARGET] == ATTRITION_YES


def _share(frame: pd.DataFrame, col: str, value: str) -> float:
    return float((frame[col] == value).mean())


def assert_valid_records(frame: pd.DataFrame) -> None:
    """Every record obeys the contract: types, observed ranges, constants, rules, roles."""
    assert list(frame.columns[: len(ALL_COLUMNS)]) == list(ALL_COLUMNS)
    for col in INTEGER_COLUMNS:
        spec = SPECS[col]
        assert frame[col].dtype == np.int64, col
        assert frame[col].between(spec.soft_min, spec.soft_max).all(), (
            col,
            frame[col].min(),
            frame[col].max(),
        )
    for col in CATEGORICAL_COLUMNS:
        assert frame[col].isin(SPECS[col].categories).all(), col
    for col in CONSTANT_COLUMNS:
        assert (frame[col] == SPECS[col].constant).all(), col
    assert frame[TARGET].isin(SPECS[TARGET].categories).all()
    assert frame[ID_COLUMN].is_unique and (frame[ID_COLUMN] >= 1).all()
    for rule in CROSS_FIELD_RULES:
        assert not rule.violated(frame).any(), rule.description
    allowed = frame[Col.JOB_ROLE].map(ROLE_DEPARTMENTS)
    ok = [dept in depts for dept, depts in zip(frame[Col.DEPARTMENT], allowed, strict=True)]
    assert all(ok), "a job role sits in a department it does not belong to"


def test_records_obey_the_contract(workforce: pd.DataFrame) -> None:
    assert len(workforce) == ROWS
    assert list(workforce.columns) == list(ALL_COLUMNS)
    assert_valid_records(workforce)


@pytest.mark.parametrize(
    ("col", "value", "expected", "tolerance"),
    [
        (Col.ATTRITION, "Yes", 0.16, 0.012),
        (Col.OVERTIME, "Yes", 0.28, 0.015),
        (Col.DEPARTMENT, "Research & Development", 0.65, 0.015),
        (Col.DEPARTMENT, "Sales", 0.30, 0.015),
        (Col.DEPARTMENT, "Human Resources", 0.04, 0.008),
        (Col.BUSINESS_TRAVEL, "Travel_Rarely", 0.71, 0.015),
        (Col.BUSINESS_TRAVEL, "Travel_Frequently", 0.19, 0.015),
        (Col.BUSINESS_TRAVEL, "Non-Travel", 0.10, 0.01),
        (Col.GENDER, "Male", 0.60, 0.015),
        (Col.MARITAL_STATUS, "Married", 0.46, 0.015),
        (Col.MARITAL_STATUS, "Single", 0.32, 0.015),
        (Col.MARITAL_STATUS, "Divorced", 0.22, 0.015),
    ],
)
def test_category_shares_match_the_ibm_data(
    workforce: pd.DataFrame, col: str, value: str, expected: float, tolerance: float
) -> None:
    assert _share(workforce, col, value) == pytest.approx(expected, abs=tolerance)


def test_numeric_marginals_match_the_ibm_data(workforce: pd.DataFrame) -> None:
    assert workforce[Col.AGE].mean() == pytest.approx(37, abs=1.0)
    assert workforce[Col.AGE].std() == pytest.approx(9, abs=1.0)
    assert workforce[Col.MONTHLY_INCOME].mean() == pytest.approx(6500, abs=400)
    assert workforce[Col.YEARS_AT_COMPANY].mean() == pytest.approx(7, abs=0.7)
    assert workforce[Col.TOTAL_WORKING_YEARS].mean() == pytest.approx(11.3, abs=1.0)
    assert workforce[Col.DISTANCE_FROM_HOME].median() == pytest.approx(7, abs=1)
    assert workforce[Col.PERCENT_SALARY_HIKE].mean() == pytest.approx(15.2, abs=0.5)
    # Every level exists, entry levels dominate, and pay rises with level.
    levels = workforce[Col.JOB_LEVEL].value_counts(normalize=True).sort_index()
    assert list(levels.index) == [1, 2, 3, 4, 5]
    assert levels[1] + levels[2] == pytest.approx(0.73, abs=0.04)
    income_by_level = workforce.groupby(Col.JOB_LEVEL)[Col.MONTHLY_INCOME].mean()
    assert income_by_level.is_monotonic_increasing
    assert income_by_level[5] > 3 * income_by_level[1]
    # Outstanding raters get the large hikes (IBM: rating 4 <=> hike >= 20).
    outstanding = workforce[Col.PERFORMANCE_RATING] == 4
    assert (workforce.loc[outstanding, Col.PERCENT_SALARY_HIKE] >= 20).all()
    assert (workforce.loc[~outstanding, Col.PERCENT_SALARY_HIKE] < 20).all()


def test_attrition_follows_known_risk_factors(workforce: pd.DataFrame) -> None:
    left = _left(workforce)

    def rate(mask: pd.Series) -> float:
        return float(left[mask].mean())

    w = workforce
    assert rate(w[Col.OVERTIME] == "Yes") > 2 * rate(w[Col.OVERTIME] == "No")
    assert rate(w[Col.MARITAL_STATUS] == "Single") > 1.5 * rate(w[Col.MARITAL_STATUS] == "Married")
    assert (
        rate(w[Col.BUSINESS_TRAVEL] == "Travel_Frequently")
        > rate(w[Col.BUSINESS_TRAVEL] == "Non-Travel") + 0.05
    )
    assert rate(w[Col.JOB_LEVEL] == 1) > 2 * rate(w[Col.JOB_LEVEL] >= 3)
    assert rate(w[Col.AGE] < 25) > 2 * rate(w[Col.AGE] >= 35)
    assert rate(w[Col.ENVIRONMENT_SATISFACTION] == 1) > rate(w[Col.ENVIRONMENT_SATISFACTION] == 4) + 0.05
    assert rate(w[Col.JOB_SATISFACTION] == 1) > rate(w[Col.JOB_SATISFACTION] == 4) + 0.05
    assert rate(w[Col.WORK_LIFE_BALANCE] == 1) > rate(w[Col.WORK_LIFE_BALANCE] == 3) + 0.05
    assert rate(w[Col.STOCK_OPTION_LEVEL] == 0) > rate(w[Col.STOCK_OPTION_LEVEL] == 1) + 0.05
    assert rate(w[Col.DISTANCE_FROM_HOME] >= 20) > rate(w[Col.DISTANCE_FROM_HOME] <= 3) + 0.03
    assert rate(w[Col.YEARS_AT_COMPANY] < 2) > rate(w[Col.YEARS_AT_COMPANY] >= 5) + 0.05
    assert rate(w[Col.NUM_COMPANIES_WORKED] >= 5) > rate(w[Col.NUM_COMPANIES_WORKED] <= 1) + 0.03
    # Gender is not a driver: any gap would be bias baked into the data.
    assert abs(rate(w[Col.GENDER] == "Male") - rate(w[Col.GENDER] == "Female")) < 0.015


def test_a_quick_model_scores_realistic_auc() -> None:
    """Signal plus noise: a plain logistic regression lands at ~0.85, not 0.99."""
    frame = generate_workforce(5_000, 5)
    features = list(FEATURE_COLUMNS)
    categorical = [c for c in CATEGORICAL_COLUMNS if c in features]
    x_train, x_test, y_train, y_test = train_test_split(
        frame[features], _left(frame), test_size=0.3, random_state=0, stratify=_left(frame)
    )
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical), remainder=StandardScaler()
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=2_000)).fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    assert 0.78 <= auc <= 0.92
    # The true probabilities (with the unobserved term) bound what any model can do.
    truth = attrition_probability(5_000, 5)
    assert auc < roc_auc_score(_left(frame), truth) < 0.95


def test_intercept_gives_the_base_rate() -> None:
    assert calibrate_intercept(rows=60_000, seed=3) == pytest.approx(ATTRITION_INTERCEPT, abs=0.06)
    assert calibrate_intercept(rows=60_000, seed=3, target=0.30) > ATTRITION_INTERCEPT + 0.5


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    day = dt.date(2026, 3, 31)
    paths = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    write_csv(generate_workforce(2_000, 7, snapshot_date=day), paths[0])
    write_csv(generate_workforce(2_000, 7, snapshot_date=day), paths[1])
    write_csv(generate_workforce(2_000, 8, snapshot_date=day), paths[2])
    first = paths[0].read_bytes()
    assert first == paths[1].read_bytes()
    assert first != paths[2].read_bytes()
    assert b"\r" not in first
    header, row = first.decode("utf-8").splitlines()[:2]
    assert header.split(",") == [*ALL_COLUMNS, SNAPSHOT_DATE]
    assert row.endswith(",2026-03-31")


def test_snapshot_column_only_when_asked(workforce: pd.DataFrame) -> None:
    assert SNAPSHOT_DATE not in workforce.columns
    dated = generate_workforce(100, SEED, snapshot_date=dt.date(2026, 1, 31))
    assert (dated[SNAPSHOT_DATE] == dt.date(2026, 1, 31)).all()
    assert dated[list(ALL_COLUMNS)].equals(generate_workforce(100, SEED))


def test_write_csv_chunks_do_not_change_bytes(tmp_path: Path) -> None:
    frame = generate_workforce(20, 1)
    calls: list[tuple[int, int]] = []
    write_csv(
        frame,
        tmp_path / "chunked.csv",
        progress=lambda done, total: calls.append((done, total)),
        chunk_rows=7,
    )
    write_csv(frame, tmp_path / "whole.csv")
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert calls == [(7, 20), (14, 20), (20, 20)]
    back = pd.read_csv(tmp_path / "chunked.csv")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_zero_rows_gives_a_header_only_file(tmp_path: Path) -> None:
    frame = generate_workforce(0, 1)
    assert list(frame.columns) == list(ALL_COLUMNS) and frame.empty
    write_csv(frame, tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8") == ",".join(ALL_COLUMNS) + "\n"


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"drift: unknown scenario 'layoffs'.*overtime_surge.*pay_freeze"):
        generate_workforce(10, 1, drift="layoffs")
    with pytest.raises(ValueError, match="rows: expected a non-negative count, got -1"):
        generate_workforce(-1, 1)


# --- drift ------------------------------------------------------------------------------

#: Per scenario: the columns it may change (besides Attrition) and the check that it moved them.
DriftCheck = Callable[[pd.DataFrame, pd.DataFrame], None]


def _pay_freeze(base: pd.DataFrame, new: pd.DataFrame) -> None:
    hike = Col.PERCENT_SALARY_HIKE
    assert new[hike].mean() < base[hike].mean() - 2.5
    assert (new[hike] <= base[hike]).all()
    assert new[hike].max() <= 17


def _overtime_surge(base: pd.DataFrame, new: pd.DataFrame) -> None:
    assert _share(new, Col.OVERTIME, "Yes") > _share(base, Col.OVERTIME, "Yes") + 0.2
    assert ((base[Col.OVERTIME] == "Yes") <= (new[Col.OVERTIME] == "Yes")).all()


def _remote_hiring(base: pd.DataFrame, new: pd.DataFrame) -> None:
    distance = Col.DISTANCE_FROM_HOME
    assert new[distance].mean() > base[distance].mean() + 5
    assert new[distance].median() >= 2 * base[distance].median()
    assert (new[distance] >= base[distance]).all()


def _reorg(base: pd.DataFrame, new: pd.DataFrame) -> None:
    assert _share(new, Col.DEPARTMENT, "Sales") > _share(base, Col.DEPARTMENT, "Sales") + 0.1
    assert (
        _share(new, Col.DEPARTMENT, "Research & Development")
        < _share(base, Col.DEPARTMENT, "Research & Development") - 0.1
    )
    assert _share(new, Col.JOB_ROLE, "Sales Executive") > _share(base, Col.JOB_ROLE, "Sales Executive") + 0.05


DRIFT_CHECKS: dict[str, tuple[set[str], DriftCheck]] = {
    "pay_freeze": ({Col.PERCENT_SALARY_HIKE}, _pay_freeze),
    "overtime_surge": ({Col.OVERTIME}, _overtime_surge),
    "remote_hiring": ({Col.DISTANCE_FROM_HOME}, _remote_hiring),
    "reorg": (
        {Col.DEPARTMENT, Col.JOB_ROLE, Col.EDUCATION_FIELD, Col.JOB_LEVEL, Col.MONTHLY_INCOME},
        _reorg,
    ),
}


def test_every_scenario_is_described_and_checked() -> None:
    assert set(DRIFT_SCENARIOS) == set(DRIFT_CHECKS)
    assert all("attrition rises" in text or "raises attrition" in text for text in DRIFT_SCENARIOS.values())


@pytest.mark.parametrize("scenario", sorted(DRIFT_CHECKS))
def test_drift_moves_what_it_claims(
    scenario: str, workforce: pd.DataFrame, drifted: dict[str, pd.DataFrame]
) -> None:
    new = drifted[scenario]
    may_change, moved = DRIFT_CHECKS[scenario]
    moved(workforce, new)
    changed = {c for c in ALL_COLUMNS if not workforce[c].equals(new[c])}
    assert changed <= may_change | {TARGET}, f"{scenario} also changed {changed - may_change - {TARGET}}"
    assert may_change <= changed
    # Attrition moves the way the description says: up, by a visible amount.
    assert _left(new).mean() > _left(workforce).mean() + 0.015
    assert_valid_records(new)


# --- CLI --------------------------------------------------------------------------------


def test_cli_generate_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "workforce.csv"
    args = ["generate", "--rows", "750", "--seed", "4", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--snapshot-date", "2026-02-28", "--drift", "reorg"])
    assert result.exit_code == 0, result.output
    assert "wrote 750 employees" in result.output and "drift reorg" in result.output
    frame = pd.read_csv(out)
    assert len(frame) == 750
    assert list(frame.columns) == [*ALL_COLUMNS, SNAPSHOT_DATE]
    assert (frame[SNAPSHOT_DATE] == "2026-02-28").all()
    expected = tmp_path / "expected.csv"
    write_csv(generate_workforce(750, 4, snapshot_date=dt.date(2026, 2, 28), drift="reorg"), expected)
    assert out.read_bytes() == expected.read_bytes()


def test_cli_generate_rejects_unknown_scenario(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = CliRunner().invoke(app, ["generate", "--rows", "10", "--out", str(out), "--drift", "layoffs"])
    assert result.exit_code != 0
    assert "layoffs" in result.output
    for name in DRIFT_SCENARIOS:
        assert name in result.output
    assert not out.exists()


def test_cli_generate_rejects_bad_date_and_rows(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    bad_date = CliRunner().invoke(app, ["generate", "--out", str(out), "--snapshot-date", "31/01/2026"])
    assert bad_date.exit_code != 0 and "snapshot-date" in bad_date.output
    bad_rows = CliRunner().invoke(app, ["generate", "--out", str(out), "--rows", "0"])
    assert bad_rows.exit_code != 0 and "rows" in bad_rows.output
    assert not out.exists()
