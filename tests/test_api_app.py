"""The prediction API end to end: real trained champion in a real MLflow store, real SQLite app DB."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from api_support import Api, running_api, wait_for
from conftest_model import ModelEnv

from api.schemas import EXAMPLE_REQUEST
from attrition.config import Settings
from attrition.db.repositories import get_prediction, outcomes_frame
from attrition.keys import revoke_key
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SPECS

RECORD = dict(EXAMPLE_REQUEST)


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings) as running:
        yield running


def _expected_probability(env: ModelEnv, records: list[dict[str, Any]]) -> np.ndarray:
    return env.result.model.predict_proba(pd.DataFrame(records))


def _assert_clean_error(body: dict[str, Any]) -> None:
    """Errors are JSON with a message; never a traceback or a server path."""
    text = json.dumps(body)
    assert body["error"] and "Traceback" not in text and "/work/" not in text and ".py" not in text


# --- health, readiness, metrics --------------------------------------------------------------


def test_health_ready_and_metrics_need_no_key(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok"}
    ready = api.client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["model"]["ok"] and "version 1" in body["checks"]["model"]["detail"]
    assert body["checks"]["database"]["ok"] and body["checks"]["registry"]["ok"]

    api.client.post("/v1/predict", json=RECORD, headers=api.headers())
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'attrition_api_model_info{model_name="attrition-classifier",model_version="1"} 1.0' in text
    assert 'attrition_api_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'attrition_api_request_seconds_count{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert "attrition_api_predictions_total{" in text and "attrition_api_prediction_log_depth" in text
    assert "attrition_api_prediction_log_dropped_total 0.0" in text
    assert (
        "attrition_api_prediction_log_spilled_total 0.0" in text and "prediction_log_replayed_total" in text
    )
    assert "attrition_api_fast_path 1.0" in text and "attrition_api_registry_up 1.0" in text


# --- predict ---------------------------------------------------------------------------------


def test_predict_returns_the_models_numbers_and_logs_them(api: Api, champion_env: ModelEnv) -> None:
    response = api.client.post("/v1/predict", json=RECORD, headers=api.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    model = champion_env.result.model
    expected = float(_expected_probability(champion_env, [RECORD])[0])
    assert body["probability"] == pytest.approx(expected, rel=1e-9)
    assert body["label"] == (expected >= model.threshold) and body["threshold"] == model.threshold
    assert body["risk_band"] == model.predict(pd.DataFrame([RECORD]))["risk_band"].iloc[0]
    assert (body["model_name"], body["model_version"]) == ("attrition-classifier", "1")
    assert body["employee_number"] == RECORD[ID_COLUMN] and body["warnings"] == [] and body["factors"] is None

    assert api.ctx.log.flush()
    row = get_prediction(api.engine, body["prediction_id"])
    assert row is not None
    assert (row["model_version"], row["source"], row["employee_number"]) == ("1", "api", RECORD[ID_COLUMN])
    assert row["probability"] == pytest.approx(body["probability"]) and row["risk_band"] == body["risk_band"]
    assert row["inputs"]["MonthlyIncome"] == RECORD["MonthlyIncome"] and row["request_id"]


def test_predict_with_explain_returns_signed_top_factors(api: Api) -> None:
    body = api.client.post("/v1/predict?explain=true", json=RECORD, headers=api.headers()).json()
    factors = body["factors"]
    assert len(factors) == 5
    for factor in factors:
        assert factor["feature"] in SPECS
        assert factor["direction"] == ("raises" if factor["contribution"] > 0 else "lowers")
        assert factor["value"] == RECORD[factor["feature"]]
    sizes = [abs(f["contribution"]) for f in factors]
    assert sizes == sorted(sizes, reverse=True)
    assert api.ctx.log.flush()
    assert get_prediction(api.engine, body["prediction_id"])["top_factors"] == factors  # type: ignore[index]


def test_unusual_but_valid_values_come_back_as_warnings(api: Api) -> None:
    record = {**RECORD, "Age": 63, "MonthlyIncome": 25_000, "Department": "Research & Development"}
    response = api.client.post("/v1/predict", json=record, headers=api.headers())
    assert response.status_code == 200, response.text
    warned = {w["field"]: w for w in response.json()["warnings"]}
    assert set(warned) == {"Age", "MonthlyIncome", "Department"}
    assert warned["Age"]["received"] == 63 and "18-60" in warned["Age"]["expected"]
    assert "Sales Executive is usually in Sales" in warned["Department"]["expected"]


def test_batch_predicts_every_record_with_the_full_pipeline(api: Api, champion_env: ModelEnv) -> None:
    records = [
        {**RECORD, ID_COLUMN: n, "OverTime": "Yes" if n % 2 else "No", "Age": 25 + n} for n in range(1, 21)
    ]
    response = api.client.post("/v1/predict/batch", json={"records": records}, headers=api.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 20 and body["model_version"] == "1"
    got = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, _expected_probability(champion_env, records), rtol=1e-9)
    assert [p["employee_number"] for p in body["predictions"]] == list(range(1, 21))
    assert api.ctx.log.flush()
    rows = api.client.get("/v1/predictions", params={"limit": 100}, headers=api.headers("viewer")).json()
    assert rows["total"] == 20


def test_batch_with_bad_records_names_every_index_and_why(api: Api) -> None:
    records = [
        RECORD,
        {**RECORD, "Age": 7},
        RECORD,
        {**RECORD, "YearsInCurrentRole": 9, "YearsAtCompany": 6},
        {**RECORD, "Bonus": 1, "JobRole": "Astronaut"},
    ]
    response = api.client.post("/v1/predict/batch", json={"records": records}, headers=api.headers())
    assert response.status_code == 422
    body = response.json()
    _assert_clean_error(body)
    by_index = {(d["index"], d["field"]) for d in body["detail"]}
    assert by_index == {(1, "Age"), (3, "YearsInCurrentRole"), (4, "Bonus"), (4, "JobRole")}
    assert "records 1, 3, 4" in body["error"]
    cross = next(d for d in body["detail"] if d["index"] == 3)
    assert cross["expected"] == "YearsInCurrentRole <= YearsAtCompany"
    assert cross["received"] == "YearsInCurrentRole=9, YearsAtCompany=6"
    assert api.ctx.log.depth == 0 and api.ctx.log.stats.submitted == 0  # nothing predicted, nothing logged


def test_batch_over_the_configured_size_is_refused(api: Api) -> None:
    records = [{**RECORD, ID_COLUMN: n} for n in range(1, 52)]
    response = api.client.post("/v1/predict/batch", json={"records": records}, headers=api.headers())
    assert response.status_code == 422
    assert response.json()["detail"][0] == {
        "field": "records",
        "expected": "at most 50 records",
        "received": 51,
        "index": None,
    }


# --- strict validation -----------------------------------------------------------------------


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in RECORD.items() if k != field}


@pytest.mark.parametrize(
    ("payload", "field", "expected_part"),
    [
        pytest.param({**RECORD, "Bonus": 1000}, "Bonus", "no such field", id="unknown-field"),
        pytest.param({**RECORD, "Age": "forty"}, "Age", "valid integer", id="wrong-type"),
        pytest.param({**RECORD, "Age": "41"}, "Age", "valid integer", id="number-as-string-not-coerced"),
        pytest.param({**RECORD, "Age": 41.5}, "Age", "valid integer", id="float"),
        pytest.param({**RECORD, "Age": 7}, "Age", "greater than or equal to 14", id="out-of-range"),
        pytest.param({**RECORD, "JobRole": "Astronaut"}, "JobRole", "Sales Executive", id="unknown-category"),
        pytest.param(_without("JobRole"), "JobRole", "required", id="missing-field"),
        pytest.param({**RECORD, "Over18": "N"}, "Over18", "'Y'", id="constant-differs"),
        pytest.param(
            {**RECORD, "YearsAtCompany": 20, "TotalWorkingYears": 8},
            "YearsAtCompany",
            "<= TotalWorkingYears",
            id="cross-field",
        ),
    ],
)
def test_invalid_records_are_422_naming_the_field(
    api: Api, payload: dict[str, Any], field: str, expected_part: str
) -> None:
    response = api.client.post("/v1/predict", json=payload, headers=api.headers())
    assert response.status_code == 422, response.text
    body = response.json()
    _assert_clean_error(body)
    issue = next(d for d in body["detail"] if d["field"] == field)
    assert expected_part in issue["expected"]
    assert field in body["error"]
    if field in payload:
        assert issue["received"] is not None


def test_empty_body_wrong_content_type_bad_json_and_huge_body(api: Api) -> None:
    headers = api.headers()
    empty = api.client.post(
        "/v1/predict", content=b"", headers={**headers, "Content-Type": "application/json"}
    )
    assert empty.status_code == 422 and "request body is empty" in empty.json()["error"]

    form = api.client.post(
        "/v1/predict", content=b"Age=41", headers={**headers, "Content-Type": "text/plain"}
    )
    assert form.status_code == 415 and "application/json" in form.json()["error"]
    untyped = api.client.post("/v1/predict", content=b'{"Age": 41}', headers=headers)
    assert untyped.status_code == 415

    broken = api.client.post(
        "/v1/predict", content=b'{"Age": ', headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["expected"] == "valid JSON"

    huge = json.dumps({"records": [RECORD] * 400}).encode()  # ~480 kB > the 200 kB limit of these tests
    too_big = api.client.post(
        "/v1/predict/batch", content=huge, headers={**headers, "Content-Type": "application/json"}
    )
    assert too_big.status_code == 413 and "too large" in too_big.json()["error"]
    _assert_clean_error(too_big.json())
    not_json_array = api.client.post("/v1/predict", json=[RECORD], headers=headers)
    assert not_json_array.status_code == 422


def test_unknown_route_and_method_are_json(api: Api) -> None:
    missing = api.client.get("/v1/nothing", headers=api.headers())
    assert missing.status_code == 404 and "no such endpoint" in missing.json()["error"]
    wrong = api.client.get("/v1/predict", headers=api.headers())
    assert wrong.status_code == 405 and "not allowed" in wrong.json()["error"]


# --- authentication and roles ----------------------------------------------------------------


def test_auth_none_bad_revoked_wrong_role(api: Api) -> None:
    none = api.client.post("/v1/predict", json=RECORD)
    assert none.status_code == 401 and "X-API-Key" in none.json()["error"]
    assert none.headers["WWW-Authenticate"] == "X-API-Key"
    bad = api.client.post(
        "/v1/predict", json=RECORD, headers={"X-API-Key": api.keys["predictor"][:-3] + "xyz"}
    )
    assert bad.status_code == 401

    viewer = api.client.post("/v1/predict", json=RECORD, headers=api.headers("viewer"))
    assert viewer.status_code == 403 and "needs role 'predictor'" in viewer.json()["error"]
    assert api.client.post("/v1/admin/reload", headers=api.headers("predictor")).status_code == 403
    assert api.client.get("/v1/model", headers=api.headers("viewer")).status_code == 200
    assert api.client.get("/v1/model", headers=api.headers("admin")).status_code == 200  # roles are ordered

    assert api.client.post("/v1/predict", json=RECORD, headers=api.headers()).status_code == 200
    revoke_key(api.engine, "test-predictor")
    revoked = api.client.post("/v1/predict", json=RECORD, headers=api.headers())
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]


def test_rate_limit_is_per_key_with_retry_after(champion_env: ModelEnv) -> None:
    with running_api(champion_env.settings, rate_limit_per_minute=3) as api:
        statuses = [
            api.client.get("/v1/employees/sample", headers=api.headers("viewer")).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = api.client.get("/v1/employees/sample", headers=api.headers("viewer"))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "rate limit of 3 requests per minute" in limited.json()["error"]
        # Another key has its own bucket.
        assert api.client.get("/v1/employees/sample", headers=api.headers("admin")).status_code == 200


def test_cors_allows_only_configured_origins(api: Api) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key,content-type",
    }
    allowed = api.client.options("/v1/predict", headers={"Origin": "http://ui.example", **preflight})
    assert (
        allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "http://ui.example"
    )
    denied = api.client.options("/v1/predict", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in denied.headers
    # Errors answered before routing still carry CORS headers, so a browser client can read them.
    refused = api.client.post(
        "/v1/predict",
        content=b"x",
        headers={**api.headers(), "Origin": "http://ui.example", "Content-Type": "text/csv"},
    )
    assert (
        refused.status_code == 415 and refused.headers["access-control-allow-origin"] == "http://ui.example"
    )


# --- model, sample, predictions, feedback, admin -------------------------------------------


def test_model_endpoint_describes_the_champion(api: Api, champion_env: ModelEnv) -> None:
    body = api.client.get("/v1/model", headers=api.headers("viewer")).json()
    assert body["model_version"] == "1" and body["fast_path"] is True
    info = body["info"]
    assert info["threshold"] == champion_env.result.model.threshold
    assert info["risk_bands"] == champion_env.result.model.risk_bands.model_dump()
    assert info["metrics"]["roc_auc"] > 0.5 and info["fairness_passed"] is True and info["trained_at"]
    assert [c["name"] for c in body["input_schema"]] == list(SPECS)
    age = next(c for c in body["input_schema"] if c["name"] == "Age")
    assert (age["minimum"], age["maximum"], age["typical_minimum"], age["typical_maximum"]) == (
        14,
        100,
        18,
        60,
    )


def test_sample_record_is_valid_for_predict(api: Api) -> None:
    sample = api.client.get("/v1/employees/sample", headers=api.headers("viewer")).json()
    assert set(sample) >= set(RECORD_COLUMNS)
    assert api.client.post("/v1/predict", json=sample, headers=api.headers()).status_code == 200


def test_predictions_are_paginated_and_filtered(api: Api) -> None:
    for number in (11, 12, 12, 13):
        assert (
            api.client.post(
                "/v1/predict", json={**RECORD, ID_COLUMN: number}, headers=api.headers()
            ).status_code
            == 200
        )
    assert api.ctx.log.flush()
    viewer = api.headers("viewer")
    page = api.client.get("/v1/predictions", params={"limit": 2, "offset": 1}, headers=viewer).json()
    assert page["total"] == 4 and len(page["items"]) == 2 and (page["limit"], page["offset"]) == (2, 1)
    by_employee = api.client.get("/v1/predictions", params={"employee_number": 12}, headers=viewer).json()
    assert by_employee["total"] == 2 and {i["employee_number"] for i in by_employee["items"]} == {12}
    band = by_employee["items"][0]["risk_band"]
    assert api.client.get("/v1/predictions", params={"risk_band": band}, headers=viewer).json()["total"] == 4
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert api.client.get("/v1/predictions", params={"since": future}, headers=viewer).json()["total"] == 0
    assert api.client.get("/v1/predictions", params={"source": "batch"}, headers=viewer).json()["total"] == 0
    bad = api.client.get("/v1/predictions", params={"risk_band": "extreme", "limit": 0}, headers=viewer)
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["detail"]} == {"risk_band", "limit"}


def test_feedback_links_outcomes_to_predictions_and_employees(api: Api) -> None:
    prediction = api.client.post("/v1/predict", json={**RECORD, ID_COLUMN: 77}, headers=api.headers()).json()
    pid = prediction["prediction_id"]
    linked = api.client.post(
        "/v1/feedback",
        json={"prediction_id": pid, "left": True, "outcome_date": "2026-03-31"},
        headers=api.headers(),
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["employee_number"] == 77 and linked.json()["prediction_id"] == pid
    by_employee = api.client.post(
        "/v1/feedback",
        json={"employee_number": 5, "left": False, "outcome_date": "2026-03-31"},
        headers=api.headers(),
    )
    assert by_employee.status_code == 201
    outcomes = outcomes_frame(api.engine)
    assert outcomes[["employee_number", "prediction_id", "left"]].values.tolist() == [
        [77, pid, True],
        [5, None, False],
    ]

    unknown = api.client.post(
        "/v1/feedback",
        json={"prediction_id": "nope", "left": True, "outcome_date": "2026-03-31"},
        headers=api.headers(),
    )
    assert unknown.status_code == 404 and unknown.json()["detail"][0]["field"] == "prediction_id"
    mismatch = api.client.post(
        "/v1/feedback",
        json={"prediction_id": pid, "employee_number": 78, "left": True, "outcome_date": "2026-03-31"},
        headers=api.headers(),
    )
    assert mismatch.status_code == 422 and mismatch.json()["detail"][0]["field"] == "employee_number"
    neither = api.client.post(
        "/v1/feedback", json={"left": True, "outcome_date": "2026-03-31"}, headers=api.headers()
    )
    assert neither.status_code == 422
    future = api.client.post(
        "/v1/feedback",
        json={"employee_number": 5, "left": True, "outcome_date": "2999-01-01"},
        headers=api.headers(),
    )
    assert future.status_code == 422 and future.json()["detail"][0]["field"] == "outcome_date"
    viewer = api.client.post(
        "/v1/feedback",
        json={"employee_number": 5, "left": True, "outcome_date": "2026-03-31"},
        headers=api.headers("viewer"),
    )
    assert viewer.status_code == 403


def test_admin_reload_keeps_the_same_version_when_the_alias_did_not_move(api: Api) -> None:
    response = api.client.post("/v1/admin/reload", headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json() == {"previous_version": "1", "model_version": "1", "changed": False}


# --- model lifecycle -------------------------------------------------------------------------


def test_alias_move_is_served_without_restart(champion_env: ModelEnv) -> None:
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register

    settings = champion_env.settings
    with running_api(settings, reload_interval_seconds=0.2) as api:
        assert (
            api.client.post("/v1/predict", json=RECORD, headers=api.headers()).json()["model_version"] == "1"
        )
        version = log_and_register(champion_env.result, settings, actor="test", source="test")
        decision = promote(settings, version, actor="test")
        assert decision.promoted, decision.message()
        assert wait_for(
            lambda: api.ctx.holder.current is not None and api.ctx.holder.current.version == version
        )
        body = api.client.post("/v1/predict", json=RECORD, headers=api.headers()).json()
        assert body["model_version"] == version == "2"
        assert api.client.get("/v1/model", headers=api.headers("viewer")).json()["model_version"] == "2"
        assert api.ctx.log.flush()
        assert get_prediction(api.engine, body["prediction_id"])["model_version"] == "2"  # type: ignore[index]


def test_registry_unreachable_keeps_serving_and_is_reported(champion_env: ModelEnv) -> None:
    with running_api(champion_env.settings) as api:
        # Point the running app's registry at an MLflow server that is not there.
        api.ctx.holder.settings = champion_env.settings.model_copy(
            update={"mlflow_tracking_uri": "http://127.0.0.1:9/"}
        )
        assert api.ctx.holder.poll() is False
        assert api.client.post("/v1/predict", json=RECORD, headers=api.headers()).status_code == 200
        ready = api.client.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert not ready.json()["checks"]["registry"]["ok"]
        assert "attrition_api_registry_up 0.0" in api.client.get("/metrics").text


def test_no_model_starts_and_says_what_to_do(empty_env: Settings) -> None:
    with running_api(empty_env) as api:
        assert api.client.get("/health").status_code == 200
        ready = api.client.get("/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert not checks["model"]["ok"] and "attrition train --promote" in checks["model"]["detail"]
        assert checks["database"]["ok"]
        predict = api.client.post("/v1/predict", json=RECORD, headers=api.headers())
        assert predict.status_code == 503 and "attrition train --promote" in predict.json()["error"]
        assert "attrition_api_model_loaded 0.0" in api.client.get("/metrics").text


def test_log_lines_carry_no_employee_attributes(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    marker = 987_654
    with caplog.at_level(logging.DEBUG):
        api.client.post(
            "/v1/predict?explain=true", json={**RECORD, "MonthlyIncome": marker}, headers=api.headers()
        )
        api.client.post(
            "/v1/predict", json={**RECORD, "MonthlyIncome": marker, "Age": 3}, headers=api.headers()
        )
        api.client.post(
            "/v1/predict/batch", json={"records": [{**RECORD, "MonthlyRate": marker}]}, headers=api.headers()
        )
        assert api.ctx.log.flush()
    assert caplog.records
    assert not [r.getMessage() for r in caplog.records if str(marker) in r.getMessage()]
