"""The batch scoring page against a live API: upload a CSV, follow the job, read its results."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest_model import SNAPSHOT
from streamlit.testing.v1 import AppTest
from ui_support import DOWN_URL, PASSWORD, World, open_app, texts

from attrition.config import reset_settings
from attrition.data.generator import generate_workforce
from attrition.schema import RECORD_COLUMNS, TARGET
from frontend.client import ApiClient

PAGE = "batch.py"
ROWS = 300
#: Broken rows: (index in the frame, column, value); the file line is index + 2 (the header is line 1).
BROKEN = [(10, "Department", "Space"), (20, "Age", 150)]
BATCH_PAGE = str(Path(__file__).resolve().parents[1] / "frontend" / "app_pages" / "batch.py")


@pytest.fixture
def predictor_api(ui_world: World) -> Iterator[ApiClient]:
    anonymous = ApiClient(ui_world.api_url)
    session = anonymous.sign_in(World.user("predictor"), PASSWORD)
    anonymous.close()
    api = ApiClient(ui_world.api_url, session.token)
    yield api
    api.close()


def _csv(drop: str | None = None) -> bytes:
    frame = generate_workforce(ROWS, seed=3, snapshot_date=SNAPSHOT).drop(columns=TARGET).astype(object)
    for index, column, value in BROKEN:
        frame.loc[index, column] = value
    if drop:
        frame = frame.drop(columns=drop)
    return frame.to_csv(index=False, lineterminator="\n").encode()


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def _frame(app: AppTest, column: str) -> pd.DataFrame:
    """The one table with ``column`` (AppTest does not expose a read-only table's key)."""
    (frame,) = [f for f in (d.value for d in app.dataframe) if column in f.columns]
    return frame


def _upload(app: AppTest, content: bytes, name: str = "team.csv") -> AppTest:
    app.file_uploader("batch_file").set_value((name, content, "text/csv")).run()
    return app.button("batch_start").click().run(timeout=300)


def test_predictor_scores_an_upload_and_sees_what_the_job_found(
    ui_world: World, predictor_api: ApiClient
) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("predictor"), PAGE))
    _ok(_upload(app, _csv()))

    job: dict[str, Any] = app.session_state["batch_job"]
    assert job["status"] == "done", job.get("error")
    fresh = predictor_api.score_job(job["job_id"])
    assert (fresh["rows_scored"], fresh["rows_rejected"]) == (ROWS - 2, 2)
    assert _metric(app, "Rows scored") == f"{fresh['rows_scored']:,}"
    assert _metric(app, "Rows rejected") == f"{fresh['rows_rejected']:,}"
    assert _metric(app, "High or critical risk") == f"{fresh['high_risk']:,}"
    assert _metric(app, "Model version") == fresh["model_version"]

    issues = _frame(app, "reason")
    errors = issues[issues["severity"] == "error"]
    assert sorted(errors["line"]) == [index + 2 for index, _, _ in BROKEN]
    assert "Space" in " ".join(errors["reason"])
    assert "were scored" in texts(app)

    (chart,) = app.get("plotly_chart")
    bar = json.loads(chart.proto.spec)["data"][0]
    assert bar["y"] == [fresh["risk_bands"][band] for band in ("low", "medium", "high", "critical")]

    result = pd.read_csv(io.BytesIO(predictor_api.score_job_file(job["job_id"], "result")))
    preview = _frame(app, "EmployeeNumber")
    assert len(preview) == min(200, len(result)) == 200
    assert list(preview["EmployeeNumber"]) == list(result["EmployeeNumber"][:200])
    assert preview["probability"].iloc[0] == pytest.approx(result["probability"].iloc[0] * 100, abs=0.05)
    assert {b.key for b in app.download_button} >= {"batch_download_result", "batch_download_issues"}

    app.button("batch_clear").click().run()
    assert "batch_job" not in _ok(app).session_state
    assert not app.metric


def test_a_file_the_api_refuses_shows_its_message(ui_world: World) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("predictor"), PAGE))
    _ok(_upload(app, _csv(drop="Age")))

    shown = texts(app)
    assert "The file was not accepted" in shown and "lacks required column(s): Age" in shown
    assert "batch_job" not in app.session_state
    # Never the record itself: no value of the uploaded rows is echoed.
    assert "Research & Development" not in shown


def test_the_page_says_which_columns_a_file_needs(ui_world: World) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("predictor"), PAGE))

    shown = texts(app)
    assert all(column in shown for column in RECORD_COLUMNS)
    assert "batch_template" in {b.key for b in app.download_button}
    assert app.button("batch_start").disabled  # nothing uploaded yet


def test_a_failed_job_says_to_upload_again(ui_world: World) -> None:
    """The page's rendering of a failed job (a real failure needs a broken worker, not a bad file)."""
    app = open_app(ui_world.api_url, World.user("predictor"), PAGE)
    now = dt.datetime.now(dt.UTC).isoformat()
    app.session_state["batch_job"] = {
        "job_id": "0" * 32, "status": "failed", "filename": "team.csv", "error": "the worker stopped",
        "created_at": now, "updated_at": now, "progress": 0.3, "rows_read": 90, "rows_total": 300,
        "issue_count": 0,
    }  # fmt: skip
    _ok(app.run())

    assert "failed: the worker stopped. Upload the file again." in texts(app)
    assert not app.metric


def test_viewer_is_refused(ui_world: World) -> None:
    app = _ok(open_app(ui_world.api_url, World.user("viewer"), None))
    viewer = app.session_state["session"]
    assert not [f for f in app.file_uploader if f.key == "batch_file"]

    page = AppTest.from_file(BATCH_PAGE, default_timeout=60)
    page.session_state["session"] = viewer
    _ok(page.run())
    assert "Batch scoring needs the predictor role" in texts(page)
    assert not page.file_uploader


def test_no_champion_names_the_command_that_fixes_it(empty_world: World) -> None:
    app = _ok(open_app(empty_world.api_url, World.user("predictor"), PAGE))

    shown = texts(app)
    assert "No model is in service" in shown and "attrition train --promote" in shown
    assert not app.file_uploader


def test_api_down_says_how_to_start_it(ui_world: World) -> None:
    app = open_app(ui_world.api_url, World.user("predictor"), PAGE)
    os.environ["ATTRITION_UI__API_URL"] = DOWN_URL
    reset_settings()
    _ok(app.run())

    shown = texts(app)
    assert "does not answer" in shown and "attrition serve api" in shown
    assert not app.file_uploader
