"""The Drift page against a live API: AppTest, no mocked responses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest_model import ModelEnv
from streamlit.testing.v1 import AppTest
from ui_support import APP, DOWN_URL, PASSWORD, World, add_users, api_process, copy_champion, open_app, texts

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
    text = features[["column", "kind", "test", "change"]]
    assert text.notna().all().all() and "None" not in text.to_numpy(), "a blank cell shows as None"
    categorical = features[features["kind"] == "categorical"]
    assert len(categorical) and (categorical["wasserstein"] == "—").all(), (
        "Wasserstein of a category is not a dash"
    )
    assert features["wasserstein"].notna().all()
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


@pytest.fixture(scope="module")
def history_world(tmp_path_factory: pytest.TempPathFactory, model_env: ModelEnv) -> Iterator[World]:
    """Three checks, oldest first: drift found, one that failed (no reference file), one with too few rows."""
    from attrition.data.generator import generate_workforce
    from attrition.jobs.drift import DriftRequest, run_drift_check

    root = tmp_path_factory.mktemp("ui_drift_history")
    settings = copy_champion(model_env, root)
    current, small, broken = root / "current.csv", root / "small.csv", root / "missing.csv"
    generate_workforce(600, seed=5, drift="overtime_surge").to_csv(current, index=False)
    generate_workforce(40, seed=6).to_csv(small, index=False)
    statuses = [
        run_drift_check(settings, DriftRequest(current_csv=current)).status,
        run_drift_check(settings, DriftRequest(current_csv=current, reference_csv=broken, html=False)).status,
        run_drift_check(settings, DriftRequest(current_csv=small, html=False)).status,
    ]
    assert statuses == ["ok", "error", "insufficient_data"]
    add_users(settings)
    with api_process(settings, root) as url:
        yield World(settings, url, root)


def _runs(world: World) -> list[dict]:
    api = ApiClient(world.api_url)
    api = ApiClient(world.api_url, api.sign_in(World.user("viewer"), PASSWORD).token)
    try:
        return api.drift_runs(limit=10)["items"]
    finally:
        api.close()


def test_a_latest_check_without_a_verdict_says_why_and_shows_no_result_tabs(history_world: World) -> None:
    latest = _runs(history_world)[0]
    assert latest["status"] == "insufficient_data"
    app = open_app(history_world.api_url, World.user("viewer"), "drift.py")
    assert not app.exception, app.exception
    [warning] = [w.value for w in app.warning]
    assert warning.startswith("This check reached no verdict (insufficient data):")
    assert "40" in warning  # the rows it had
    assert [tab.label for tab in app.tabs] == ["History", "Full report"]
    assert "not enough data" in texts(app)  # the badge
    assert "This check has no HTML report" in texts(app)


def test_picking_an_older_check_shows_that_check(history_world: World) -> None:
    runs = _runs(history_world)
    ok, failed = (next(r for r in runs if r["status"] == status) for status in ("ok", "error"))
    app = open_app(history_world.api_url, World.user("viewer"), "drift.py")
    options = app.selectbox(key="drift_run").options
    assert len(options) == 3 and options[0].endswith("(latest)"), options

    app.selectbox(key="drift_run").set_value(ok["run_id"]).run()
    assert not app.exception, app.exception
    assert [tab.label for tab in app.tabs][:4] == ["Features", "Predictions", "Performance", "Fairness"]
    features = next(df.value for df in app.dataframe if "p_adjusted" in df.value.columns)
    assert (features["drifted"] == "yes").sum() == len(ok["drifted_features"]) > 0
    assert 'id="attrition-drift-summary"' in app.get("iframe")[0].proto.srcdoc

    app.selectbox(key="drift_run").set_value(failed["run_id"]).run()
    assert not app.exception, app.exception
    [warning] = [w.value for w in app.warning]
    assert warning.startswith("This check reached no verdict (error):")
    assert "missing.csv" in warning, warning
    assert [tab.label for tab in app.tabs] == ["History", "Full report"]
    history = app.get("plotly_chart")
    assert history, "the history chart is missing"
