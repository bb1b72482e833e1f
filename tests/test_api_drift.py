"""The drift endpoints end to end: a real app and real keys over a real app DB (every configured backend).

Runs are written with the repository functions the drift job uses; their results are
real ``DriftResult.to_dict()`` output. No champion is needed to read drift runs, so the
app runs on an empty MLflow store.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from api_support import Api, running_api

from api.routers.drift import NO_RUN_YET
from attrition.config import DRIFT_RUN_STATUSES, SEVERITIES, Settings
from attrition.db.drift_runs import get_drift_run, insert_drift_run, update_drift_run
from attrition.drift.features import FeatureDrift
from attrition.drift.result import DriftResult

T0 = dt.datetime(2026, 11, 1, 6, 0)  # naive UTC, as the job stores it


@pytest.fixture
def api(empty_env: Settings, db_url: str) -> Iterator[Api]:
    with running_api(empty_env.model_copy(update={"database_url": db_url})) as running:
        yield running


def _results(status: str, severity: str | None) -> dict[str, Any]:
    drifted = severity not in (None, "none")
    features = [
        FeatureDrift(
            column="MonthlyIncome",
            kind="continuous",
            test="ks",
            statistic=0.31,
            p_value=1e-6,
            p_adjusted=2e-5,
            psi=0.42 if drifted else 0.01,
            significant=drifted,
            effect_passed=drifted,
            drifted=drifted,
            weight=0.6,
            reference_rows=1470,
            current_rows=400,
            change="median 4,900 -> 6,100" if drifted else "",
        ),
        FeatureDrift(column="OverTime", kind="categorical", test="chi2", p_value=0.4, weight=0.4),
    ]
    result = DriftResult(
        status=status,  # type: ignore[arg-type]
        severity=severity,
        reference_rows=1470,
        current_rows=400 if status == "ok" else 12,
        parameters={"false_discovery_rate": 0.05},
        reasons=["MonthlyIncome drifted (PSI 0.42)"] if drifted else [],
        message="" if status == "ok" else "12 current rows: at least 100 are needed for a verdict",
        features=features if status == "ok" else [],
    )
    return result.to_dict()


def _job_keys(run_id: str) -> dict[str, Any]:
    """What the job adds to the analysis' dict."""
    return {
        "notes": ["MLflow unreachable: metrics not logged"],
        "alerts": [{"sink": "log", "sent": True}],
        "reports": {"json": f"reports/drift_{run_id[:8]}.json", "markdown": f"reports/drift_{run_id[:8]}.md"},
    }


def _record(
    engine: sa.Engine, started: dt.datetime, status: str = "ok", severity: str | None = "none", **extra: Any
) -> str:
    """One run as the job writes it: inserted as running, then (unless still running) completed."""
    run_id = uuid.uuid4().hex  # as the job names runs
    insert_drift_run(
        engine,
        {
            "run_id": run_id,
            "started_at": started,
            "status": "running",
            "reference_description": "reference_data/reference.parquet (1,470 rows)",
            "current_description": f"employees snapshot {started.date()}",
            "reference_rows": 1470,
            "current_rows": 400,
            "model_version": "1",
        },
    )
    if status != "running":
        values: dict[str, Any] = {
            "finished_at": started + dt.timedelta(minutes=3),
            "status": status,
            "severity": severity if status == "ok" else None,
            "results": _results(status, severity) | _job_keys(run_id)
            if status in ("ok", "insufficient_data")
            else None,
            "report_path": f"reports/drift_{run_id[:8]}.json",
        }
        update_drift_run(engine, run_id, values | extra)
    return run_id


