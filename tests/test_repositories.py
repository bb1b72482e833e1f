"""Round trips through the app database on every configured backend."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from attrition.db.engine import create_db_engine
from attrition.db.models import employees
from attrition.db.repositories import (
    get_prediction,
    insert_employees,
    insert_outcome,
    insert_predictions,
    iter_employees,
    list_audit,
    load_employees,
    outcomes_frame,
    predictions_frame,
    query_predictions,
    record_audit,
    snapshot_dates,
)
from attrition.schema import ALL_COLUMNS, EXAMPLE_RECORD, SNAPSHOT_DATE

JAN = dt.date(2026, 1, 31)
FEB = dt.date(2026, 2, 28)


def _records(numbers: range | list[int], snapshot: dt.date) -> pd.DataFrame:
    rows = [{**EXAMPLE_RECORD, "EmployeeNumber": n, "Age": 30 + n % 20} for n in numbers]
    return pd.DataFrame(rows).assign(**{SNAPSHOT_DATE: snapshot})


def test_employees_round_trip_and_idempotent(db_url: str) -> None:
    engine = create_db_engine(db_url)
    first = insert_employees(engine, _records(range(1, 301), JAN), source="jan.csv")
    again = insert_employees(engine, _records(range(1, 301), JAN), source="jan.csv")
    feb = insert_employees(engine, _records(range(250, 351), FEB), source="feb.csv")

    assert (first.inserted, first.skipped) == (300, 0)
    assert (again.inserted, again.skipped) == (0, 300)
    assert feb.inserted == 101
    assert snapshot_dates(engine) == [JAN, FEB]

    latest = load_employees(engine)
    assert list(latest.columns) == [*ALL_COLUMNS, SNAPSHOT_DATE]
    assert len(latest) == 101 and set(latest[SNAPSHOT_DATE]) == {FEB}
    january = load_employees(engine, JAN)
    assert len(january) == 300
    row = january.iloc[0].to_dict()
    assert row["EmployeeNumber"] == 1 and row["Age"] == 31 and row["JobRole"] == "Sales Executive"
    assert january["Age"].dtype == "int64"
    engine.dispose()


def test_predictions_log_query_and_frame(db_url: str) -> None:
    engine = create_db_engine(db_url)
    base = dt.datetime(2026, 3, 1, 12, 0)
    rows = [
        {
            "prediction_id": str(uuid.uuid4()),
            "created_at": base + dt.timedelta(minutes=i),
            "employee_number": i,
            "model_name": "attrition-classifier",
            "model_version": "3",
            "probability": i / 10,
            "threshold": 0.3,
            "label": i / 10 >= 0.3,
            "risk_band": "high" if i >= 5 else "low",
            "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": i},
            "top_factors": [{"feature": "OverTime", "contribution": 0.1}],
            "source": "api" if i % 2 else "batch",
            "request_id": f"req-{i}",
        }
        for i in range(10)
    ]
    assert insert_predictions(engine, rows) == 10

    page, total = query_predictions(engine, risk_band="high", limit=2)
    assert total == 5 and len(page) == 2
    assert page[0]["employee_number"] == 9  # newest first
    _, api_total = query_predictions(engine, source="api")
    assert api_total == 5
    one, _ = query_predictions(engine, employee_number=3)
    assert one[0]["inputs"]["EmployeeNumber"] == 3 and one[0]["model_version"] == "3"
    _, since_total = query_predictions(engine, since=base + dt.timedelta(minutes=8))
    assert since_total == 2
    assert get_prediction(engine, rows[4]["prediction_id"])["probability"] == 0.4  # type: ignore[index]
    assert get_prediction(engine, "missing") is None

    frame = predictions_frame(engine, source="batch")
    assert len(frame) == 5
    assert {"Age", "OverTime", "probability", "risk_band", "model_version"} <= set(frame.columns)
    assert frame["Age"].dtype == "int64"
    engine.dispose()


def test_outcomes_and_audit(db_url: str) -> None:
    engine = create_db_engine(db_url)
    first = insert_outcome(engine, 7, True, dt.date(2026, 4, 1), prediction_id="p-7")
    insert_outcome(engine, 8, False, dt.date(2026, 5, 1))
    frame = outcomes_frame(engine)
    assert list(frame["employee_number"]) == [7, 8]
    assert list(frame["left"]) == [True, False]
    assert frame.loc[0, "prediction_id"] == "p-7" and first > 0
    assert len(outcomes_frame(engine, since=dt.date(2026, 4, 15))) == 1

    record_audit(engine, "alice", "promote", "attrition-classifier v2", {"from": "1", "why": "better"})
    record_audit(engine, "bob", "rollback", "attrition-classifier v1")
    events = list_audit(engine)
    assert [e["action"] for e in events] == ["rollback", "promote"]
    promote = list_audit(engine, action="promote")[0]
    assert promote["detail"] == {"from": "1", "why": "better"} and promote["actor"] == "alice"
    engine.dispose()


def test_changed_rows_reported_and_replaced_only_on_request(db_url: str) -> None:
    engine = create_db_engine(db_url)
    insert_employees(engine, _records(range(1, 1201), JAN), source="jan.csv")
    changed = _records(range(1, 1201), JAN)
    changed.loc[changed["EmployeeNumber"].isin([7, 1100]), "MonthlyIncome"] = 7777
    changed.loc[changed["EmployeeNumber"] == 7, ["OverTime", "Attrition"]] = ["No", None]

    kept = insert_employees(engine, changed, source="jan_fixed.csv")

    assert (kept.inserted, kept.skipped, kept.replaced) == (0, 1198, 0)
    by_number = {d.employee_number: d for d in kept.differing}
    assert sorted(by_number) == [7, 1100] and {d.snapshot_date for d in kept.differing} == {JAN}
    assert by_number[7].changes == {
        "Attrition": ("Yes", None),
        "MonthlyIncome": (5993, 7777),
        "OverTime": ("Yes", "No"),
    }
    assert by_number[1100].changes == {"MonthlyIncome": (5993, 7777)}
    assert load_employees(engine, JAN)["MonthlyIncome"].eq(5993).all()

    replaced = insert_employees(engine, changed, source="jan_fixed.csv", replace=True)

    assert (replaced.inserted, replaced.skipped, replaced.replaced, len(replaced.differing)) == (
        0,
        1198,
        2,
        2,
    )
    stored = load_employees(engine, JAN).set_index("EmployeeNumber")
    assert stored.loc[[7, 1100], "MonthlyIncome"].tolist() == [7777, 7777]
    assert stored.loc[7, "OverTime"] == "No" and stored.loc[7, "Attrition"] is None
    assert stored.loc[8, "MonthlyIncome"] == 5993 and len(stored) == 1200
    with engine.connect() as conn:
        query = sa.select(employees.c.EmployeeNumber, employees.c.source).where(
            employees.c.source != "jan.csv"
        )
        assert sorted(conn.execute(query).all()) == [(7, "jan_fixed.csv"), (1100, "jan_fixed.csv")]
    again = insert_employees(engine, changed, source="jan_fixed.csv", replace=True)
    assert (again.skipped, again.differing, again.replaced) == (1200, (), 0)
    engine.dispose()


def test_iter_employees_pages_one_snapshot_by_number(db_url: str) -> None:
    engine = create_db_engine(db_url)
    numbers = [5, 3, 900, 12, 7, 40, 41, 2, 1000, 13, 600]  # not contiguous, not in insert order
    insert_employees(engine, _records(numbers, JAN), source="jan.csv")
    insert_employees(engine, _records(range(1, 30), FEB), source="feb.csv")

    pages = list(iter_employees(engine, JAN, chunk_rows=4))

    assert [len(p) for p in pages] == [4, 4, 3]
    assert [n for p in pages for n in p["EmployeeNumber"]] == sorted(numbers)
    whole = load_employees(engine, JAN)
    pd.testing.assert_frame_equal(pd.concat(pages, ignore_index=True), whole)
    assert [len(p) for p in iter_employees(engine, JAN, chunk_rows=11)] == [11]  # exact fit: no empty page
    latest = list(iter_employees(engine, chunk_rows=10))
    assert [len(p) for p in latest] == [10, 10, 9] and {d for p in latest for d in p[SNAPSHOT_DATE]} == {FEB}
    assert list(iter_employees(engine, dt.date(2001, 1, 1))) == []
    with pytest.raises(ValueError, match="chunk_rows"):
        next(iter_employees(engine, JAN, chunk_rows=0))
    engine.dispose()


def test_iter_employees_of_an_empty_table(db_url: str) -> None:
    assert list(iter_employees(create_db_engine(db_url))) == []


def test_drift_run_strings_are_cut_to_their_column_lengths(db_url: str) -> None:
    from attrition.db.drift_runs import get_drift_run, insert_drift_run, update_drift_run
    from attrition.db.models import DriftRun

    engine = create_db_engine(db_url)
    run_id = uuid.uuid4().hex
    started = {"run_id": run_id, "started_at": dt.datetime(2026, 11, 30, 6), "status": "running"}
    started |= {"reference_rows": 0, "current_rows": 0}
    insert_drift_run(engine, started | {"reference_description": "r" * 5000, "current_description": "c"})
    update_drift_run(engine, run_id, {"status": "error", "error": "e" * 20_000})
    row = get_drift_run(engine, run_id)
    assert row is not None
    columns = DriftRun.__table__.c
    for name, letter in (("reference_description", "r"), ("error", "e")):
        assert row[name] == letter * columns[name].type.length  # 512 and 2,000: the rest is cut
