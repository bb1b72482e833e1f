"""Batch scoring of an uploaded CSV: POST /v1/score-jobs, poll, download results and issues.

Real champion (``champion_env``), real app with its lifespan (``running_api``), real files
under the data dir; the counts are checked against ``score_batch`` on the same file.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from api_support import Api, running_api, wait_for
from conftest_model import SNAPSHOT, ModelEnv
from fastapi.testclient import TestClient

from api.app import create_app
from api.score_jobs import INPUT, STALE_SECONDS, STOPPED, JobStore
from attrition.data.generator import generate_workforce
from attrition.db.engine import create_db_engine
from attrition.keys import create_key
from attrition.schema import ID_COLUMN, TARGET
from attrition.serving.scoring import score_batch
from attrition.users import create_user

ROWS = 2000
PASSWORD = "correct horse battery"
#: Broken rows: (index in the frame, column, value); file line = index + 2.
BROKEN = [(10, "Department", "Space"), (20, "Age", 150), (30, "MonthlyIncome", "lots")]


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings) as running:
        yield running


def _workforce(rows: int = ROWS, seed: int = 21, broken: bool = True) -> pd.DataFrame:
    frame = generate_workforce(rows, seed=seed, snapshot_date=SNAPSHOT).drop(columns=TARGET).astype(object)
    if broken:
        for index, column, value in BROKEN:
            frame.loc[index, column] = value
    return frame


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


def _upload(
    api: Api,
    content: bytes,
    name: str = "workforce.csv",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> httpx.Response:
    return api.client.post(
        "/v1/score-jobs",
        files={"file": (name, content, "text/csv")},
        params=params,
        headers=api.headers() if headers is None else headers,
    )


def _wait_done(api: Api, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def finished() -> bool:
        response = api.client.get(f"/v1/score-jobs/{job_id}", headers=headers or api.headers())
        assert response.status_code == 200, response.text
        seen.update(response.json())
        return seen["status"] in ("done", "failed")

    assert wait_for(finished, timeout=120), seen
    return seen


def _store(api: Api) -> JobStore:
    return api.ctx.score_jobs.store


def test_upload_is_scored_like_score_batch_logged_and_downloadable(api: Api, tmp_path: Path) -> None:
    frame = _workforce()
    content = _csv_bytes(frame)
    response = _upload(api, content)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/score-jobs/{job['job_id']}"
    assert job["status"] in ("queued", "running") and job["rows_total"] == ROWS
    assert job["created_by"] == "test-predictor" and job["filename"] == "workforce.csv"

    done = _wait_done(api, job["job_id"])

    path = tmp_path / "same.csv"
    path.write_bytes(content)
    loaded = api.ctx.holder.current
    assert loaded is not None
    expected = score_batch(
        api.settings, csv=path, out=tmp_path / "cli.csv", predictor=loaded.predictor, log_predictions=False
    )
    assert done["status"] == "done" and done["error"] is None and done["progress"] == 1.0
    assert (done["rows_read"], done["rows_scored"], done["rows_rejected"], done["issue_count"]) == (
        expected.rows_read,
        expected.rows_scored,
        expected.rows_rejected,
        expected.issue_count,
    )
    assert (done["rows_scored"], done["rows_rejected"]) == (ROWS - 3, 3)
    assert done["risk_bands"] == expected.band_counts and done["high_risk"] == expected.high_risk
    assert done["model_version"] == expected.model_version and done["rows_per_second"] > 0
    errors = {(i["line"], i["column"]) for i in done["issues"] if i["severity"] == "error"}
    assert {(index + 2, column) for index, column, _ in BROKEN} <= errors

    result = api.client.get(done["result_url"], headers=api.headers())
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/csv")
    assert result.headers["content-disposition"] == 'attachment; filename="scores_workforce.csv"'
    scored = pd.read_csv(io.StringIO(result.text))
    assert len(scored) == done["rows_scored"] and scored[ID_COLUMN].is_unique
    broken_ids = {frame.loc[index, ID_COLUMN] for index, _, _ in BROKEN}
    assert set(scored[ID_COLUMN]) == set(frame[ID_COLUMN]) - broken_ids
    cli = pd.read_csv(tmp_path / "cli.csv").set_index(ID_COLUMN)
    assert np.allclose(scored.set_index(ID_COLUMN)["probability"], cli.loc[scored[ID_COLUMN], "probability"])
    assert scored["risk_band"].value_counts().to_dict() == {b: n for b, n in done["risk_bands"].items() if n}
    assert scored["top_factor_3"].notna().all()

    with api.engine.connect() as conn:
        logged = conn.execute(
            sa.text("SELECT COUNT(*) FROM predictions WHERE request_id = :b AND source = 'batch'"),
            {"b": done["batch_id"]},
        ).scalar_one()
    assert logged == done["rows_scored"]
    page = api.client.get("/v1/predictions", params={"source": "batch", "limit": 1}, headers=api.headers())
    assert page.json()["total"] == done["rows_scored"]

    issues = api.client.get(done["issues_url"], headers=api.headers())
    assert issues.status_code == 200
    assert issues.headers["content-disposition"] == 'attachment; filename="issues_workforce.csv"'
    listed = pd.read_csv(io.StringIO(issues.text))
    assert (
        list(listed.columns) == ["line", "column", "severity", "reason"]
        and len(listed) == done["issue_count"]
    )
    assert {(index + 2, column) for index, column, _ in BROKEN} <= set(
        zip(listed["line"], listed["column"], strict=True)
    )


def test_job_files_are_private_and_fewer_factors_are_honoured(api: Api) -> None:
    response = _upload(api, _csv_bytes(_workforce(300, broken=False)), factors=0)
    assert response.status_code == 202, response.text
    done = _wait_done(api, response.json()["job_id"])
    assert (done["rows_scored"], done["issues"]) == (300, [])
    scored = pd.read_csv(io.StringIO(api.client.get(done["result_url"], headers=api.headers()).text))
    assert not [c for c in scored.columns if c.startswith("top_factor")]

    folder = _store(api).folder(done["job_id"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    for name in ("input.csv", "result.csv", "issues.csv", "status.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name

    bad = _upload(api, b"x", factors=6)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "factors"


def test_download_neutralises_formula_cells_but_not_numbers(api: Api) -> None:
    """The scorer writes no formula-like cell itself, so one is planted in a finished job's files."""
    response = _upload(api, _csv_bytes(_workforce(50, broken=False)))
    done = _wait_done(api, response.json()["job_id"])
    folder = _store(api).folder(done["job_id"])
    stored = pd.read_csv(folder / "result.csv", dtype=str, keep_default_na=False)
    stored.loc[0, "risk_band"] = '=HYPERLINK("http://evil.example","x")'
    stored.loc[1, "top_factor_1"] = "@SUM(1+1)"
    stored.loc[2, "probability"] = "-0.5"
    stored.to_csv(folder / "result.csv", index=False)
    (folder / "issues.csv").write_text("line,column,severity,reason\n7,Age,error,+cmd\n")

    scored = pd.read_csv(io.StringIO(api.client.get(done["result_url"], headers=api.headers()).text))
    assert scored.loc[0, "risk_band"] == '\'=HYPERLINK("http://evil.example","x")'
    assert scored.loc[1, "top_factor_1"] == "'@SUM(1+1)"
    assert scored.loc[2, "probability"] == -0.5 and scored["probability"].dtype == float
    issues = api.client.get(done["issues_url"], headers=api.headers()).text
    assert issues == "line,column,severity,reason\n7,Age,error,'+cmd\n"


