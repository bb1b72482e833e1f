"""The Employee risk page against a live API: stored score, what-if, form, roles and missing states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from conftest_model import ModelEnv
from streamlit.testing.v1 import AppTest
from ui_support import DOWN_URL, PASSWORD, World, add_users, api_process, copy_champion, open_app, texts

from frontend.client import ApiClient, Session
from frontend.widgets import pct

PAGE = "employee.py"


def api_for(world: World, role: str = "viewer") -> ApiClient:
    token = ApiClient(world.api_url).sign_in(world.user(role), PASSWORD).token
    return ApiClient(world.api_url, token)


def metrics(app: AppTest) -> dict[str, Any]:
    return {m.label: m for m in app.metric}


def record_of(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail["records"][0].items() if k not in ("snapshot_date", "Attrition")}


def look_up(world: World, role: str, number: int) -> AppTest:
    app = open_app(world.api_url, world.user(role), PAGE)
    return app.number_input(key="employee_lookup").set_value(number).run()


def top_employee(world: World) -> int:
    number: int = api_for(world).employees(None, limit=1)["items"][0]["employee_number"]
    return number


@pytest.fixture(scope="module")
def unscored_world(tmp_path_factory: pytest.TempPathFactory, model_env: ModelEnv) -> Iterator[World]:
    """A champion and a stored snapshot, but nothing scored yet."""
    root = tmp_path_factory.mktemp("ui_unscored_employee")
    settings = copy_champion(model_env, root)
    add_users(settings)
    with api_process(settings, root) as url:
        yield World(settings, url, root)


def test_viewer_sees_the_stored_score_and_no_what_if(ui_world: World) -> None:
    number = top_employee(ui_world)
    app = look_up(ui_world, "viewer", number)
    assert not app.exception
    detail = api_for(ui_world).employee(number)
    stored = next(s for s in detail["scores"] if s["snapshot_date"] == "2026-10-31")
    shown = metrics(app)
    assert shown["Probability of leaving"].value == pct(stored["probability"])
    assert shown["Risk band"].value == stored["risk_band"].capitalize()
    assert shown["Decision threshold"].value == pct(stored["threshold"])
    assert f"Employee {number}: {detail['records'][0]['JobRole']}" in texts(app)
    assert "What-if needs the predictor role" in texts(app)
    assert "Predicting from a form needs the predictor role" in texts(app)
    assert not [b for b in app.button if b.key in ("employee_compare", "employee_predict")]
    history = next(d.value for d in app.dataframe if "Scored at" in d.value.columns)
    assert len(history) == len(detail["scores"])


def test_what_if_with_overtime_flipped_shows_the_apis_new_risk(ui_world: World) -> None:
    number = top_employee(ui_world)
    api = api_for(ui_world, "predictor")
    detail = api.employee(number)
    record = record_of(detail)
    flipped = "No" if record["OverTime"] == "Yes" else "Yes"
    app = look_up(ui_world, "predictor", number)
    assert app.selectbox(key=f"whatif_{number}_OverTime").value == record["OverTime"]
    assert app.number_input(key=f"whatif_{number}_PercentSalaryHike").value == record["PercentSalaryHike"]
    app.selectbox(key=f"whatif_{number}_OverTime").select(flipped)  # a form: sent with its submit button
    app.button(key="employee_compare").click().run()
    assert not app.exception
    expected = api.predict({**record, "OverTime": flipped})
    stored = next(s for s in detail["scores"] if s["snapshot_date"] == "2026-10-31")
    shown = metrics(app)
    assert shown["Risk now"].value == pct(stored["probability"])
    assert shown["Risk with the changes"].value == pct(expected["probability"])
    change = (expected["probability"] - stored["probability"]) * 100
    assert shown["Risk with the changes"].delta == f"{change:+.1f} pp"
    assert abs(change) > 0.5  # overtime matters to this model
    assert shown["New risk band"].value == expected["risk_band"].capitalize()
    assert "logs it in the Prediction log" in texts(app)


def test_form_predicts_what_the_api_predicts(ui_world: World) -> None:
    api = api_for(ui_world, "predictor")
    sample = {k: v for k, v in api.sample_record().items() if k != "Attrition"}
    app = open_app(ui_world.api_url, ui_world.user("predictor"), PAGE)
    assert app.number_input(key="form_Age").value == sample["Age"]
    assert app.number_input(key="form_Age").min == 14 and app.number_input(key="form_Age").max == 100
    assert list(app.selectbox(key="form_Department").options) == [
        "Research & Development",
        "Sales",
        "Human Resources",
    ]
    app.selectbox(key="form_OverTime").select("No")
    app.number_input(key="form_Age").set_value(30)
    app.button(key="employee_predict").click().run()
    assert not app.exception
    expected = api.predict({**sample, "OverTime": "No", "Age": 30})
    assert metrics(app)["Probability of leaving"].value == pct(expected["probability"])
    assert metrics(app)["Flagged as likely to leave"].value == ("Yes" if expected["label"] else "No")
    assert len(app.get("plotly_chart")) >= 1


def test_unknown_employee_number_says_where_to_pick_one(ui_world: World) -> None:
    app = look_up(ui_world, "viewer", 99999)
    assert not app.exception
    assert "No employee 99999 is stored." in texts(app)
    assert "Workforce overview" in texts(app)
    assert "Probability of leaving" not in metrics(app)


def test_unscored_employee_says_to_score(unscored_world: World) -> None:
    number = api_for(unscored_world).employees(None, limit=1, sort="employee_number")["items"][0]
    app = look_up(unscored_world, "viewer", number["employee_number"])
    assert not app.exception
    assert f"Employee {number['employee_number']} has not been scored for the 2026-10-31 snapshot" in texts(
        app
    )
    assert "attrition score" in texts(app)
    assert "Probability of leaving" not in metrics(app)
    profile = next(d.value for d in app.dataframe if "Field" in d.value.columns)
    assert dict(zip(profile["Field"], profile["Value"], strict=True))["Department"] == number["department"]


def test_no_champion_says_how_to_train_one(empty_world: World) -> None:
    app = look_up(empty_world, "predictor", 1)
    assert not app.exception
    assert "No model is in service" in texts(app)
    assert "attrition train --promote" in texts(app)
    assert "No employee 1 is stored." in texts(app)
    assert app.button(key="employee_predict").disabled


def test_api_down_says_how_to_start_it() -> None:
    app = open_app(DOWN_URL)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    app.session_state["session"] = Session("ui-viewer", "viewer", "token-from-before", expires)
    app.run()
    app.switch_page(f"app_pages/{PAGE}")
    app.run()
    assert not app.exception
    assert "does not answer" in texts(app)
    assert "attrition serve api" in texts(app)


def test_the_page_opens_on_the_highest_risk_employee(ui_world: World) -> None:
    top = top_employee(ui_world)
    app = open_app(ui_world.api_url, World.user("viewer"), PAGE)
    assert not app.exception, app.exception
    assert app.number_input(key="employee_lookup").value == top
    assert f"Employee {top}:" in texts(app) and "Showing the highest-risk employee" in texts(app)
    app.number_input(key="employee_lookup").set_value(top + 1).run()  # the analyst's choice sticks
    assert "Showing the highest-risk employee" not in texts(app)
    assert f"Employee {top + 1}:" in texts(app) or f"No employee {top + 1} is stored" in texts(app)
