"""``GET /v1/drift/runs/{id}/report`` and ``GET /v1/model/card`` end to end: a real champion, real drift runs.

Drift runs come from the real drift job (``run_drift_check``) on the champion's reference
data; a tampered row is written with the repository function the job uses. No mocks.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, running_api
from conftest_model import ModelEnv

from api.routers.model import MAX_POINTS
from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.db.drift_runs import get_drift_run, update_drift_run
from attrition.db.engine import get_engine
from attrition.jobs.drift import DriftRequest, DriftRunOutcome, run_drift_check
from attrition.keys import revoke_key
from attrition.model_card import build_card

ROWS = 400


@pytest.fixture
def env(champion_env: ModelEnv, model_env: ModelEnv) -> ModelEnv:
    """A private champion with the reference data its promotion wrote."""
    shutil.copytree(model_env.settings.reference_dir, champion_env.settings.reference_dir)
    champion_env.settings.monitoring.domain_classifier = False
    return champion_env


def _check(env: ModelEnv, tmp_path: Path, *, html: bool = True, name: str = "current.csv") -> DriftRunOutcome:
    current = tmp_path / name
    generate_workforce(ROWS, seed=5, drift="overtime_surge").to_csv(current, index=False)
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current, html=html))
    assert outcome.status == "ok", outcome.markdown
    return outcome


@pytest.fixture
def api(env: ModelEnv) -> Iterator[Api]:
    with running_api(env.settings) as running:
        yield running


def _report(api: Api, run_id: str, role: str = "viewer") -> object:
    return api.client.get(f"/v1/drift/runs/{run_id}/report", headers=api.headers(role))


def test_report_is_served_as_embeddable_html_with_restrictive_headers(
    env: ModelEnv, api: Api, tmp_path: Path
) -> None:
    outcome = _check(env, tmp_path)
    html_path = Path(outcome.reports["html"])
    response = api.client.get(f"/v1/drift/runs/{outcome.run_id}/report", headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'unsafe-inline'" in csp
    assert "connect-src 'none'" in csp and "frame-ancestors 'self' http://ui.example" in csp
    assert "http" not in csp.replace("http://ui.example", "")  # nothing external may load
    assert response.content == html_path.read_bytes()
    # Every role may read it; without a valid key it is 401.
    for role in ("predictor", "admin"):
        assert _report(api, outcome.run_id, role).status_code == 200
    path = f"/v1/drift/runs/{outcome.run_id}/report"
    assert api.client.get(path).status_code == 401
    assert api.client.get(path, headers={"X-API-Key": "not-a-key"}).status_code == 401
    # Unknown query parameters are refused, as everywhere.
    unknown = api.client.get(path, params={"download": "1"}, headers=api.headers("viewer"))
    assert unknown.status_code == 422 and unknown.headers["content-type"].startswith("application/json")
    # The file is gone: 404 saying so.
    html_path.unlink()
    gone = api.client.get(path, headers=api.headers("viewer"))
    assert gone.status_code == 404 and "gone" in gone.json()["error"]
    # A revoked key is refused.
    revoke_key(api.engine, "test-viewer")
    assert api.client.get(path, headers=api.headers("viewer")).status_code == 401


def test_unknown_run_is_404_json(api: Api) -> None:
    response = api.client.get("/v1/drift/runs/nope/report", headers=api.headers("viewer"))
    assert response.status_code == 404
    assert "no drift run 'nope'" in response.json()["error"]


def test_no_html_and_error_runs_are_404_saying_what_to_do(env: ModelEnv, api: Api, tmp_path: Path) -> None:
    outcome = _check(env, tmp_path, html=False)
    assert "html" not in outcome.reports
    response = api.client.get(f"/v1/drift/runs/{outcome.run_id}/report", headers=api.headers("viewer"))
    assert response.status_code == 404
    assert "no HTML report" in response.json()["error"] and "--no-html" in response.json()["error"]
    failed = run_drift_check(env.settings, DriftRequest(current_csv=tmp_path / "missing.csv"))
    assert failed.status == "error"
    response = api.client.get(f"/v1/drift/runs/{failed.run_id}/report", headers=api.headers("viewer"))
    assert response.status_code == 404 and "the check failed" in response.json()["error"]


def test_a_report_path_outside_reports_dir_is_refused(env: ModelEnv, api: Api, tmp_path: Path) -> None:
    outcome = _check(env, tmp_path, html=False)
    engine = get_engine(env.settings.db_url)
    row = get_drift_run(engine, outcome.run_id)
    assert row is not None
    secret = tmp_path / "outside.html"
    secret.write_text("<html>secret</html>", encoding="utf-8")
    inside = Path(env.settings.reports_dir) / "x.html"
    inside.write_text("<html>inside</html>", encoding="utf-8")
    escapes = [str(secret), str(Path(env.settings.reports_dir) / ".." / "outside.html"), "/etc/passwd"]
    link = Path(env.settings.reports_dir) / "link.html"
    link.symlink_to(secret)
    for named in [*escapes, str(link), str(inside.with_suffix(".json"))]:
        results = dict(row["results"]) | {"reports": {"html": named}}
        update_drift_run(engine, outcome.run_id, {"results": results})
        response = api.client.get(f"/v1/drift/runs/{outcome.run_id}/report", headers=api.headers("viewer"))
        assert response.status_code == 404, named
        assert "secret" not in response.text
    # The same row pointing inside reports_dir is served.
    update_drift_run(
        engine, outcome.run_id, {"results": dict(row["results"]) | {"reports": {"html": str(inside)}}}
    )
    response = api.client.get(f"/v1/drift/runs/{outcome.run_id}/report", headers=api.headers("viewer"))
    assert response.status_code == 200 and response.text == "<html>inside</html>"


# --- GET /v1/model/card ---


def test_model_card_is_build_cards_card_with_chart_data_and_is_cached(api: Api, env: ModelEnv) -> None:
    started = time.perf_counter()
    first = api.client.get("/v1/model/card", headers=api.headers("viewer"))
    first_seconds = time.perf_counter() - started
    assert first.status_code == 200, first.text
    card = first.json()
    expected = build_card(env.settings)
    for key, value in expected.items():
        assert card[key] == json.loads(json.dumps(value)), key
    assert card["model"]["version"] == env.version and card["model"]["alias"] == "champion"
    assert card["charts_error"] is None

    charts = card["charts"]
    assert charts["holdout_rows"] == expected["data"]["rows_holdout"]
    for name in ("roc", "precision_recall", "calibration"):
        points = charts[name]
        assert 2 <= len(points) <= MAX_POINTS, name
        assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in points), name
    roc = charts["roc"]
    assert all(a["x"] <= b["x"] and a["y"] <= b["y"] for a, b in itertools.pairwise(roc))
    assert (roc[0]["x"], roc[0]["y"], roc[-1]["x"], roc[-1]["y"]) == (0, 0, 1, 1)
    pr = charts["precision_recall"]
    assert all(a["x"] >= b["x"] for a, b in itertools.pairwise(pr))  # recall falls
    calibration = charts["calibration"]
    assert all(a["x"] <= b["x"] for a, b in itertools.pairwise(calibration))
    confusion = charts["confusion"]
    assert confusion["threshold"] == pytest.approx(expected["threshold"]["value"])
    assert confusion["tn"] + confusion["fp"] + confusion["fn"] + confusion["tp"] == charts["holdout_rows"]
    # The holdout at the training threshold gives the confusion the training run stored.
    stored = expected["confusion"]
    if {"tn", "fp", "fn", "tp"} <= set(stored):
        assert {k: confusion[k] for k in ("tn", "fp", "fn", "tp")} == {
            k: stored[k] for k in ("tn", "fp", "fn", "tp")
        }

    # Cached: the same card object (same built_at), no second build, much faster.
    started = time.perf_counter()
    second = api.client.get("/v1/model/card", headers=api.headers("admin"))
    second_seconds = time.perf_counter() - started
    assert second.status_code == 200 and second.json() == card
    assert api.client.app.state.model_card_cache.builds == 1
    assert second_seconds < first_seconds
    print(f"model card: first {first_seconds:.3f}s, cached {second_seconds:.4f}s")


def test_model_card_needs_a_key_and_rejects_unknown_parameters(api: Api) -> None:
    assert api.client.get("/v1/model/card").status_code == 401
    assert api.client.get("/v1/model/card", headers={"X-API-Key": "nope"}).status_code == 401
    response = api.client.get("/v1/model/card", params={"version": "1"}, headers=api.headers("viewer"))
    assert response.status_code == 422
    revoke_key(api.engine, "test-viewer")
    assert api.client.get("/v1/model/card", headers=api.headers("viewer")).status_code == 401
    assert api.client.get("/v1/model/card", headers=api.headers("predictor")).status_code == 200


def test_model_card_is_503_without_a_champion(empty_env: Settings) -> None:
    with running_api(empty_env) as api:
        response = api.client.get("/v1/model/card", headers=api.headers("viewer"))
        model = api.client.get("/v1/model", headers=api.headers("viewer"))
    assert response.status_code == 503 and model.status_code == 503
    assert response.json()["error"] == model.json()["error"]


def test_openapi_documents_both_endpoints(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    report = spec["paths"]["/v1/drift/runs/{run_id}/report"]["get"]
    assert "text/html" in report["responses"]["200"]["content"]
    assert {"401", "403", "404", "503"} <= set(report["responses"])
    card = spec["paths"]["/v1/model/card"]["get"]
    assert card["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ModelCardResponse"
    )
    assert spec["components"]["schemas"]["ModelCardResponse"]["examples"]