def test_auth_owner_only_admin_and_bearer_token(champion_env: ModelEnv) -> None:
    engine = create_db_engine(champion_env.settings.db_url)
    create_user(engine, "ana", "predictor", PASSWORD)
    engine.dispose()
    with running_api(champion_env.settings, token_secret="s" * 40) as api:
        content = _csv_bytes(_workforce(100, broken=False))
        assert _upload(api, content, headers={}).status_code == 401
        viewer = _upload(api, content, headers=api.headers("viewer"))
        assert viewer.status_code == 403 and "needs role 'predictor'" in viewer.json()["error"]

        token = api.client.post("/v1/auth/token", data={"username": "ana", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = _upload(api, content, headers=bearer)
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["created_by"] == "user:ana"
        assert _wait_done(api, job["job_id"], headers=bearer)["rows_scored"] == 100

        other = {"X-API-Key": create_key(api.engine, "other-predictor", "predictor")}
        for path in ("", "/result", "/issues"):
            url = f"/v1/score-jobs/{job['job_id']}{path}"
            hidden = api.client.get(url, headers=other)
            assert hidden.status_code == 404, (path, hidden.text)
            assert hidden.json()["detail"][0]["field"] == "job_id"
            assert api.client.get(url, headers=api.headers()).status_code == 404  # the key is not ana
            assert api.client.get(url, headers=api.headers("admin")).status_code == 200
            assert api.client.get(url, headers=bearer).status_code == 200
            assert api.client.get(url, headers=api.headers("viewer")).status_code == 403
            assert api.client.get(url).status_code == 401


def test_upload_over_the_limit_is_413_naming_it(champion_env: ModelEnv) -> None:
    with running_api(champion_env.settings, max_upload_bytes=50_000) as api:
        content = _csv_bytes(_workforce(400, broken=False))  # ~130 kB
        declared = _upload(api, content)
        assert declared.status_code == 413 and "50,000 bytes" in declared.json()["error"]
        # Within the multipart slack, so it passes the middleware: the handler counts the file itself.
        just_over = content[:60_000]
        counted = _upload(api, just_over)
        assert counted.status_code == 413 and "50,000 bytes" in counted.json()["error"]
        assert counted.json()["detail"][0]["field"] == "file"
        # Other paths keep the small JSON body limit; the upload path wants multipart.
        assert api.client.post("/v1/score-jobs", json={"x": 1}, headers=api.headers()).status_code == 415
        assert not list(_store(api).root.glob("*/input.csv"))  # refused uploads leave nothing behind


def _refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    [issue] = body["detail"]
    assert issue["field"] == "file" and issue["expected"]
    return body


def test_empty_binary_and_wrong_header_files_are_422_naming_file(api: Api) -> None:
    assert "empty" in _refusal(_upload(api, b""))["error"]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert "not UTF-8" in _refusal(_upload(api, png, name="photo.png"))["error"]
    latin1 = _csv_bytes(_workforce(5, broken=False)).replace(b"Sales", "Sälës".encode("latin-1"))
    assert "not UTF-8" in _refusal(_upload(api, latin1))["error"]

    secret = "Zyx-secret-value"
    frame = _workforce(5, broken=False).drop(columns=["Age", "Department"])
    frame["JobRole"] = secret
    missing = _refusal(_upload(api, _csv_bytes(frame)))
    assert "Age, Department" in missing["error"] and "Age, Department" in missing["detail"][0]["received"]
    assert secret not in json.dumps(missing)

    headerless = _csv_bytes(_workforce(5, broken=False).assign(JobRole=secret)).split(b"\n", 1)[1]
    no_header = _refusal(_upload(api, headerless))
    assert "no header" in no_header["error"] and secret not in json.dumps(no_header)
    header_only = _csv_bytes(_workforce(5, broken=False)).split(b"\n", 1)[0] + b"\n"
    assert "no rows" in _refusal(_upload(api, header_only))["error"]

    no_file = api.client.post(
        "/v1/score-jobs", data={"file": "x.csv"}, files={"other": ("x", b"1")}, headers=api.headers()
    )
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["field"] == "file"
    assert not [p for p in _store(api).root.iterdir() if p.is_dir()]  # nothing kept of refused uploads


@pytest.mark.parametrize(
    "job_id",
    ["nope", "3F2B8C1D9E7A4F6B8C0D1E2F3A4B5C6D", "3f2b8c1d9e7a4f6b8c0d1e2f3a4b5c6", "g" * 32, "0" * 33],
)
def test_malformed_job_id_is_422_naming_it(api: Api, job_id: str) -> None:
    for suffix in ("", "/result", "/issues"):
        response = api.client.get(f"/v1/score-jobs/{job_id}{suffix}", headers=api.headers())
        assert response.status_code == 422, (job_id, suffix, response.text)
        assert response.json()["detail"][0]["field"] == "job_id"


def _planted_job(api: Api, heartbeat_age: float) -> str:
    """A queued job on disk, as another API process would leave it, heartbeat ``heartbeat_age`` s old."""
    store = _store(api)
    job_id, folder = store.new_folder()
    (folder / INPUT).write_bytes(_csv_bytes(_workforce(5, broken=False)))
    status = store.create(job_id, filename="w.csv", created_by="test-predictor", rows_total=5, top_k=3)
    beat = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=heartbeat_age)
    (folder / "status.json").write_text(json.dumps({**status, "updated_at": beat.isoformat()}))
    return job_id


def test_result_before_done_is_409_and_a_stale_job_reads_failed(api: Api) -> None:
    waiting = _planted_job(api, heartbeat_age=1)
    job = api.client.get(f"/v1/score-jobs/{waiting}", headers=api.headers()).json()
    assert job["status"] == "queued" and job["error"] is None
    for suffix in ("/result", "/issues"):
        early = api.client.get(f"/v1/score-jobs/{waiting}{suffix}", headers=api.headers())
        assert early.status_code == 409 and "is queued" in early.json()["error"]

    dead = _planted_job(api, heartbeat_age=STALE_SECONDS + 5)
    job = api.client.get(f"/v1/score-jobs/{dead}", headers=api.headers()).json()
    assert (job["status"], job["error"]) == ("failed", STOPPED)
    late = api.client.get(f"/v1/score-jobs/{dead}/result", headers=api.headers())
    assert late.status_code == 409 and "failed" in late.json()["error"] and STOPPED in late.json()["error"]


def test_jobs_are_shared_through_the_data_dir_and_old_ones_are_purged(api: Api) -> None:
    store = _store(api)
    old = _planted_job(api, heartbeat_age=1)
    old_status = json.loads((store.folder(old) / "status.json").read_text())
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)).isoformat()
    old_status.update(status="done", created_at=created, updated_at=created)
    (store.folder(old) / "status.json").write_text(json.dumps(old_status))
    alive = _planted_job(api, heartbeat_age=1)  # queued and fresh: kept, whatever its age

    response = _upload(api, _csv_bytes(_workforce(40, broken=False)))
    assert response.status_code == 202
    assert not store.folder(old).exists() and store.folder(alive).exists()
    done = _wait_done(api, response.json()["job_id"])

    # A second API process on the same data dir answers for the job and serves its result.
    with TestClient(create_app(api.settings)) as second:
        seen = second.get(f"/v1/score-jobs/{done['job_id']}", headers=api.headers()).json()
        assert seen["status"] == "done" and seen["batch_id"] == done["batch_id"]
        result = second.get(done["result_url"], headers=api.headers())
        assert result.status_code == 200 and len(pd.read_csv(io.StringIO(result.text))) == 40