def _get(api: Api, path: str, **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


def test_latest_is_404_with_what_to_do_until_a_run_finishes(api: Api) -> None:
    response = api.client.get("/v1/drift/latest", headers=api.headers("viewer"))
    assert response.status_code == 404
    assert response.json()["error"] == NO_RUN_YET
    assert "attrition drift run" in NO_RUN_YET and "python -m monitoring" in NO_RUN_YET

    _record(api.engine, T0, "running")  # in progress is not a result
    assert api.client.get("/v1/drift/latest", headers=api.headers("viewer")).status_code == 404


def test_latest_is_the_newest_finished_run_with_full_results(api: Api) -> None:
    _record(api.engine, T0, "ok", "none")
    newest_finished = _record(api.engine, T0 + dt.timedelta(days=1), "ok", "severe")
    _record(api.engine, T0 + dt.timedelta(days=2), "running")

    body = _get(api, "/v1/drift/latest")
    assert body["run_id"] == newest_finished
    assert (body["status"], body["severity"]) == ("ok", "severe")
    assert body["drifted_features"] == ["MonthlyIncome"]
    assert body["reasons"] == ["MonthlyIncome drifted (PSI 0.42)"]
    assert dt.datetime.fromisoformat(body["started_at"]) == (T0 + dt.timedelta(days=1)).replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(body["finished_at"]).tzinfo is not None
    stored = get_drift_run(api.engine, newest_finished)
    assert stored is not None
    assert body["results"] == stored["results"]  # everything the job stored, "schema" key included
    assert [f["column"] for f in body["results"]["features"]] == ["MonthlyIncome", "OverTime"]
    assert body["results"]["features"][0]["psi"] == pytest.approx(0.42)
    assert body["results"]["drifted_share"] == pytest.approx(0.6)
    assert body["results"]["notes"] == ["MLflow unreachable: metrics not logged"]
    assert body["results"]["reports"]["json"] == body["report_path"]


def test_latest_looks_past_many_runs_left_running(api: Api) -> None:
    finished = _record(api.engine, T0, "insufficient_data")
    for hour in range(1, 56):  # more than one scan page of abandoned runs
        _record(api.engine, T0 + dt.timedelta(hours=hour), "running")
    body = _get(api, "/v1/drift/latest")
    assert body["run_id"] == finished
    assert body["status"] == "insufficient_data" and body["severity"] is None
    assert "at least 100 are needed" in body["message"]


def test_runs_are_listed_newest_first_paginated_without_feature_results(api: Api) -> None:
    plan = [("ok", "none"), ("ok", "moderate"), ("error", None), ("ok", "severe"), ("running", None)]
    ids = [
        _record(api.engine, T0 + dt.timedelta(days=day), status, severity)
        for day, (status, severity) in enumerate(plan)
    ]
    newest_first = ids[::-1]

    first = _get(api, "/v1/drift/runs", limit=2)
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [item["run_id"] for item in first["items"]] == newest_first[:2]
    rest = (
        _get(api, "/v1/drift/runs", limit=2, offset=2)["items"]
        + _get(api, "/v1/drift/runs", limit=2, offset=4)["items"]
    )
    assert [item["run_id"] for item in rest] == newest_first[2:]
    assert _get(api, "/v1/drift/runs", offset=5) == {"items": [], "total": 5, "limit": 20, "offset": 5}

    everything = _get(api, "/v1/drift/runs")["items"]
    assert len(everything) == 5
    for item in everything:
        assert "results" not in item and "features" not in item
        assert item["reference_description"].startswith("reference_data/")
        assert (item["reference_rows"], item["current_rows"], item["model_version"]) == (1470, 400, "1")
    severe = next(item for item in everything if item["severity"] == "severe")
    assert severe["drifted_features"] == ["MonthlyIncome"] and severe["reasons"]
    assert severe["report_path"] == f"reports/drift_{severe['run_id'][:8]}.json"
    running = everything[0]
    assert running["status"] == "running" and running["finished_at"] is None
    assert running["drifted_features"] == [] and running["reasons"] == []


def test_runs_filter_by_status_and_severity(api: Api) -> None:
    plan = [("ok", "none"), ("ok", "severe"), ("ok", "severe"), ("error", None), ("insufficient_data", None)]
    ids = [
        _record(api.engine, T0 + dt.timedelta(days=day), status, severity)
        for day, (status, severity) in enumerate(plan)
    ]
    severe = _get(api, "/v1/drift/runs", severity="severe")
    assert severe["total"] == 2 and [i["run_id"] for i in severe["items"]] == [ids[2], ids[1]]
    ok = _get(api, "/v1/drift/runs", status="ok")
    assert ok["total"] == 3 and {i["status"] for i in ok["items"]} == {"ok"}
    failed = _get(api, "/v1/drift/runs", status="error")
    assert [i["run_id"] for i in failed["items"]] == [ids[3]]
    both = _get(api, "/v1/drift/runs", status="ok", severity="none")
    assert [i["run_id"] for i in both["items"]] == [ids[0]]
    assert _get(api, "/v1/drift/runs", severity="critical")["total"] == 0


@pytest.mark.parametrize(
    ("params", "field", "expected_part"),
    [
        pytest.param({"status": "done"}, "status", "'running'", id="unknown-status"),
        pytest.param({"severity": "high"}, "severity", "'moderate'", id="unknown-severity"),
        pytest.param({"limit": 0}, "limit", "greater than or equal to 1", id="limit-zero"),
        pytest.param({"limit": 201}, "limit", "less than or equal to 200", id="limit-too-big"),
        pytest.param({"offset": -1}, "offset", "greater than or equal to 0", id="negative-offset"),
    ],
)
def test_invalid_list_parameters_are_422_naming_the_field(
    api: Api, params: dict[str, Any], field: str, expected_part: str
) -> None:
    response = api.client.get("/v1/drift/runs", params=params, headers=api.headers("viewer"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in body["error"]
    issue = next(d for d in body["detail"] if d["field"] == field)
    assert expected_part in issue["expected"] and issue["received"] == str(params[field])


def test_a_run_in_full_and_an_error_run_shows_its_error(api: Api) -> None:
    good = _record(api.engine, T0, "ok", "moderate", retrain={"triggered": True, "workflow": "retrain.yml"})
    broken = _record(
        api.engine, T0 + dt.timedelta(hours=1), "error", error="reference data missing: reference_data/"
    )

    body = _get(api, f"/v1/drift/runs/{good}")
    assert body["run_id"] == good and body["severity"] == "moderate"
    assert body["retrain"] == {"triggered": True, "workflow": "retrain.yml"}
    assert body["results"]["features"][0]["column"] == "MonthlyIncome"

    failed = _get(api, f"/v1/drift/runs/{broken}")
    assert failed["status"] == "error" and failed["severity"] is None
    assert failed["error"] == "reference data missing: reference_data/"
    assert failed["results"] is None and failed["finished_at"] is not None
    latest = _get(api, "/v1/drift/latest")
    assert latest["run_id"] == broken and latest["error"] == failed["error"]  # a failure is news too

    unknown = api.client.get(f"/v1/drift/runs/{uuid.uuid4()}", headers=api.headers("viewer"))
    assert unknown.status_code == 404 and "GET /v1/drift/runs" in unknown.json()["error"]


def test_every_drift_endpoint_needs_a_key_and_viewer_is_enough(api: Api) -> None:
    run_id = _record(api.engine, T0)
    paths = ["/v1/drift/latest", "/v1/drift/runs", f"/v1/drift/runs/{run_id}"]
    for path in paths:
        missing = api.client.get(path)
        assert missing.status_code == 401, path
        assert missing.json()["error"]
        assert api.client.get(path, headers={"X-API-Key": "not-a-key"}).status_code == 401, path
        for role in ("viewer", "predictor", "admin"):
            assert api.client.get(path, headers=api.headers(role)).status_code == 200, (path, role)


def test_database_failure_is_503_saying_what_could_not_be_read(api: Api) -> None:
    _record(api.engine, T0)
    with api.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE drift_runs RENAME TO drift_runs_away"))
    try:
        for path in ("/v1/drift/latest", "/v1/drift/runs", f"/v1/drift/runs/{uuid.uuid4()}"):
            response = api.client.get(path, headers=api.headers("viewer"))
            assert response.status_code == 503, (path, response.text)
            assert "could not read the drift run" in response.json()["error"]
    finally:
        with api.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE drift_runs_away RENAME TO drift_runs"))


def test_openapi_documents_the_drift_endpoints(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    latest = paths["/v1/drift/latest"]["get"]
    assert latest["summary"] == "The newest finished drift run"
    assert {"401", "403", "404", "429", "503"} <= set(latest["responses"])
    runs = paths["/v1/drift/runs"]["get"]
    assert {"422", "503"} <= set(runs["responses"])
    params = {p["name"]: p["schema"] for p in runs["parameters"]}
    status_enum = params["status"]["anyOf"][0]["enum"]
    assert status_enum == list(DRIFT_RUN_STATUSES) == ["running", "ok", "insufficient_data", "error"]
    assert params["severity"]["anyOf"][0]["enum"] == list(SEVERITIES)
    assert params["limit"]["maximum"] == 200 and params["limit"]["default"] == 20
    assert "404" in paths["/v1/drift/runs/{run_id}"]["get"]["responses"]
