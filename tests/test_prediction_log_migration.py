"""Migration 0007: old prediction rows (a JSON object of inputs each) packed, snapshot copies dropped, and back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pandas as pd
import sqlalchemy as sa
from conftest_model import ModelEnv

from attrition.db.engine import create_db_engine
from attrition.db.migrate import current, downgrade, upgrade
from attrition.db.privacy import employee_rows
from attrition.db.repositories import get_prediction, insert_employees, predictions_frame, query_predictions
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SNAPSHOT_DATE

#: ``predictions`` as revision 0006 has it (inputs: a JSON object, NOT NULL).
OLD = sa.table(
    "predictions",
    sa.column("id", sa.BigInteger),
    sa.column("prediction_id", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("employee_number", sa.BigInteger),
    sa.column("snapshot_date", sa.Date),
    sa.column("model_name", sa.String),
    sa.column("model_version", sa.String),
    sa.column("probability", sa.Double),
    sa.column("threshold", sa.Double),
    sa.column("label", sa.Boolean),
    sa.column("risk_band", sa.String),
    sa.column("inputs", sa.JSON),
    sa.column("top_factors", sa.JSON),
    sa.column("source", sa.String),
)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}


def _old_row(number: int, snapshot: dt.date | None, inputs: dict[str, Any], minute: int) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": dt.datetime(2026, 11, 1, 8, minute),
        "employee_number": number,
        "snapshot_date": snapshot,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": inputs,
        "top_factors": [{"feature": "Age", "value": 30, "contribution": 0.01, "direction": "raises"}],
        "source": "batch",
    }


def test_0007_upgrade_packs_old_rows_keeps_what_they_read_and_downgrades(
    db_url: str, model_env: ModelEnv
) -> None:
    engine = create_db_engine(db_url)
    downgrade(db_url, "0006")
    employees = model_env.employees.head(3)
    insert_employees(engine, employees, "test")
    snapshot = employees[SNAPSHOT_DATE].iloc[0]
    records = [_plain({c: r[c] for c in RECORD_COLUMNS}) for r in employees.to_dict("records")]
    changed = {
        **records[1],
        "Age": records[1]["Age"] + 1,
    }  # a CSV row with a snapshot date, not the stored row
    rows = [
        _old_row(records[0][ID_COLUMN], snapshot, records[0], 1),  # a snapshot score: the stored row
        _old_row(records[1][ID_COLUMN], snapshot, changed, 2),
        _old_row(records[2][ID_COLUMN], None, records[2], 3),  # an API score
        _old_row(99, None, {ID_COLUMN: 99}, 4),  # a partial record, as some tests and old rows hold
    ]
    with engine.begin() as conn:
        conn.execute(OLD.insert(), rows)
    before = {r["prediction_id"]: r["inputs"] for r in query_predictions(engine, limit=10)[0]}
    old_frame = predictions_frame(engine)

    upgrade(db_url, "0007")
    assert current(db_url) == "0007"
    with engine.connect() as conn:
        raw = dict(conn.execute(sa.text("SELECT prediction_id, inputs FROM predictions")).all())
    ids = [r["prediction_id"] for r in rows]
    assert raw[ids[0]] is None  # the copy of the employees row is gone: the key reads it
    assert json.loads(raw[ids[1]]) == [changed[c] for c in RECORD_COLUMNS]
    assert json.loads(raw[ids[2]]) == [records[2][c] for c in RECORD_COLUMNS]
    assert json.loads(raw[ids[3]]) == {ID_COLUMN: 99}
    after = {r["prediction_id"]: r["inputs"] for r in query_predictions(engine, limit=10)[0]}
    assert after == before == {i: r["inputs"] for i, r in zip(ids, rows, strict=True)}
    assert all(get_prediction(engine, i)["inputs"] == before[i] for i in ids)  # type: ignore[index]
    new_frame = predictions_frame(engine)
    pd.testing.assert_frame_equal(
        new_frame.sort_values("prediction_id").reset_index(drop=True),
        old_frame.sort_values("prediction_id").reset_index(drop=True),
    )
    exported = {
        r["prediction_id"]: r["inputs"] for r in employee_rows(engine, records[0][ID_COLUMN])["predictions"]
    }
    assert exported == {ids[0]: records[0]}  # the export still holds the inputs scored

    downgrade(db_url, "0006")
    with engine.connect() as conn:
        back = {r.prediction_id: r.inputs for r in conn.execute(sa.select(OLD.c.prediction_id, OLD.c.inputs))}
    assert back == {i: r["inputs"] for i, r in zip(ids, rows, strict=True)}
    upgrade(db_url)
    engine.dispose()