def test_shutdown_stops_the_running_job_and_fails_the_queued_ones(champion_env: ModelEnv) -> None:
    """At shutdown the running job ends after its current chunk; none is left looking alive."""
    big = _csv_bytes(_workforce(40_000, broken=False))  # 4 chunks: still running at shutdown
    small = _csv_bytes(_workforce(100, broken=False))
    with running_api(champion_env.settings) as api:
        ids = [_upload(api, content).json()["job_id"] for content in (big, small, small)]
        store = _store(api)
        assert wait_for(lambda: (store.read(ids[0]) or {}).get("status") == "running", timeout=30)
    final = [store.read(job_id) or {} for job_id in ids]
    assert [(s["status"], s["error"]) for s in final] == [("failed", STOPPED)] * 3
    assert final[0]["finished_at"] and not (store.folder(ids[0]) / "result.csv").exists()
    assert all((store.folder(job_id) / "input.csv").exists() for job_id in ids)  # folders kept


def test_openapi_documents_the_upload_form_csv_downloads_and_json_errors(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    upload = paths["/v1/score-jobs"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["required"] == ["file"] and form["example"]
    assert "application/json" in upload["responses"]["202"]["content"]
    assert {"401", "403", "413", "415", "422", "503"} <= set(upload["responses"])
    for suffix in ("result", "issues"):
        responses = paths[f"/v1/score-jobs/{{job_id}}/{suffix}"]["get"]["responses"]
        assert (
            list(responses["200"]["content"]) == ["text/csv"]
            and responses["200"]["content"]["text/csv"]["example"]
        )
        for status in ("401", "403", "404", "409", "422"):  # errors are JSON, as every other route's
            assert list(responses[status]["content"]) == ["application/json"], (suffix, status)
