"""The prediction log page against a live API: totals, filters, pages, inputs on demand, outcomes."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest
from ui_support import DOWN_URL, PASSWORD, World, open_app, texts

from attrition.config import reset_settings
from attrition.db.engine import create_db_engine
from frontend.client import ApiClient, Session

PAGE = "predictions.py"


@pytest.fixture
def viewer_api(ui_world: World) -> Iterator[ApiClient]:
    anonymous = ApiClient(ui_world.api_url)
    session = anonymous.sign_in(World.user("viewer"), PASSWORD)
    anonymous.close()
    api = ApiClient(ui_world.api_url, session.token)
    yield api
    api.close()


def _metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def _frames(app: AppTest, column: str) -> list[pd.DataFrame]:
    """The tables shown that have ``column`` (AppTest does not expose a read-only table's key)."""
    return [frame for frame in (d.value for d in app.dataframe) if column in frame.columns]


def _log(app: AppTest) -> pd.DataFrame:
    (frame,) = _frames(app, "Prediction id")
    return frame


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_viewer_sees_the_log_total_and_first_page(ui_world: World, viewer_api: ApiClient) -> None:
    expected = viewer_api.predictions(limit=50, offset=0)
    assert expected["total"] > 50  # the world has a scored snapshot

    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))

    assert app.title[0].value == "Prediction log"
    assert _metric(app, "Predictions matching") == f"{expected['total']:,}"
    assert _metric(app, "Shown") == "1–50"
    table = _log(app)
    assert list(table["Prediction id"]) == [item["prediction_id"] for item in expected["items"]]
    assert list(table["Employee"]) == [item["employee_number"] for item in expected["items"]]
    first = expected["items"][0]
    assert table["Probability %"].iloc[0] == pytest.approx(first["probability"] * 100, abs=0.05)
    assert table["Risk band"].iloc[0] == first["risk_band"]
    assert first["top_factors"][0]["feature"] in table["Top factors"].iloc[0]
    # The table never carries the input record; only a picked prediction's inputs, on demand.
    assert "MonthlyIncome" not in table.columns and "inputs" not in table.columns
    assert not _frames(app, "Field")
    assert len(app.download_button) == 1


def test_risk_band_filter_narrows_the_log(ui_world: World, viewer_api: ApiClient) -> None:
    everything = viewer_api.predictions(limit=1)["total"]
    high = viewer_api.predictions(limit=1, risk_band="high")["total"]
    assert 0 < high < everything

    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))
    app.selectbox("pred_risk_band").set_value("high").run()

    _ok(app)
    assert _metric(app, "Predictions matching") == f"{high:,}"
    table = _log(app)
    assert set(table["Risk band"]) == {"high"}
    assert _metric(app, "High or critical (this page)") == f"{len(table):,}"


def test_pages_follow_the_api_offsets(ui_world: World, viewer_api: ApiClient) -> None:
    second = viewer_api.predictions(limit=25, offset=25)

    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))
    app.selectbox("pred_page_size").set_value(25).run()
    app.number_input("pred_page").set_value(2).run()

    _ok(app)
    assert _metric(app, "Shown") == "26–50"
    table = _log(app)
    assert list(table["Prediction id"]) == [item["prediction_id"] for item in second["items"]]
    # A new filter goes back to the first page.
    app.selectbox("pred_source").set_value("batch").run()
    assert _metric(_ok(app), "Shown") == "1–25"


def test_one_predictions_inputs_are_shown_on_demand_to_a_predictor(ui_world: World) -> None:
    anonymous = ApiClient(ui_world.api_url)
    predictor = ApiClient(ui_world.api_url, anonymous.sign_in(World.user("predictor"), PASSWORD).token)
    anonymous.close()
    first = predictor.predictions(limit=50)["items"][0]
    predictor.close()

    app = _ok(open_app(ui_world.api_url, World.user("predictor"), PAGE))
    app.selectbox("pred_inputs_pick").set_value(first["prediction_id"]).run()

    inputs = _frames(_ok(app), "Field")[0]
    shown = dict(zip(inputs["Field"], inputs["Value"], strict=True))
    assert shown["MonthlyIncome"] == str(first["inputs"]["MonthlyIncome"])
    assert shown["OverTime"] == str(first["inputs"]["OverTime"])


