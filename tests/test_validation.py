"""validate_frame: every rule of the contract, on raw text as a CSV delivers it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from attrition.data.validation import (
    REQUIRED_COLUMNS,
    Issue,
    SchemaError,
    SeenKeys,
    check_columns,
    validate_frame,
)
from attrition.schema import (
    ALL_COLUMNS,
    CATEGORICAL_COLUMNS,
    CONSTANT_COLUMNS,
    EXAMPLE_RECORD,
    INTEGER_COLUMNS,
    SNAPSHOT_DATE,
    TARGET,
)


def _frame(n: int = 5, **changes: dict[str, str]) -> pd.DataFrame:
    """``n`` valid rows as strings (EmployeeNumber 1..n); ``changes`` maps row index -> edits."""
    rows = [{k: str(v) for k, v in EXAMPLE_RECORD.items()} | {"EmployeeNumber": str(i + 1)} for i in range(n)]
    for index, edits in changes.items():
        rows[int(index.lstrip("r"))].update(edits)
    return pd.DataFrame(rows, columns=list(ALL_COLUMNS))


def _only(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, issues
    return issues[0]


def test_valid_rows_pass_typed() -> None:
    result = validate_frame(_frame(5))

    assert result.issues == []
    assert (result.rows, result.rejected_rows, result.warning_rows) == (5, 0, 0)
    valid = result.valid
    assert list(valid.columns) == list(ALL_COLUMNS)
    assert all(valid[c].dtype == "int64" for c in (*INTEGER_COLUMNS, "EmployeeNumber", "EmployeeCount"))
    assert all(isinstance(v, str) for c in CATEGORICAL_COLUMNS for v in valid[c])
    assert valid["EmployeeNumber"].tolist() == [1, 2, 3, 4, 5]
    assert valid.iloc[0]["MonthlyIncome"] == EXAMPLE_RECORD["MonthlyIncome"]


@pytest.mark.parametrize(
    ("column", "value", "severity", "fragment"),
    [
        ("Age", "", "error", "missing value: Age is required"),
        ("Gender", "   ", "error", "missing value: Gender is required"),
        ("Age", "abc", "error", "not a whole number: Age must be an integer, got 'abc'"),
        ("DailyRate", "3.5", "error", "not a whole number"),
        ("MonthlyIncome", "5,993", "error", "not a whole number"),
        ("Age", "12", "error", "out of range: Age must be between 14 and 100, got 12"),
        ("JobSatisfaction", "5", "error", "out of range: JobSatisfaction must be between 1 and 4"),
        ("EmployeeNumber", "0", "error", "out of range: EmployeeNumber"),
        ("Gender", "M", "error", "unknown category: Gender must be one of Male, Female; got 'M'"),
        ("Gender", "female", "error", "unknown category"),
        ("Attrition", "Y", "error", "Attrition must be one of Yes, No or empty"),
        ("Age", "61", "warning", "unusual value: Age 61 is outside the usual range 18-60 (kept)"),
        ("MonthlyIncome", "25000", "warning", "outside the usual range 1009-19999"),
        ("EmployeeCount", "2", "warning", "EmployeeCount is always 1, got '2'; stored as 1"),
        ("Over18", "N", "warning", "Over18 is always Y, got 'N'; stored as Y"),
    ],
)
def test_single_bad_value(column: str, value: str, severity: str, fragment: str) -> None:
    result = validate_frame(_frame(3, r1={column: value}))

    issue = _only(result.issues)
    assert (issue.row, issue.column, issue.severity) == (3, column, severity)
    assert fragment in issue.reason
    assert issue.value == (value if value.strip() else None)
    kept = result.valid["EmployeeNumber"].tolist()
    assert kept == ([1, 2, 3] if severity == "warning" else [1, 3])
    assert result.rejected_rows == (severity == "error")
    assert result.warning_rows == (severity == "warning")


def test_constants_stored_as_the_constant() -> None:
    valid = validate_frame(_frame(2, r0={"EmployeeCount": "2", "Over18": "N"})).valid
    assert valid["EmployeeCount"].tolist() == [1, 1]
    assert valid["Over18"].tolist() == ["Y", "Y"]


def test_whitespace_stripped_but_nothing_else_coerced() -> None:
    result = validate_frame(_frame(3, r0={"Gender": "  Male ", "Age": " 44 "}, r1={"Age": "41.0"}))

    assert result.issues == []
    assert result.valid["Gender"].tolist() == ["Male", "Female", "Female"]
    assert result.valid["Age"].tolist() == [44, 41, 41]


def test_attrition_may_be_empty_for_current_employees() -> None:
    result = validate_frame(_frame(2, r0={TARGET: ""}))

    assert result.issues == []
    assert result.valid[TARGET].tolist() == [None, "Yes"]


def test_hard_cross_field_rule_rejects() -> None:
    result = validate_frame(_frame(2, r1={"YearsInCurrentRole": "7", "YearsAtCompany": "6"}))

    issue = _only(result.issues)
    assert (issue.row, issue.column, issue.severity) == (3, "YearsInCurrentRole", "error")
    assert "YearsInCurrentRole <= YearsAtCompany must hold" in issue.reason
    assert "YearsInCurrentRole = 7, YearsAtCompany = 6" in issue.reason
    assert result.valid["EmployeeNumber"].tolist() == [1]


def test_soft_cross_field_rule_warns_and_keeps() -> None:
    # Age 20 allows at most 6 working years; the example has 8 (and 6 at the company).
    result = validate_frame(_frame(2, r0={"Age": "20"}))

    issue = _only(result.issues)
    assert (issue.row, issue.column, issue.severity) == (2, "TotalWorkingYears", "warning")
    assert "TotalWorkingYears <= Age -14 usually holds" in issue.reason
    assert len(result.valid) == 2 and result.warning_rows == 1


def test_role_outside_its_department_warns() -> None:
    result = validate_frame(_frame(2, r0={"Department": "Research & Development"}))

    issue = _only(result.issues)
    # Named on Department, as the API names it: the role is the given, the department the oddity.
    assert (issue.column, issue.severity, issue.value) == ("Department", "warning", "Research & Development")
    assert "'Sales Executive' is not a role of Department 'Research & Development'" in issue.reason
    assert len(result.valid) == 2


def test_duplicate_employee_number_rejects_later_rows() -> None:
    result = validate_frame(_frame(4, r2={"EmployeeNumber": "1"}, r3={"EmployeeNumber": "1"}))

    assert [(i.row, i.column) for i in result.issues] == [(4, "EmployeeNumber"), (5, "EmployeeNumber")]
    assert all("already appears on line 2" in i.reason for i in result.issues)
    assert result.valid["EmployeeNumber"].tolist() == [1, 2]


def test_duplicates_found_across_calls_with_seen_keys() -> None:
    seen = SeenKeys()
    first = validate_frame(_frame(3), seen=seen)
    second = validate_frame(_frame(2), first_row_number=5, seen=seen)

    assert first.issues == []
    assert [(i.row, i.reason) for i in second.issues] == [
        (5, "duplicate: EmployeeNumber 1 already appears on line 2 of this snapshot"),
        (6, "duplicate: EmployeeNumber 2 already appears on line 3 of this snapshot"),
    ]
    assert second.valid.empty and len(seen) == 3


def test_same_employee_in_two_snapshots_is_not_a_duplicate() -> None:
    frame = _frame(3).assign(**{SNAPSHOT_DATE: ["2024-01-31", "2024-01-31", "2024-02-29"]})
    frame.loc[2, "EmployeeNumber"] = "1"

    result = validate_frame(frame)

    assert result.issues == []
    assert result.valid[SNAPSHOT_DATE].tolist() == [dt.date(2024, 1, 31)] * 2 + [dt.date(2024, 2, 29)]


def test_invalid_snapshot_date_rejected() -> None:
    frame = _frame(3).assign(**{SNAPSHOT_DATE: ["2024-01-31", "2024-02-30", ""]})

    result = validate_frame(frame)

    assert [(i.row, i.column) for i in result.issues] == [(3, SNAPSHOT_DATE), (4, SNAPSHOT_DATE)]
    assert "must be YYYY-MM-DD" in result.issues[0].reason and result.issues[0].value == "2024-02-30"
    assert "missing value" in result.issues[1].reason
    assert len(result.valid) == 1


def test_replacement_character_is_an_encoding_error() -> None:
    result = validate_frame(_frame(2, r0={"MaritalStatus": "Sin\ufffdle"}))

    issue = _only(result.issues)
    assert (issue.row, issue.column, issue.severity) == (2, "MaritalStatus", "error")
    assert "not valid UTF-8" in issue.reason
    assert result.valid["EmployeeNumber"].tolist() == [2]


def test_every_problem_in_a_row_is_reported() -> None:
    result = validate_frame(_frame(1, r0={"Age": "x", "Gender": "?", "OverTime": ""}))

    assert [i.column for i in result.issues] == ["Age", "Gender", "OverTime"]
    assert result.rejected_rows == 1


def test_missing_constant_and_target_columns_are_filled() -> None:
    frame = _frame(2).drop(columns=[*CONSTANT_COLUMNS, TARGET])

    result = validate_frame(frame)

    assert result.issues == []
    assert result.valid["StandardHours"].tolist() == [80, 80]
    assert result.valid[TARGET].tolist() == [None, None]


def test_missing_required_columns_named_all() -> None:
    frame = _frame(2).drop(columns=["Age", "JobRole"])

    with pytest.raises(SchemaError, match="missing required column\\(s\\): Age, JobRole"):
        validate_frame(frame)


def test_case_mismatch_is_hinted() -> None:
    issues = check_columns([c if c != "Age" else "age" for c in ALL_COLUMNS])

    assert any("names are case-sensitive: found 'age' for 'Age'" in i.reason for i in issues)


def test_no_header_and_repeated_columns() -> None:
    no_header = check_columns([str(v) for v in EXAMPLE_RECORD.values()])
    repeated = check_columns([*ALL_COLUMNS, "Age"])

    assert _only(no_header).reason.startswith("no header")
    assert "appear more than once in the header: Age" in _only(repeated).reason


def test_extra_columns_warned_and_dropped() -> None:
    result = validate_frame(_frame(2).assign(Salary="1", Notes="x"))

    issue = _only(result.issues)
    assert (issue.row, issue.severity) == (None, "warning")
    assert "Salary, Notes" in issue.reason
    assert list(result.valid.columns) == list(ALL_COLUMNS)


def test_typed_input_is_accepted() -> None:
    frame = pd.DataFrame([EXAMPLE_RECORD, {**EXAMPLE_RECORD, "EmployeeNumber": 2, "Age": 3.5}])

    result = validate_frame(frame)

    assert [(i.row, i.column) for i in result.issues] == [(3, "Age")]
    assert result.valid["Age"].tolist() == [41]


def test_row_numbers_override() -> None:
    result = validate_frame(_frame(2, r1={"Age": "x"}), row_numbers=np.array([10, 17]))
    assert _only(result.issues).row == 17


def test_required_columns_exclude_target_and_constants() -> None:
    assert TARGET not in REQUIRED_COLUMNS
    assert not set(CONSTANT_COLUMNS) & set(REQUIRED_COLUMNS)
    assert len(REQUIRED_COLUMNS) == len(ALL_COLUMNS) - 1 - len(CONSTANT_COLUMNS)


def test_generated_workforce_passes_without_errors() -> None:
    from attrition.data.generator import generate_workforce

    frame = generate_workforce(3000, seed=7).astype(str)

    result = validate_frame(frame)

    assert result.errors == []
    assert len(result.valid) == 3000
