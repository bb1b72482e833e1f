"""The Drift page against a live API: AppTest, no mocked responses."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from ui_support import APP, DOWN_URL, PASSWORD, World, open_app, texts

from frontend.client import ApiClient


def _latest(world: World) -> dict:
    api = ApiClient(world.api_url)
    api = ApiClient(world.api_url, api.sign_in(World.user("viewer"), PASSWORD).token)
    try:
        return api.drift_latest()
    finally:
        api.close()


def test_latest_verdict_badge_features_and_report(ui_world: World) -> None:
    latest = _latest(ui_world)
    app = open_app(ui_world.api_url, World.user("viewer"), "drift.py")
    assert not app.exception, app.exception
    shown = texts(app)
    assert f"drift: {latest['severity']}" in shown
    assert all(reason in shown for reason in latest["reasons"])
    assert app.selectbox(key="drift_run").value == latest["run_id"]
    features = next(df.value for df in app.dataframe if "p_adjusted" in df.value.columns)
    assert features.iloc[0]["column"] == "OverTime" and features.iloc[0]["drifted"] == "yes"
    assert (features["drifted"] == "yes").sum() == len(latest["drifted_features"])
    report = app.get("iframe")
    assert report and 'id="attrition-drift-summary"' in report[0].proto.srcdoc


def test_no_drift_run_says_how_to_run_the_first(empty_world: World) -> None:
    app = open_app(empty_world.api_url, World.user("viewer"), "drift.py")
    assert not app.exception
    shown = texts(app)
    assert "No drift check has run yet" in shown and "`attrition drift run`" in shown
    assert not app.tabs and not app.dataframe


def test_an_api_that_does_not_answer_says_how_to_start_it(ui_world: World) -> None:
    api = ApiClient(ui_world.api_url)
    session = api.sign_in(World.user("viewer"), PASSWORD)
    api.close()
    open_app(DOWN_URL)  # points the UI at DOWN_URL
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["session"] = session
    app.run()
    app.switch_page("app_pages/drift.py").run()
    assert not app.exception
    assert f"The prediction API at {DOWN_URL} does not answer" in texts(app)
    assert not app.tabs