def test_employee_filter_and_a_filter_matching_nothing(ui_world: World, viewer_api: ApiClient) -> None:
    number = viewer_api.predictions(limit=1)["items"][0]["employee_number"]
    expected = viewer_api.predictions(limit=50, employee_number=number)

    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))
    app.number_input("pred_employee").set_value(number).run()
    assert _metric(_ok(app), "Predictions matching") == f"{expected['total']:,}"
    assert set(_log(app)["Employee"]) == {number}

    app.text_input("pred_model_version").input("999").run()  # no model version 999 ever scored
    assert "No prediction matches these filters" in texts(_ok(app))
    assert not _frames(app, "Prediction id")


def test_predictor_records_an_outcome(ui_world: World) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("predictor"), PAGE))
    chosen = app.selectbox("outcome_prediction").value
    employee = int(_log(app).set_index("Prediction id").loc[chosen, "Employee"])
    app.radio("outcome_left").set_value("Left")
    app.date_input("outcome_date").set_value(dt.date.today() - dt.timedelta(days=3))
    app.button("outcome_submit").click().run()

    _ok(app)
    assert len(app.success) == 1
    message = str(app.success[0].value)
    assert f"employee {employee} left" in message
    engine = create_db_engine(ui_world.settings.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    'SELECT id, employee_number, "left", outcome_date FROM outcomes WHERE prediction_id = :p'
                ),
                {"p": chosen},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1
    outcome_id, stored_employee, left, when = rows[0]
    assert f"Outcome {outcome_id} recorded" in message
    assert (stored_employee, bool(left)) == (employee, True)
    assert str(when)[:10] == (dt.date.today() - dt.timedelta(days=3)).isoformat()


def test_viewer_has_no_outcome_form(ui_world: World) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))

    assert not [b for b in app.button if b.key == "outcome_submit"]
    assert "Recording an outcome needs the predictor role" in texts(app)


def test_empty_log_says_where_predictions_come_from(empty_world: World) -> None:
    app = _ok(open_app(empty_world.api_url, World.user("viewer"), PAGE))

    shown = texts(app)
    assert "Predictions appear here when the API or `attrition score` scores employees" in shown
    assert not app.dataframe and not app.metric


def _point_at(app: AppTest, url: str) -> AppTest:
    os.environ["ATTRITION_UI__API_URL"] = url
    reset_settings()
    return app.run()


def test_api_down_says_how_to_start_it(ui_world: World) -> None:
    app = open_app(ui_world.api_url, World.user("viewer"), PAGE)
    _ok(_point_at(app, DOWN_URL))

    shown = texts(app)
    assert "does not answer" in shown and "attrition serve api" in shown
    assert not app.dataframe


def test_expired_token_goes_back_to_sign_in(ui_world: World) -> None:
    app = open_app(ui_world.api_url, World.user("viewer"), PAGE)
    stale: Any = app.session_state["session"]
    app.session_state["session"] = Session(
        stale.user, stale.role, "not-a-valid-token", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    _ok(app.run())

    assert "Sign in again" in texts(app)
    assert not app.dataframe


def test_model_version_filter_is_sent_only_when_set(ui_world: World, viewer_api: ApiClient) -> None:
    version = viewer_api.predictions(limit=1)["items"][0]["model_version"]
    expected = viewer_api.predictions(limit=1, model_version=version)["total"]

    app = _ok(open_app(ui_world.api_url, World.user("viewer"), PAGE))
    app.text_input("pred_model_version").set_value(version).run()
    assert _metric(_ok(app), "Predictions matching") == f"{expected:,}"
    assert set(_log(app)["Model version"]) == {version}

    app.text_input("pred_model_version").set_value("999").run()
    assert "No prediction matches these filters" in texts(_ok(app))
