"""The admin API the UI's Admin page uses: users, API keys, promotion and rollback, over real HTTP.

Users and keys run on every backend (no model needed); promotion runs on a real trained
champion and a real MLflow store (``champion_env``), with a second version registered from
the same training result (cheap: no retraining).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
from api_support import Api, running_api
from conftest_model import ModelEnv

from api.schemas_admin import Role
from attrition.config import CHALLENGER, CHAMPION, Settings
from attrition.db.engine import create_db_engine
from attrition.db.repositories import list_audit
from attrition.keys import ROLES
from attrition.registry.runs import log_and_register
from attrition.registry.store import alias_version, configure
from attrition.users import create_user

PASSWORD = "correct horse battery"
ADMIN = "root-admin"


def _sign_in(api: Api, name: str, password: str = PASSWORD) -> httpx.Response:
    return api.client.post("/v1/auth/token", data={"username": name, "password": password})


def _bearer(api: Api, name: str = ADMIN, password: str = PASSWORD) -> dict[str, str]:
    response = _sign_in(api, name, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    return list_audit(api.engine, action=action)


@pytest.fixture
def api(empty_env: Settings, db_url: str) -> Iterator[Api]:
    """The API on ``db_url`` and an empty MLflow store, with an admin user ``root-admin``."""
    engine = create_db_engine(db_url)
    create_user(engine, ADMIN, "admin", PASSWORD)
    engine.dispose()
    settings = empty_env.model_copy(update={"database_url": db_url})
    with running_api(settings, token_secret="s" * 40) as running:
        yield running


def test_roles_of_the_schema_are_the_packages() -> None:
    assert get_args(Role) == ROLES


ADMIN_CALLS = [
    ("GET", "/v1/admin/users", None),
    ("POST", "/v1/admin/users", {"name": "zed", "role": "viewer"}),
    ("POST", "/v1/admin/users/zed/disable", None),
    ("POST", "/v1/admin/users/zed/reset-password", {}),
    ("GET", "/v1/admin/keys", None),
    ("POST", "/v1/admin/keys", {"name": "zed", "role": "viewer"}),
    ("POST", "/v1/admin/keys/zed/revoke", None),
    ("POST", "/v1/admin/promote", {}),
    ("POST", "/v1/admin/rollback", {}),
]


def test_admin_calls_need_an_admin_key_or_token(api: Api) -> None:
    create_user(api.engine, "vi", "viewer", PASSWORD)
    viewer_token = _bearer(api, "vi")
    for method, path, body in ADMIN_CALLS:
        anonymous = api.client.request(method, path, json=body)
        assert anonymous.status_code == 401, (path, anonymous.text)
        for headers in (api.headers("viewer"), api.headers("predictor"), viewer_token):
            refused = api.client.request(method, path, json=body, headers=headers)
            assert refused.status_code == 403, (path, refused.text)
            assert "needs role 'admin'" in refused.json()["error"]
    by_key = api.client.get("/v1/admin/users", headers=api.headers("admin"))
    by_token = api.client.get("/v1/admin/users", headers=_bearer(api))
    assert by_key.status_code == by_token.status_code == 200
    assert [u["name"] for u in by_key.json()["items"]] == [u["name"] for u in by_token.json()["items"]]


def test_create_users_with_a_generated_or_given_password(api: Api) -> None:
    generated = api.client.post(
        "/v1/admin/users", json={"name": "ana", "role": "viewer"}, headers=api.headers("admin")
    )
    assert generated.status_code == 201, generated.text
    body = generated.json()
    assert body["user"]["name"] == "ana" and body["user"]["role"] == "viewer" and body["user"]["active"]
    assert len(body["password"]) >= 12
    assert _sign_in(api, "ana", body["password"]).status_code == 200

    given = api.client.post(
        "/v1/admin/users",
        json={"name": "bo", "role": "predictor", "password": PASSWORD},
        headers=_bearer(api),
    )
    assert given.status_code == 201 and given.json()["password"] is None
    assert _sign_in(api, "bo").json()["role"] == "predictor"

    listed = api.client.get("/v1/admin/users", headers=api.headers("admin")).json()["items"]
    assert [u["name"] for u in listed] == [ADMIN, "ana", "bo"]
    assert set(listed[1]) == {
        "name",
        "role",
        "active",
        "token_version",
        "created_at",
        "disabled_at",
        "locked_until",
        "last_sign_in_at",
    }
    assert listed[1]["last_sign_in_at"] is not None and listed[1]["created_at"].endswith("Z")
    # The audit log names the caller: the key's name, or user:<name> for a signed-in person.
    actors = {e["subject"]: e["actor"] for e in _audit(api, "user.create") if e["subject"] != ADMIN}
    assert actors == {"ana": "test-admin", "bo": f"user:{ADMIN}"}


def test_duplicate_weak_password_and_bad_fields_are_refused(api: Api) -> None:
    admin = api.headers("admin")
    duplicate = api.client.post("/v1/admin/users", json={"name": ADMIN, "role": "viewer"}, headers=admin)
    assert duplicate.status_code == 409 and "exists already" in duplicate.json()["error"]

    weak = api.client.post(
        "/v1/admin/users", json={"name": "cy", "role": "viewer", "password": "tiny-secret"}, headers=admin
    )
    assert weak.status_code == 422, weak.text
    (issue,) = weak.json()["detail"]
    assert issue["field"] == "password" and "12 to 1024 characters" in issue["expected"]
    assert "at least 12 characters" in weak.json()["error"]
    assert "tiny-secret" not in weak.text  # the refused password is never echoed
    assert api.client.get("/v1/admin/users", headers=admin).json()["items"][-1]["name"] == ADMIN

    bad = api.client.post(
        "/v1/admin/users", json={"name": "two words", "role": "root", "extra": 1}, headers=admin
    )
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["detail"]} == {"name", "role", "extra"}


def test_disable_ends_sign_in_and_an_admin_cannot_disable_themselves(api: Api) -> None:
    create_user(api.engine, "bo", "predictor", PASSWORD)
    old_token = _bearer(api, "bo")
    admin_token = _bearer(api)

    disabled = api.client.post("/v1/admin/users/bo/disable", headers=admin_token)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False and disabled.json()["disabled_at"] is not None
    assert _sign_in(api, "bo").status_code == 401
    assert api.client.get("/v1/predictions", headers=old_token).status_code == 401

    self_disable = api.client.post(f"/v1/admin/users/{ADMIN}/disable", headers=admin_token)
    assert self_disable.status_code == 409 and "your own account" in self_disable.json()["error"]
    assert _sign_in(api, ADMIN).status_code == 200
    missing = api.client.post("/v1/admin/users/ghost/disable", headers=admin_token)
    assert missing.status_code == 404 and "ghost" in missing.json()["error"]
    assert [(e["subject"], e["actor"]) for e in _audit(api, "user.disable")] == [("bo", f"user:{ADMIN}")]


def test_reset_password_replaces_the_old_one(api: Api) -> None:
    create_user(api.engine, "di", "viewer", PASSWORD)
    admin = api.headers("admin")
    given = api.client.post(
        "/v1/admin/users/di/reset-password", json={"password": "a brand new password"}, headers=admin
    )
    assert given.status_code == 200 and given.json()["password"] is None
    assert given.json()["user"]["token_version"] == 1
    assert _sign_in(api, "di").status_code == 401
    assert _sign_in(api, "di", "a brand new password").status_code == 200

    generated = api.client.post("/v1/admin/users/di/reset-password", headers=admin)  # no body at all
    assert generated.status_code == 200, generated.text
    assert _sign_in(api, "di", "a brand new password").status_code == 401
    assert _sign_in(api, "di", generated.json()["password"]).status_code == 200

    weak = api.client.post("/v1/admin/users/di/reset-password", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422 and weak.json()["detail"][0]["field"] == "password"
    missing = api.client.post("/v1/admin/users/ghost/reset-password", json={}, headers=admin)
    assert missing.status_code == 404
    assert [e["actor"] for e in _audit(api, "user.reset_password")] == ["test-admin", "test-admin"]


def test_a_created_key_works_is_shown_once_and_revoking_ends_it(api: Api) -> None:
    created = api.client.post(
        "/v1/admin/keys", json={"name": "hris", "role": "predictor"}, headers=_bearer(api)
    )
    assert created.status_code == 201, created.text
    secret, key = created.json()["secret"], created.json()["key"]
    assert (key["name"], key["role"], key["active"], key["revoked_at"]) == ("hris", "predictor", True, None)
    assert secret.startswith(f"atk_{key['prefix']}_")
    assert api.client.get("/v1/predictions", headers={"X-API-Key": secret}).status_code == 200

    listing = api.client.get("/v1/admin/keys", headers=api.headers("admin"))
    items = {k["name"]: k for k in listing.json()["items"]}
    assert set(items) == {"test-viewer", "test-predictor", "test-admin", "hris"}
    assert set(items["hris"]) == {"name", "role", "prefix", "active", "created_at", "revoked_at"}
    assert secret not in listing.text and secret[len("atk_") + 9 :] not in listing.text

    duplicate = api.client.post(
        "/v1/admin/keys", json={"name": "hris", "role": "viewer"}, headers=_bearer(api)
    )
    assert duplicate.status_code == 409 and "exists already" in duplicate.json()["error"]
    person = api.client.post(
        "/v1/admin/keys", json={"name": "user:ana", "role": "admin"}, headers=api.headers("admin")
    )
    assert person.status_code == 422 and person.json()["detail"][0]["field"] == "name"

    revoked = api.client.post("/v1/admin/keys/hris/revoke", headers=api.headers("admin"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert api.client.get("/v1/predictions", headers={"X-API-Key": secret}).status_code == 401
    assert api.client.post("/v1/admin/keys/nope/revoke", headers=api.headers("admin")).status_code == 404
    assert [e["actor"] for e in _audit(api, "api_key.create") if e["subject"] == "hris"] == [f"user:{ADMIN}"]
    assert [e["actor"] for e in _audit(api, "api_key.revoke")] == ["test-admin"]


# --- promotion and rollback on a real champion --------------------------------------------------


def _served(api: Api) -> str:
    response = api.client.get("/v1/model", headers=api.headers("viewer"))
    assert response.status_code == 200, response.text
    version: str = response.json()["model_version"]
    return version


def _promote(api: Api, body: dict[str, Any] | None = None) -> httpx.Response:
    return api.client.post("/v1/admin/promote", json=body, headers=api.headers("admin"))


def test_promote_the_challenger_then_roll_back(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    second = log_and_register(champion_env.result, settings, actor="fixture")
    with running_api(settings) as api:
        assert _served(api) == champion_env.version

        promoted = _promote(api, {"reason": "weekly retrain"})
        assert promoted.status_code == 200, promoted.text
        body = promoted.json()
        assert (body["promoted"], body["version"], body["previous_champion"]) == (True, second, "1")
        assert body["serving_version"] == second and body["reload_error"] is None
        assert body["reasons"] == ["weekly retrain"] and "promoted to champion" in body["message"]
        assert body["checks"]["champion_version"] == "1" and body["checks"]["fairness_passed"] is True
        assert _served(api) == second  # at once: no wait for the poller
        client = configure(settings)
        assert alias_version(client, settings.model_name, CHAMPION) == second
        assert alias_version(client, settings.model_name, CHALLENGER) is None

        back = api.client.post(
            "/v1/admin/rollback", json={"reason": "complaints from HR"}, headers=api.headers("admin")
        )
        assert back.status_code == 200, back.text
        assert (back.json()["version"], back.json()["previous_champion"]) == ("1", second)
        assert back.json()["serving_version"] == "1" and _served(api) == "1"

        again = api.client.post("/v1/admin/rollback", headers=api.headers("admin"))
        assert again.status_code == 409 and "no previous champion" in again.json()["error"]
        assert _served(api) == "1"
        events = [
            e
            for e in list_audit(api.engine)
            if e["subject"] == f"{settings.model_name}@{CHAMPION}" and e["actor"] != "fixture"
        ]
        moves = [
            (e["action"], e["actor"], e["detail"]["to_version"], e["detail"]["reason"])
            for e in events
            if e["outcome"] == "ok"
        ]
        assert moves == [
            ("rollback", "test-admin", "1", "complaints from HR"),
            ("promote", "test-admin", second, "weekly retrain"),
        ]
        # the second rollback moved nothing and is recorded as refused, newest first
        assert (events[0]["action"], events[0]["outcome"]) == ("rollback", "refused")
        assert "no previous champion" in events[0]["detail"]["reason"]


def test_a_refusal_by_the_gate_is_answered_with_its_reasons(champion_env: ModelEnv) -> None:
    strict = champion_env.settings.training.model_copy(update={"min_roc_auc": 1.01})
    settings = champion_env.settings.model_copy(update={"training": strict})
    second = log_and_register(champion_env.result, settings, actor="fixture")
    with running_api(settings, token_secret="s" * 40) as api:
        create_user(api.engine, ADMIN, "admin", PASSWORD)
        refused = api.client.post("/v1/admin/promote", json={"version": second}, headers=_bearer(api))
        assert refused.status_code == 200, refused.text
        body = refused.json()
        assert body["promoted"] is False and body["version"] == second and body["serving_version"] == "1"
        assert any("below the floor 1.0100" in r for r in body["reasons"]), body["reasons"]
        assert "NOT promoted" in body["message"] and body["checks"]["min_roc_auc"] == 1.01
        assert _served(api) == "1"
        (event,) = list_audit(api.engine, action="promotion_refused")
        assert event["actor"] == f"user:{ADMIN}" and event["detail"]["version"] == second


def test_promotion_requests_that_cannot_be_done(champion_env: ModelEnv) -> None:
    with running_api(champion_env.settings) as api:
        no_challenger = _promote(api)
        assert no_challenger.status_code == 409 and "no challenger" in no_challenger.json()["error"]
        unknown = _promote(api, {"version": "99"})
        assert unknown.status_code == 404 and "no version '99'" in unknown.json()["error"]
        malformed = _promote(api, {"version": "v2", "reason": ""})
        assert malformed.status_code == 422
        assert {d["field"] for d in malformed.json()["detail"]} == {"version", "reason"}
        already = _promote(api, {"version": champion_env.version})
        assert already.status_code == 200 and already.json()["promoted"] is False
        assert "already the champion" in already.json()["reasons"][0]


def test_an_unreachable_mlflow_is_a_503(settings: Settings) -> None:
    down = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    with running_api(down) as api:
        for path in ("/v1/admin/promote", "/v1/admin/rollback"):
            answer = api.client.post(path, headers=api.headers("admin"))
            assert answer.status_code == 503, answer.text
            assert "not reachable" in answer.json()["error"]
