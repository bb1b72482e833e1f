"""The Workforce overview page against a live API: numbers, filters, paging, download, missing states."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from conftest_model import ModelEnv
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from ui_support import DOWN_URL, PASSWORD, World, add_users, api_process, copy_champion, open_app, texts

from frontend.client import ApiClient, Session
from frontend.widgets import RISK_COLORS, RISK_ORDER, pct

PAGE = "overview.py"


def api_for(world: World, role: str = "viewer") -> ApiClient:
    token = ApiClient(world.api_url).sign_in(world.user(role), PASSWORD).token
    return ApiClient(world.api_url, token)


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def employee_table(app: AppTest) -> pd.DataFrame:
    frame: pd.DataFrame = next(d.value for d in app.dataframe if "employee_number" in d.value.columns)
    return frame


def signed_in_down(page: str) -> AppTest:
    """The UI pointed at a URL where nothing answers, with a (still valid) session from before."""
    app = open_app(DOWN_URL)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    app.session_state["session"] = Session("ui-viewer", "viewer", "token-from-before", expires)
    app.run()
    app.switch_page(f"app_pages/{page}")
    return app.run()


@pytest.fixture(scope="module")
def unscored_world(tmp_path_factory: pytest.TempPathFactory, model_env: ModelEnv) -> Iterator[World]:
    """A champion and a stored snapshot, but nothing scored yet."""
    root = tmp_path_factory.mktemp("ui_unscored")
    settings = copy_champion(model_env, root)
    add_users(settings)
    with api_process(settings, root) as url:
        yield World(settings, url, root)


def test_headline_and_risk_chart_match_the_summary(ui_world: World) -> None:
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    assert not app.exception
    summary = api_for(ui_world).workforce_summary()
    shown = metrics(app)
    bands = summary["risk_bands"]
    assert shown["Headcount"] == f"{summary['headcount']:,}" == "1,500"
    assert shown["At-risk employees"] == f"{bands['high'] + bands['critical']:,}" == f"{summary['at_risk']:,}"
    assert shown["Predicted at risk"] == pct(summary["at_risk_share"])
    assert shown["Historical attrition rate"] == pct(summary["attrition_rate"])
    assert shown["Scored employees"] == f"{summary['scored']:,}"
    assert app.selectbox(key="overview_snapshot").value == "2026-10-31"
    assert "Only one snapshot (2026-10-31) is stored" in texts(app)
    chart = app.get("plotly_chart")[0].proto
    traces = json.loads(chart.spec)["data"]
    assert [t["x"][0] for t in traces] == list(RISK_ORDER)
    assert {t["x"][0]: t["y"][0] for t in traces} == bands
    assert {t["x"][0]: t["marker"]["color"] for t in traces} == RISK_COLORS


def test_department_filter_shows_that_departments_numbers(ui_world: World) -> None:
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    before = metrics(app)["Headcount"]
    app.selectbox(key="overview_department").select("Sales").run()
    assert not app.exception
    sales = api_for(ui_world).workforce_summary(department="Sales")
    shown = metrics(app)
    assert shown["Headcount"] == f"{sales['headcount']:,}" != before
    assert shown["At-risk employees"] == f"{sales['at_risk']:,}"
    assert shown["Predicted at risk"] == pct(sales["at_risk_share"])
    assert set(employee_table(app)["department"]) == {"Sales"}


def test_breakdown_selector_shows_the_chosen_groups(ui_world: World) -> None:
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    app.selectbox(key="overview_breakdown").select("job_level").run()
    assert not app.exception
    groups = api_for(ui_world).workforce_summary()["breakdowns"]["job_level"]
    table = next(d.value for d in app.dataframe if "Group" in d.value.columns)
    assert list(table["Group"]) == [str(g["value"]) for g in groups]
    assert list(table["Predicted at risk"]) == pytest.approx([g["at_risk_share"] for g in groups])
    assert list(table["Employees"]) == [g["headcount"] for g in groups]


def test_show_more_and_sort_follow_the_api_pages(ui_world: World) -> None:
    api = api_for(ui_world)
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    first = api.employees(None, limit=50, sort="risk")
    second = api.employees(None, limit=50, sort="risk", cursor=first["next_cursor"])
    table = employee_table(app)
    assert list(table["employee_number"]) == [i["employee_number"] for i in first["items"]]
    top = first["items"][0]["score"]
    assert table["probability"].iloc[0] == pytest.approx(top["probability"])
    assert table["risk_band"].iloc[0] == top["risk_band"]
    assert table["factors"].iloc[0].startswith(f"{top['top_factors'][0]['feature']} = ")
    app.button(key="overview_more").click().run()
    assert not app.exception
    numbers = list(employee_table(app)["employee_number"])
    assert numbers == [i["employee_number"] for i in first["items"] + second["items"]]
    assert "Showing 100 of 1,500 employees" in texts(app)
    app.selectbox(key="overview_sort").select("employee_number").run()
    by_number = api.employees(None, limit=50, sort="employee_number")
    assert list(employee_table(app)["employee_number"]) == [i["employee_number"] for i in by_number["items"]]


def test_download_holds_every_filtered_employee(ui_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, bytes] = {}
    original = MediaFileManager.add

    def spy(self: MediaFileManager, data: Any, mimetype: str, *args: Any, **kwargs: Any) -> str:
        name = kwargs.get("file_name") or (args[1] if len(args) > 1 else None)
        if isinstance(data, bytes) and name:
            files[name] = data
        return original(self, data, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    app.selectbox(key="overview_risk_band").select("high").run()
    assert not app.download_button
    app.button(key="overview_prepare").click().run()
    assert not app.exception
    assert app.download_button(key="overview_download").label == "Download CSV"
    csv = pd.read_csv(io.BytesIO(files["employees-2026-10-31.csv"]))
    high = api_for(ui_world).workforce_summary(risk_band="high")["risk_bands"]["high"]
    assert len(csv) == high > 50  # more than one page of the table
    assert set(csv["Risk band"]) == {"high"}
    assert list(csv.columns[:3]) == ["Employee number", "Department", "Job role"]
    assert csv["Employee number"].is_unique


def test_open_in_employee_risk_passes_the_number(ui_world: World) -> None:
    app = open_app(ui_world.api_url, ui_world.user("viewer"), PAGE)
    number = employee_table(app)["employee_number"].iloc[1]
    app.selectbox(key="overview_pick").select(number).run()
    app.button(key="overview_open").click().run()
    assert not app.exception
    assert app.title[0].value == "Employee risk"
    assert app.number_input(key="employee_lookup").value == number


def test_nothing_is_shown_before_sign_in(ui_world: World) -> None:
    app = open_app(ui_world.api_url)
    assert not app.exception
    assert app.title[0].value == "Employee attrition risk"
    assert not app.metric and not app.dataframe
    assert "Workforce overview" not in texts(app)


def test_expired_token_signs_out(ui_world: World) -> None:
    app = open_app(ui_world.api_url)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    app.session_state["session"] = Session("ui-viewer", "viewer", "a-token-the-api-does-not-know", expires)
    app.run()
    assert not app.exception
    assert app.title[0].value == "Employee attrition risk"
    assert "Your session expired" in texts(app)
    assert not app.metric


def test_empty_store_says_to_ingest(empty_world: World) -> None:
    app = open_app(empty_world.api_url, empty_world.user("viewer"), PAGE)
    assert not app.exception
    assert "No employees are stored yet" in texts(app)
    assert "attrition ingest FILE" in texts(app)
    assert not app.metric


def test_unscored_snapshot_says_to_score(unscored_world: World) -> None:
    app = open_app(unscored_world.api_url, unscored_world.user("viewer"), PAGE)
    assert not app.exception
    assert metrics(app)["Headcount"] == "1,500"
    assert metrics(app)["Scored employees"] == "0"
    assert "No employee has been scored for this snapshot yet" in texts(app)
    assert "attrition score" in texts(app) and "Batch scoring" in texts(app)
    assert not app.dataframe


def test_api_down_says_how_to_start_it() -> None:
    app = signed_in_down(PAGE)
    assert not app.exception
    assert "does not answer" in texts(app)
    assert "attrition serve api" in texts(app)
    assert not app.metric
