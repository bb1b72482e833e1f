"""``GET /v1/model/versions`` (the registered versions, read from a real MLflow store) and the
``model_version`` filter of ``GET /v1/predictions``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_support import running_api
from conftest_model import ModelEnv

from attrition.config import Settings
from attrition.db.models import utcnow
from attrition.db.repositories import insert_predictions, query_predictions
from attrition.registry.runs import log_and_register
from attrition.schema import EXAMPLE_RECORD


def test_versions_newest_first_with_aliases_metrics_and_fairness(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    second = log_and_register(champion_env.result, settings, actor="fixture")
    with running_api(settings) as api:
        response = api.client.get("/v1/model/versions", headers=api.headers("viewer"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_name"] == settings.model_name
        newest, first = body["items"]
        assert (newest["version"], newest["aliases"]) == (second, ["challenger"])
        assert (first["version"], first["aliases"]) == (champion_env.version, ["champion"])
        metrics = champion_env.result.metrics
        assert first["metrics"]["roc_auc"] == pytest.approx(metrics["roc_auc"])
        assert first["metrics"]["pr_auc"] == pytest.approx(metrics["pr_auc"])
        assert not [k for k in first["metrics"] if k.startswith("confusion_") or k == "fairness_passed"]
        assert first["fairness_passed"] is True and first["status"] == "READY"
        assert first["run_id"] and newest["run_id"] != first["run_id"]
        assert first["tags"]["champion_set_by"] == "fixture"
        assert newest["created_at"] >= first["created_at"]

        one = api.client.get("/v1/model/versions?limit=1", headers=api.headers("viewer")).json()
        assert [v["version"] for v in one["items"]] == [second]
        assert api.client.get("/v1/model/versions").status_code == 401
        bad = api.client.get("/v1/model/versions?limit=0", headers=api.headers("viewer"))
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "limit"


def test_versions_of_an_empty_registry(empty_env: Settings) -> None:
    with running_api(empty_env) as api:
        empty = api.client.get("/v1/model/versions", headers=api.headers("viewer"))
        assert empty.status_code == 200, empty.text
        assert empty.json() == {"model_name": empty_env.model_name, "items": []}


def test_versions_when_mlflow_is_unreachable(settings: Settings) -> None:
    down = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    with running_api(down) as api:
        answer = api.client.get("/v1/model/versions", headers=api.headers("viewer"))
        assert answer.status_code == 503
        assert "could not list the model versions" in answer.json()["error"]
        assert "not reachable" in answer.json()["error"]


def _logged(number: int, version: str) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": utcnow(),
        "employee_number": number,
        "model_name": "attrition-classifier",
        "model_version": version,
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
        "top_factors": None,
        "source": "api",
        "request_id": None,
    }


def test_predictions_filtered_by_model_version(empty_env: Settings) -> None:
    with running_api(empty_env) as api:
        insert_predictions(api.engine, [_logged(n, "1") for n in (1, 2, 3)] + [_logged(4, "2")])
        rows, total = query_predictions(api.engine, model_version="1")
        assert total == 3 and {r["employee_number"] for r in rows} == {1, 2, 3}

        viewer = api.headers("viewer")
        second = api.client.get("/v1/predictions?model_version=2", headers=viewer).json()
        assert second["total"] == 1 and [p["employee_number"] for p in second["items"]] == [4]
        combined = api.client.get("/v1/predictions?model_version=1&employee_number=2", headers=viewer).json()
        assert [p["employee_number"] for p in combined["items"]] == [2]
        none = api.client.get("/v1/predictions?model_version=7", headers=viewer).json()
        assert none["total"] == 0 and none["items"] == []
        too_long = api.client.get(f"/v1/predictions?model_version={'9' * 21}", headers=viewer)
        assert too_long.status_code == 422 and too_long.json()["detail"][0]["field"] == "model_version"
