"""API edge cases found in an audit: time filters without a UTC equivalent, unexpected exceptions,
OpenAPI examples, malformed JSON, and single predictions when the fast path is off.

Real app, real trained champion, real SQLite app DB; a live uvicorn where the server's own
logging is what is tested.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import logging
import pkgutil
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from api_support import Api, running_api, serving, wait_for
from conftest_model import ModelEnv
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import api as api_package
from api.app import create_app
from api.lifecycle import LoadedModel
from api.schemas import EXAMPLE_REQUEST
from attrition.config import Settings
from attrition.features import FeatureBuilder
from attrition.schema import TARGET
from attrition.serving.fastpath import FastPredictor

RECORD = dict(EXAMPLE_REQUEST)


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings) as running:
        yield running


def _assert_clean(body: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(body)
    assert body["error"] and "Traceback" not in text and "/work/" not in text and ".py" not in text
    for secret in secrets:
        assert secret not in text


# --- 1. time filters whose UTC equivalent does not exist --------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("since", "0001-01-01T00:00:00+01:00"), ("until", "9999-12-31T23:59:59-01:00")],
)
def test_time_filter_without_a_utc_equivalent_is_422_naming_the_field(
    api: Api, field: str, value: str
) -> None:
    response = api.client.get("/v1/predictions", params={field: value}, headers=api.headers("viewer"))
    assert response.status_code == 422, response.text
    body = response.json()
    _assert_clean(body)
    assert field in body["error"]
    [issue] = body["detail"]
    assert issue["field"] == field
    assert "0001-01-01 and 9999-12-31" in issue["expected"] and "UTC" in issue["expected"]
    assert issue["received"] == value


def test_both_time_filters_out_of_range_are_both_named(api: Api) -> None:
    params = {"since": "0001-01-01T00:00:00+01:00", "until": "9999-12-31T23:59:59-01:00"}
    response = api.client.get("/v1/predictions", params=params, headers=api.headers("viewer"))
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == ["since", "until"]
    # The extremes that do convert still work.
    edge = {"since": "0001-01-01T00:00:00-01:00", "until": "9999-12-31T23:59:59+01:00"}
    assert api.client.get("/v1/predictions", params=edge, headers=api.headers("viewer")).status_code == 200


def test_unknown_query_parameters_are_422_naming_them(api: Api) -> None:
    viewer = api.headers("viewer")
    misspelt = api.client.get("/v1/predictions", params={"risk": "high", "limit": 5}, headers=viewer)
    assert misspelt.status_code == 422
    [issue] = misspelt.json()["detail"]
    assert issue["field"] == "risk" and issue["received"] == "high" and "risk_band" in issue["expected"]
    drift = api.client.get("/v1/drift/runs", params={"sevrity": "none"}, headers=viewer)
    assert drift.status_code == 422 and drift.json()["detail"][0]["field"] == "sevrity"
    none_declared = api.client.get("/v1/model", params={"x": "1"}, headers=viewer)
    assert (
        none_declared.status_code == 422
        and "no query parameters" in none_declared.json()["detail"][0]["expected"]
    )
    # Declared parameters, including those of dependencies, still work.
    assert api.client.get("/v1/predictions", params={"risk_band": "high"}, headers=viewer).status_code == 200
    assert api.client.get("/health", params={}).status_code == 200


# --- 2. unexpected exceptions end at our middleware ------------------------------------------


def _app_with_failing_routes(settings: Settings, marker: str) -> FastAPI:
    """The real app plus two test-only routes whose exception message quotes ``marker``."""
    app = create_app(settings.model_copy(update={"serving": serving()}))

    async def fails_async() -> None:
        raise RuntimeError(f"MonthlyIncome={marker} could not be scored")

    def fails_in_thread() -> None:
        raise ValueError(f"employee {marker}")

    app.add_api_route("/v1/test-fails", fails_async, methods=["GET"])
    app.add_api_route("/v1/test-fails-sync", fails_in_thread, methods=["GET"])
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_internal_error(response: httpx.Response, marker: str) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    _assert_clean(body, marker, "RuntimeError", "ValueError")
    request_id = response.headers["x-request-id"]
    assert body["request_id"] == request_id and request_id in body["error"]
    assert body["detail"] == []


def test_unexpected_exception_is_a_json_500_and_never_reaches_the_server(empty_env: Settings) -> None:
    marker = uuid.uuid4().hex
    app = _app_with_failing_routes(empty_env, marker)
    # raise_server_exceptions=True: an exception re-raised past the app fails the request here.
    with TestClient(app, raise_server_exceptions=True) as client:
        for path in ("/v1/test-fails", "/v1/test-fails-sync"):
            _assert_internal_error(client.get(path, headers={"Origin": "http://ui.example"}), marker)
        cors = client.get("/v1/test-fails", headers={"Origin": "http://ui.example"})
        assert cors.headers["access-control-allow-origin"] == "http://ui.example"
        metrics = client.get("/metrics").text
    assert 'attrition_api_requests_total{method="GET",route="/v1/test-fails",status="500"} 2.0' in metrics
    assert (
        'attrition_api_requests_total{method="GET",route="/v1/test-fails-sync",status="500"} 1.0' in metrics
    )


def test_unexpected_exception_message_is_in_no_log_record_of_a_live_server(
    empty_env: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    marker = uuid.uuid4().hex
    app = _app_with_failing_routes(empty_env, marker)
    port = _free_port()
    # log_config=None: uvicorn's records propagate to the root logger, where caplog sees them.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    with caplog.at_level(logging.DEBUG):
        thread.start()
        try:
            assert wait_for(lambda: server.started, timeout=60)
            for path in ("/v1/test-fails", "/v1/test-fails-sync"):
                _assert_internal_error(httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30), marker)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    formatter = logging.Formatter()
    # Every record in full: message, exception text and stack (uvicorn.error included).
    logged = [formatter.format(record) for record in caplog.records]
    assert not [line for line in logged if marker in line]
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]
    unhandled = [r.getMessage() for r in caplog.records if r.name == "api.errors"]
    assert len(unhandled) == 2 and "unhandled RuntimeError on GET /v1/test-fails" in unhandled[0]
    assert "fails_async" in unhandled[0]  # the frames are there, for the operator


# --- 4. OpenAPI examples ---------------------------------------------------------------------


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, spec["components"]["schemas"][name]


#: api/schemas.py and its siblings (schemas_auth.py, ...): where the response models live.
_SCHEMA_MODULES = [
    importlib.import_module(f"api.{m.name}")
    for m in pkgutil.iter_modules(api_package.__path__)
    if m.name.startswith("schemas")
]


def _model_of(component: str) -> type[Any]:
    name = component.removesuffix("-Input").removesuffix("-Output")
    for module in _SCHEMA_MODULES:
        model: type[Any] | None = getattr(module, name, None)
        if model is not None:
            return model
    raise AssertionError(f"{component} is not a model of {[m.__name__ for m in _SCHEMA_MODULES]}")


def _check_example(component: str, schema: dict[str, Any], example: Any) -> None:
    """The example is a valid instance: of our model, or of the form FastAPI built (``Body_...``)."""
    if component.startswith("Body_"):  # a form: every required field, nothing unknown
        assert set(schema.get("required", [])) <= set(example) <= set(schema["properties"]), example
    else:
        _model_of(component).model_validate(example)


def test_openapi_has_an_example_for_every_request_body_and_success_response(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    checked: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            bodies = []
            if "requestBody" in operation:
                content = operation["requestBody"]["content"]
                kinds = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
                bodies.append(("request", content[next(kind for kind in kinds if kind in content)]))
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media is not None:
                    bodies.append((f"response {status}", media))
            for what, media in bodies:
                where = f"{method.upper()} {path} {what}"
                component, schema = _resolve(media.get("schema", {}), spec)
                examples = list(schema.get("examples", []))
                media_examples = [e["value"] for e in media.get("examples", {}).values()]
                media_examples += [media["example"]] if "example" in media else []
                assert examples or media_examples, f"{where}: no example"
                if component is not None:  # the examples are valid instances of the model
                    for example in examples + media_examples:
                        _check_example(component, schema, example)
                checked.append(where)
    assert len([c for c in checked if c.split()[1].startswith("/v1")]) >= 12
    assert "GET /ready response 200" in checked and "POST /v1/feedback response 201" in checked
    assert "POST /v1/auth/token request" in checked and "POST /v1/auth/token response 200" in checked


def test_prediction_log_query_parameters_have_working_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    parameters = spec["paths"]["/v1/predictions"]["get"]["parameters"]
    query = [p for p in parameters if p["in"] == "query"]
    assert {p["name"] for p in query} == {
        "employee_number",
        "since",
        "until",
        "risk_band",
        "source",
        "model_version",
        "limit",
        "offset",
    }
    values = {}
    for parameter in query:
        examples = parameter.get("examples") or {}
        assert examples, f"{parameter['name']}: no example"
        values[parameter["name"]] = next(iter(examples.values()))["value"]
    # Together they make a valid request.
    response = api.client.get("/v1/predictions", params=values, headers=api.headers("viewer"))
    assert response.status_code == 200, response.text


# --- 5. malformed JSON -----------------------------------------------------------------------


def test_invalid_json_names_the_position_not_a_field(api: Api) -> None:
    headers = {**api.headers(), "Content-Type": "application/json"}
    response = api.client.post("/v1/predict", content=b'{"Age": 4', headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    _assert_clean(body)
    assert body["error"].startswith("the body is not valid JSON at character 9: ")
    [issue] = body["detail"]
    assert issue["field"] is None and issue["expected"] == "valid JSON"
    assert issue["received"].startswith("the body is not valid JSON at character 9: ")
    assert len(issue["received"]) > len("the body is not valid JSON at character 9: ")  # the reason
    batch = api.client.post("/v1/predict/batch", content=b'{"records": [}', headers=headers)
    assert batch.status_code == 422 and batch.json()["detail"][0]["field"] is None
    assert "at character 13" in batch.json()["error"]


# --- 7. the full pipeline runs in the thread pool when the fast path is off ------------------

#: For each pipeline call: was an asyncio event loop running in the calling thread?
_ON_EVENT_LOOP: list[bool] = []


def _note_thread(frame: Any) -> Any:
    try:
        asyncio.get_running_loop()
        _ON_EVENT_LOOP.append(True)
    except RuntimeError:
        _ON_EVENT_LOOP.append(False)
    return frame


def test_predict_without_a_fast_path_runs_the_pipeline_off_the_event_loop(
    api: Api, champion_env: ModelEnv
) -> None:
    # A pipeline with a step the fast-path compiler does not know: it falls back to the full pipeline.
    train = champion_env.employees.drop(columns="snapshot_date")
    y = (train[TARGET] == "Yes").to_numpy()
    base = Pipeline(
        [
            ("features", FeatureBuilder()),
            ("probe", FunctionTransformer(_note_thread)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression()),
        ]
    )
    pipeline = CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False).fit(train, y)
    served = api.ctx.holder.current
    assert served is not None
    model = dataclasses.replace(served.predictor.model, pipeline=pipeline)
    predictor = dataclasses.replace(served.predictor, model=model)
    fast = FastPredictor(model)
    assert not fast.compiled and "FunctionTransformer" in str(fast.reason)
    api.ctx.holder.current = LoadedModel(predictor, fast)

    _ON_EVENT_LOOP.clear()
    response = api.client.post("/v1/predict", json=RECORD, headers=api.headers())
    assert response.status_code == 200, response.text
    assert _ON_EVENT_LOOP == [False]
    expected = model.predict_proba(pd.DataFrame([RECORD]))
    np.testing.assert_allclose(response.json()["probability"], expected[0], rtol=1e-9)
