"""Who sees what: a viewer sees scores and factors, never the stored input record; predictor and admin do.

Real app, real keys and a real SQLite app DB seeded with generated employees and logged predictions;
the UI pages against the live API of ``ui_world``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import Api, running_api
from streamlit.testing.v1 import AppTest
from ui_support import PASSWORD, World, open_app, texts

from api.auth import VIEWER_RECORD_COLUMNS
from api.schemas import EXAMPLE_REQUEST
from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.db.repositories import insert_employees, insert_predictions
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE
from frontend.client import ApiClient

SNAPSHOT = dt.date(2026, 10, 31)
FACTORS = [{"feature": "OverTime", "value": "Yes", "contribution": 0.21}]


@pytest.fixture
def seeded(empty_env: Settings) -> Iterator[tuple[Api, int]]:
    with running_api(empty_env) as api:
        employees = generate_workforce(20, seed=5, snapshot_date=SNAPSHOT)
        insert_employees(api.engine, employees, "test")
        number = int(employees[ID_COLUMN].iloc[0])
        inputs = {**EXAMPLE_REQUEST, ID_COLUMN: number, "MonthlyIncome": 12345}
        insert_predictions(api.engine, [_prediction(number, inputs)])
        yield api, number


def _prediction(number: int, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "prediction_id": f"p-{number}",
        "created_at": dt.datetime(2026, 11, 1, 6),
        "employee_number": number,
        "snapshot_date": SNAPSHOT,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.62,
        "threshold": 0.3,
        "label": True,
        "risk_band": "high",
        "inputs": inputs,
        "top_factors": FACTORS,
        "source": "batch",
    }


def _logged(api: Api, role: str) -> dict[str, Any]:
    response = api.client.get("/v1/predictions", headers=api.headers(role))
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["items"][0]
    return item


def test_a_viewer_sees_scores_and_factors_but_not_the_inputs(seeded: tuple[Api, int]) -> None:
    api, number = seeded
    item = _logged(api, "viewer")
    assert item["inputs"] == {}
    assert item["probability"] == 0.62 and item["risk_band"] == "high" and item["top_factors"] == FACTORS
    assert item["employee_number"] == number
    assert "12345" not in str(item)


@pytest.mark.parametrize("role", ["predictor", "admin"])
def test_predictor_and_admin_see_the_inputs(seeded: tuple[Api, int], role: str) -> None:
    api, _ = seeded
    item = _logged(api, role)
    assert (
        item["inputs"]["MonthlyIncome"] == 12345 and item["inputs"]["OverTime"] == EXAMPLE_REQUEST["OverTime"]
    )


def test_a_viewer_gets_only_the_overview_columns_of_an_employee(seeded: tuple[Api, int]) -> None:
    api, number = seeded
    response = api.client.get(f"/v1/employees/{number}", headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    record = body["records"][0]
    assert set(record) == set(VIEWER_RECORD_COLUMNS)
    assert "MonthlyIncome" not in record and "Age" not in record
    assert record[ID_COLUMN] == number and record[SNAPSHOT_DATE] == SNAPSHOT.isoformat()
    assert body["scores"][0]["probability"] == 0.62 and body["scores"][0]["top_factors"] == FACTORS


@pytest.mark.parametrize("role", ["predictor", "admin"])
def test_predictor_and_admin_get_the_whole_employee_record(seeded: tuple[Api, int], role: str) -> None:
    api, number = seeded
    record = api.client.get(f"/v1/employees/{number}", headers=api.headers(role)).json()["records"][0]
    assert {"MonthlyIncome", "Age", "DistanceFromHome"} <= set(record)
    assert set(record) > set(VIEWER_RECORD_COLUMNS)


# --- the UI pages a viewer opens (live API, Streamlit AppTest) --------------------------------


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _first_prediction(world: World, role: str) -> dict[str, Any]:
    anonymous = ApiClient(world.api_url)
    client = ApiClient(world.api_url, anonymous.sign_in(World.user(role), PASSWORD).token)
    anonymous.close()
    try:
        item: dict[str, Any] = client.predictions(limit=50)["items"][0]
        return item
    finally:
        client.close()


def test_the_prediction_log_page_tells_a_viewer_the_inputs_need_the_predictor_role(ui_world: World) -> None:
    first = _first_prediction(ui_world, "viewer")
    assert first["inputs"] == {}
    app = _ok(open_app(ui_world.api_url, World.user("viewer"), "predictions.py"))
    assert "input record of a prediction needs the predictor role" in texts(app)
    assert "pred_inputs_pick" not in {s.key for s in app.selectbox}
    assert not [d for d in app.dataframe if "Field" in d.value.columns]


def test_the_prediction_log_page_shows_a_predictor_the_inputs(ui_world: World) -> None:
    first = _first_prediction(ui_world, "predictor")
    app = _ok(open_app(ui_world.api_url, World.user("predictor"), "predictions.py"))
    app.selectbox("pred_inputs_pick").set_value(first["prediction_id"]).run()
    (inputs,) = [d.value for d in _ok(app).dataframe if "Field" in d.value.columns]
    shown = dict(zip(inputs["Field"], inputs["Value"], strict=True))
    assert shown["MonthlyIncome"] == str(first["inputs"]["MonthlyIncome"])


def test_the_employee_page_shows_a_viewer_the_overview_profile_and_says_why(ui_world: World) -> None:
    viewer = ApiClient(
        ui_world.api_url, ApiClient(ui_world.api_url).sign_in(World.user("viewer"), PASSWORD).token
    )
    number = int(viewer.employees(None, limit=1)["items"][0]["employee_number"])
    viewer.close()
    app = open_app(ui_world.api_url, World.user("viewer"), "employee.py")
    app = _ok(app.number_input(key="employee_lookup").set_value(number).run())
    profile = next(d.value for d in app.dataframe if "Field" in d.value.columns)
    assert "Age" not in set(profile["Field"]) and "None" not in set(profile["Value"])
    assert "The full profile (age, pay, travel, ...) needs the predictor role" in texts(app)
