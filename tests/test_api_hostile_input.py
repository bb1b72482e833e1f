"""Hostile input on every body-taking route: lone UTF-16 surrogates and credentials in the URL.

JSON lets a client send ``"\\ud800"``, a string Python decodes but no encoder accepts; it used to
turn the 422 (which echoes the value) into a 500. Real app, real champion, real SQLite app DB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_support import Api, running_api
from conftest_model import ModelEnv
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from api.errors import _on_validation
from api.schemas import EXAMPLE_REQUEST

LONE = "\\ud800"  # the JSON escape, six characters: what a hostile client sends
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings) as running:
        yield running


def _body(value: dict[str, Any], marker: str = "@@LONE@@") -> bytes:
    """``value`` as JSON with each ``marker`` replaced by the raw escape of a lone surrogate."""
    return json.dumps(value).replace(marker, LONE).encode("ascii")


def _post(api: Api, path: str, body: bytes, role: str = "predictor") -> httpx.Response:
    return api.client.post(path, content=body, headers={**JSON, **api.headers(role)})


def _assert_clean_422(response: httpx.Response, field: str, index: int | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert "not valid Unicode" in body["error"] and field in body["error"]
    issue = next(i for i in body["detail"] if i["field"] == field)
    assert issue["index"] == index
    assert "\\ud800" in issue["received"]  # shown escaped, as text a client can print
    response.content.decode("utf-8")  # the body is valid UTF-8
    return issue


def test_lone_surrogate_in_a_record_value_is_a_422_naming_the_field(api: Api) -> None:
    record = {**EXAMPLE_REQUEST, "Department": "@@LONE@@"}
    _assert_clean_422(_post(api, "/v1/predict", _body(record)), "Department")


def test_lone_surrogate_in_an_extra_field_name_is_a_422_naming_it_escaped(api: Api) -> None:
    record = {**EXAMPLE_REQUEST, "x@@LONE@@": 1}
    issue = _assert_clean_422(_post(api, "/v1/predict", _body(record)), "x\\ud800")
    assert issue["expected"].startswith("a field name")


def test_lone_surrogate_in_a_batch_record_names_the_record_index(api: Api) -> None:
    records = [dict(EXAMPLE_REQUEST), {**EXAMPLE_REQUEST, "JobRole": "Sales@@LONE@@"}]
    response = _post(api, "/v1/predict/batch", _body({"records": records}))
    _assert_clean_422(response, "JobRole", index=1)


def test_a_valid_surrogate_pair_is_not_refused(api: Api) -> None:
    """``\\ud83d\\ude00`` is one emoji: an ordinary (if invalid) category, not broken Unicode."""
    record = {**EXAMPLE_REQUEST, "Department": "@@PAIR@@"}
    body = json.dumps(record).replace("@@PAIR@@", "\\ud83d\\ude00").encode()
    response = _post(api, "/v1/predict", body)
    assert response.status_code == 422 and "Unicode" not in response.json()["error"]
    assert response.json()["detail"][0]["field"] == "Department"


def test_lone_surrogate_in_feedback_is_a_422(api: Api) -> None:
    body = _body({"prediction_id": "@@LONE@@", "left": True, "outcome_date": "2026-01-01"})
    _assert_clean_422(_post(api, "/v1/feedback", body), "prediction_id")


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/v1/admin/users", {"name": "ana@@LONE@@", "role": "viewer"}, "name"),
        (
            "/v1/admin/users",
            {"name": "ana", "role": "viewer", "password": "pw@@LONE@@pw-long-enough"},
            "password",
        ),
        ("/v1/admin/keys", {"name": "hris@@LONE@@", "role": "viewer"}, "name"),
        ("/v1/admin/promote", {"reason": "@@LONE@@"}, "reason"),
        ("/v1/admin/rollback", {"reason": "@@LONE@@"}, "reason"),
        ("/v1/admin/users/ana/reset-password", {"password": "@@LONE@@"}, "password"),
    ],
)
def test_lone_surrogate_in_admin_bodies_is_a_422(
    api: Api, path: str, payload: dict[str, Any], field: str
) -> None:
    """Values that pass the schema (a name, a reason) would otherwise reach the database and the audit log."""
    _assert_clean_422(_post(api, path, _body(payload), role="admin"), field)


@pytest.mark.parametrize(
    "form",
    [
        b"username=%ED%A0%80&password=x",
        b"username=ana&password=\xed\xa0\x80",
        b"username=\xed\xa0\x80&password=x",
    ],
)
def test_sign_in_form_with_broken_utf8_is_a_plain_401(api: Api, form: bytes) -> None:
    """A form cannot carry a lone surrogate (its decoder replaces bad bytes): just a wrong sign-in."""
    response = api.client.post(
        "/v1/auth/token", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "wrong user name or password"


def test_score_job_upload_with_a_broken_filename_is_not_a_500(api: Api) -> None:
    boundary = "hostile-boundary"
    csv = ",".join(EXAMPLE_REQUEST) + "\n" + ",".join(str(v) for v in EXAMPLE_REQUEST.values()) + "\n"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="x\xed\xa0\x80\\ud800.csv"\r\n'
        + b"Content-Type: text/csv\r\n\r\n"
        + csv.encode()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api.client.post(
        "/v1/score-jobs",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **api.headers()},
    )
    assert response.status_code in (202, 422), response.text
    response.content.decode("utf-8")


def test_the_422_handler_escapes_a_lone_surrogate_whatever_reaches_it() -> None:
    """The handler's own guard (for a surrogate arriving other than in a JSON body)."""
    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": [], "query_string": b""}
    exc = RequestValidationError(
        [{"type": "extra_forbidden", "loc": ("body", "a\ud800"), "msg": "Extra", "input": "\udfff"}]
    )
    response = asyncio.run(_on_validation(Request(scope), exc))
    body = json.loads(bytes(response.body).decode("utf-8"))
    assert response.status_code == 422
    assert body["detail"][0]["field"] == "a\\ud800" and body["detail"][0]["received"] == "\\udfff"
    assert "a\\ud800" in body["error"]


@pytest.mark.parametrize(
    "name", ["api_key", "X-API-Key", "key", "token", "access_token", "API_KEY", "apikey"]
)
@pytest.mark.parametrize("path", ["/v1/model", "/v1/predictions", "/health", "/v1/no-such-route"])
def test_a_credential_in_the_query_string_is_a_400_that_never_echoes_it(
    api: Api, name: str, path: str
) -> None:
    secret = api.keys["admin"]
    response = api.client.get(path, params={name: secret, "limit": 5})
    assert response.status_code == 400, response.text
    body = response.json()
    assert "X-API-Key header" in body["error"] and name in body["error"]
    assert secret not in response.text and secret[:12] not in response.text
    assert body["detail"] == [
        {"field": name, "expected": "no credentials in the query string", "received": None, "index": None}
    ]


def test_a_credential_in_the_query_string_is_refused_even_with_a_valid_header(api: Api) -> None:
    response = api.client.post(
        "/v1/predict", params={"api_key": "atk_whatever"}, json=EXAMPLE_REQUEST, headers=api.headers()
    )
    assert response.status_code == 400 and "atk_whatever" not in response.text


def test_ordinary_query_parameters_still_work(api: Api) -> None:
    response = api.client.get("/v1/predictions", params={"limit": 5}, headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
