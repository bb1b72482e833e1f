"""Feedback stores an outcome with its audit event or nothing, and only for an employee that exists;
the prediction log says who asked for each prediction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from api_support import Api, running_api
from fault_support import count, time_bound

from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.db.models import utcnow
from attrition.db.repositories import insert_employees, insert_predictions
from attrition.schema import EXAMPLE_RECORD, ID_COLUMN

OUTCOME = {"left": True, "outcome_date": "2026-03-31"}


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(180):
        yield


@pytest.fixture
def api(empty_env: Settings, db_url: str) -> Iterator[Api]:
    with running_api(empty_env.model_copy(update={"database_url": db_url})) as running:
        yield running


def _logged(number: int, caller: str | None = None) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": utcnow(),
        "employee_number": number,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
        "top_factors": None,
        "source": "api",
        "request_id": None,
        "caller": caller,
    }


def _rename(engine: sa.Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


@pytest.mark.integration
def test_a_failed_audit_write_stores_no_outcome_and_the_retry_stores_one(api: Api) -> None:
    """Lost if it failed: the outcome of a request answered 503 is stored anyway (unaudited), and the
    client's retry stores it a second time."""
    insert_predictions(api.engine, [_logged(7)])
    body = {"employee_number": 7, **OUTCOME}
    _rename(api.engine, "audit_log", "audit_log_away")
    try:
        failed = api.client.post("/v1/feedback", json=body, headers=api.headers())
    finally:
        _rename(api.engine, "audit_log_away", "audit_log")
    assert failed.status_code == 503 and "could not record the outcome" in failed.json()["error"]
    assert count(api.engine, "outcomes") == 0
    retried = api.client.post("/v1/feedback", json=body, headers=api.headers())
    assert retried.status_code == 201, retried.text
    assert count(api.engine, "outcomes") == 1
    assert count(api.engine, "audit_log", "WHERE action = 'feedback'") == 1


def test_feedback_for_an_employee_number_that_exists_nowhere_is_404(api: Api) -> None:
    unknown = api.client.post(
        "/v1/feedback", json={"employee_number": 424242, **OUTCOME}, headers=api.headers()
    )
    assert unknown.status_code == 404
    error = unknown.json()
    assert "424242" in error["error"]
    assert error["detail"][0]["field"] == "employee_number" and error["detail"][0]["received"] == 424242
    assert count(api.engine, "outcomes") == 0

    workforce = generate_workforce(3, seed=5, snapshot_date=dt.date(2026, 1, 31))
    insert_employees(api.engine, workforce, "test")  # an employee of a stored snapshot is known...
    in_snapshot = int(workforce[ID_COLUMN].iloc[0])
    assert in_snapshot != 424242
    stored = api.client.post(
        "/v1/feedback", json={"employee_number": in_snapshot, **OUTCOME}, headers=api.headers()
    )
    assert stored.status_code == 201, stored.text
    insert_predictions(api.engine, [_logged(32)])  # ...and so is one with a logged prediction
    known = api.client.post("/v1/feedback", json={"employee_number": 32, **OUTCOME}, headers=api.headers())
    assert known.status_code == 201, known.text
    pending = api.ctx.log
    entry = _logged(33)
    pending.submit(entry)  # ...and one whose prediction still waits in the log
    waiting = api.client.post("/v1/feedback", json={"employee_number": 33, **OUTCOME}, headers=api.headers())
    assert waiting.status_code == 201, waiting.text
    assert count(api.engine, "outcomes") == 3


def test_the_caller_of_each_prediction_is_stored_and_shown_to_admins_only(api: Api) -> None:
    insert_predictions(api.engine, [_logged(41, "hris-sync"), _logged(42, "user:ana"), _logged(43)])
    admin = api.client.get("/v1/predictions", headers=api.headers("admin")).json()["items"]
    assert {i["employee_number"]: i["caller"] for i in admin} == {41: "hris-sync", 42: "user:ana", 43: None}
    viewer = api.client.get("/v1/predictions", headers=api.headers("viewer")).json()["items"]
    assert [i["caller"] for i in viewer] == [None, None, None]
