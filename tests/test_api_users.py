"""People sign in: users stored with argon2 hashes, POST /v1/auth/token, bearer tokens on every /v1 call,
lockout, audit rows, and the `attrition users` commands; on every backend, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
import sqlalchemy as sa
from api_support import Api, running_api
from typer.testing import CliRunner

from attrition.cli import app as cli
from attrition.config import Settings, reset_settings
from attrition.db.engine import create_db_engine, get_engine
from attrition.db.repositories import list_audit
from attrition.users import (
    LockoutPolicy,
    UserError,
    create_user,
    disable_user,
    get_user,
    list_users,
    reset_password,
    sign_in,
)

SECRET = "s" * 40
PASSWORD = "correct horse battery"


@pytest.fixture
def api(settings: Settings, db_url: str) -> Iterator[Api]:
    """The API (no model needed) on ``db_url`` with a known token secret and users of every role."""
    settings = settings.model_copy(update={"database_url": db_url})
    engine = create_db_engine(db_url)
    for role in ("viewer", "predictor", "admin"):
        create_user(engine, f"ana-{role}", role, PASSWORD)
    engine.dispose()
    with running_api(
        settings, token_secret=SECRET, sign_in_max_failures=3, sign_in_lock_minutes=0.02
    ) as running:
        yield running


def _sign_in(api: Api, name: str, password: str = PASSWORD) -> httpx.Response:
    return api.client.post("/v1/auth/token", data={"username": name, "password": password})


def _token(api: Api, role: str) -> str:
    response = _sign_in(api, f"ana-{role}")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_flow_and_roles_by_token(api: Api) -> None:
    response = api.client.post("/v1/auth/token", data={"username": "ana-viewer", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "viewer" and body["expires_in"] == 1800
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert (
        claims["sub"] == "ana-viewer" and claims["role"] == "viewer" and claims["exp"] - claims["iat"] == 1800
    )

    viewer = _bearer(body["access_token"])
    assert api.client.get("/v1/predictions", headers=viewer).status_code == 200
    refused = api.client.post("/v1/admin/reload", headers=viewer)
    assert refused.status_code == 403 and "user 'ana-viewer' has role 'viewer'" in refused.json()["error"]
    assert api.client.post("/v1/admin/reload", headers=_bearer(_token(api, "predictor"))).status_code == 403
    # An admin token passes auth: the 503 is "no model is being served".
    admin = api.client.post("/v1/admin/reload", headers=_bearer(_token(api, "admin")))
    assert admin.status_code == 503 and "reload failed" in admin.json()["error"]


def test_wrong_password_unknown_user_and_disabled_user_get_the_same_401(api: Api) -> None:
    disable_user(api.engine, "ana-admin")
    answers = [
        _sign_in(api, "ana-viewer", "wrong password!"),
        _sign_in(api, "nobody-here"),
        _sign_in(api, "ana-admin"),
    ]
    assert [r.status_code for r in answers] == [401, 401, 401]
    assert {r.json()["error"] for r in answers} == {"wrong user name or password"}
    assert answers[0].headers["WWW-Authenticate"] == "Bearer"
    missing = api.client.post("/v1/auth/token", data={"username": "ana-viewer"})
    assert missing.status_code == 422 and any(d["field"] == "password" for d in missing.json()["detail"])
    as_json = api.client.post("/v1/auth/token", json={"username": "ana-viewer", "password": PASSWORD})
    assert as_json.status_code == 415 and "x-www-form-urlencoded" in as_json.json()["error"]


def test_lockout_after_repeated_failures_and_its_expiry(api: Api) -> None:
    assert [_sign_in(api, "ana-viewer", "bad password 1").status_code for _ in range(2)] == [401, 401]
    third = _sign_in(api, "ana-viewer", "bad password 1")
    assert third.status_code == 429, third.text
    assert "locked until" in third.json()["error"] and int(third.headers["Retry-After"]) >= 1
    # While locked, even the right password is refused; other users are not affected.
    locked = _sign_in(api, "ana-viewer")
    assert locked.status_code == 429
    assert _sign_in(api, "ana-admin").status_code == 200
    refusals = [e for e in list_audit(api.engine) if e["action"] == "user.sign_in_locked"]
    assert [e["subject"] for e in refusals] == ["ana-viewer"] and "locked_until" in refusals[0]["detail"]
    time.sleep(int(third.headers["Retry-After"]) + 0.1)  # lock_minutes=0.02: 1.2-2.2 s
    assert _sign_in(api, "ana-viewer").status_code == 200
    # A success clears the count: two more failures do not lock again.
    assert [_sign_in(api, "ana-viewer", "bad password 2").status_code for _ in range(2)] == [401, 401]
    assert _sign_in(api, "ana-viewer").status_code == 200


def test_every_sign_in_and_failure_is_audited_without_the_password(api: Api) -> None:
    _sign_in(api, "ana-predictor")
    _sign_in(api, "ana-predictor", "not the password")
    _sign_in(api, "ghost")
    events = list_audit(api.engine)
    by_action = [(e["action"], e["subject"]) for e in events if e["action"].startswith("user.sign_in")]
    assert ("user.sign_in", "ana-predictor") in by_action
    assert ("user.sign_in_failed", "ana-predictor") in by_action and (
        "user.sign_in_failed",
        "ghost",
    ) in by_action
    failed = next(
        e for e in events if e["action"] == "user.sign_in_failed" and e["subject"] == "ana-predictor"
    )
    assert failed["detail"] == {"reason": "wrong password", "failures": 1, "client": "testclient"}
    text = repr(events)
    assert PASSWORD not in text and "not the password" not in text
    assert "$argon2" not in text


def test_disabled_user_or_reset_password_ends_the_token(api: Api) -> None:
    viewer, predictor = _token(api, "viewer"), _token(api, "predictor")
    assert api.client.get("/v1/predictions", headers=_bearer(viewer)).status_code == 200
    disable_user(api.engine, "ana-viewer")
    refused = api.client.get("/v1/predictions", headers=_bearer(viewer))
    assert refused.status_code == 401 and "user disabled or password reset" in refused.json()["error"]
    reset_password(api.engine, "ana-predictor", "a brand new password")
    assert api.client.get("/v1/predictions", headers=_bearer(predictor)).status_code == 401
    assert _sign_in(api, "ana-predictor").status_code == 401
    assert _sign_in(api, "ana-predictor", "a brand new password").status_code == 200


def test_expired_tampered_and_foreign_tokens_are_refused(api: Api) -> None:
    good = _token(api, "viewer")
    now = int(time.time())
    base = {"iss": "attrition-api", "sub": "ana-viewer", "role": "viewer", "ver": 0}
    expired = jwt.encode({**base, "iat": now - 120, "exp": now - 60}, SECRET, algorithm="HS256")
    header, payload, signature = good.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"viewer"', b'"admin"')
    ).decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    other_secret = jwt.encode({**base, "iat": now, "exp": now + 60}, "x" * 40, algorithm="HS256")
    unsigned = jwt.encode({**base, "iat": now, "exp": now + 60}, "", algorithm="none")
    for token in (expired, tampered, other_secret, unsigned, "not-a-token"):
        refused = api.client.get("/v1/predictions", headers=_bearer(token))
        assert refused.status_code == 401, token
        assert "invalid or expired sign-in token" in refused.json()["error"]
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert api.client.get("/v1/predictions", headers=_bearer(good)).status_code == 200


def test_key_or_token_but_not_both(api: Api) -> None:
    token = _token(api, "admin")
    assert api.client.get("/v1/predictions", headers=api.headers("viewer")).status_code == 200
    both = api.client.get("/v1/predictions", headers={**api.headers("viewer"), **_bearer(token)})
    assert both.status_code == 401 and "not both" in both.json()["error"]
    none = api.client.get("/v1/predictions")
    assert none.status_code == 401 and "/v1/auth/token" in none.json()["error"]


def test_openapi_declares_both_security_schemes_and_the_token_route(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/v1/auth/token"
    predictions = doc["paths"]["/v1/predictions"]["get"]["security"]
    assert {"APIKeyHeader": []} in predictions and {"OAuth2PasswordBearer": []} in predictions
    token_route = doc["paths"]["/v1/auth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token_route["requestBody"]["content"]
    assert {"401", "422", "429"} <= set(token_route["responses"])
    assert "security" not in token_route


def test_user_rules_and_lockout_in_the_package(db_url: str) -> None:
    engine = create_db_engine(db_url)
    create_user(engine, "bo", "predictor", PASSWORD)
    with pytest.raises(UserError, match="at least 12 characters"):
        create_user(engine, "cy", "viewer", "short")
    with pytest.raises(UserError, match="role 'root' is not one of"):
        create_user(engine, "cy", "root", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        create_user(engine, "bo", "viewer", PASSWORD)
    with pytest.raises(UserError, match="no user named 'ghost'"):
        disable_user(engine, "ghost")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE name = 'bo'")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    policy = LockoutPolicy(max_failures=2, window_minutes=10, lock_minutes=10)
    assert sign_in(engine, "bo", PASSWORD, policy).user is not None
    assert sign_in(engine, "bo", "wrong wrong wrong", policy).locked_until is None
    locked = sign_in(engine, "bo", "wrong wrong wrong", policy).locked_until
    assert locked is not None and get_user(engine, "bo").locked_until == locked
    assert sign_in(engine, "bo", PASSWORD, policy).user is None  # locked: the right password is refused
    reset_password(engine, "bo", "another long password")  # lifts the lockout
    assert sign_in(engine, "bo", "another long password", policy).user is not None
    assert get_user(engine, "bo").token_version == 1
    engine.dispose()


@pytest.fixture
def cli_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ATTRITION_DATABASE_URL", sqlite_url)
    reset_settings()
    get_engine.cache_clear()
    yield sqlite_url
    reset_settings()
    get_engine.cache_clear()


def test_cli_users_create_prompt_stdin_generate_list_disable_reset(cli_db: str) -> None:
    runner = CliRunner()
    engine = create_db_engine(cli_db)
    policy = LockoutPolicy()
    prompted = runner.invoke(
        cli, ["users", "create", "--name", "ana", "--role", "viewer"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output and sign_in(engine, "ana", PASSWORD, policy).user is not None

    piped = runner.invoke(
        cli, ["users", "create", "--name", "bo", "--role", "admin", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert piped.exit_code == 0 and sign_in(engine, "bo", PASSWORD, policy).user is not None

    generated = runner.invoke(cli, ["users", "create", "--name", "cy", "--role", "predictor", "--generate"])
    assert generated.exit_code == 0, generated.output
    password = generated.output.strip().splitlines()[-1]
    assert len(password) >= 12 and sign_in(engine, "cy", password, policy).user is not None

    short = runner.invoke(
        cli, ["users", "create", "--name", "dee", "--role", "viewer", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(cli, ["users", "create", "--name", "dee", "--role", "boss", "--generate"])
    assert bad_role.exit_code == 1 and "boss" in bad_role.output

    reset = runner.invoke(
        cli, ["users", "reset-password", "--name", "ana", "--password-stdin"], input="new password here\n"
    )
    assert reset.exit_code == 0 and sign_in(engine, "ana", "new password here", policy).user is not None
    assert runner.invoke(cli, ["users", "disable", "--name", "bo"]).exit_code == 0
    assert sign_in(engine, "bo", PASSWORD, policy).user is None
    assert runner.invoke(cli, ["users", "disable", "--name", "ghost"]).exit_code == 1

    listed = runner.invoke(cli, ["users", "list"]).output
    assert "ana" in listed and "disabled" in listed and "last sign-in" in listed and PASSWORD not in listed
    assert [u.active for u in list_users(engine)] == [True, False, True]
    actions = [e["action"] for e in list_audit(engine)]
    assert (
        actions.count("user.create") == 3 and "user.disable" in actions and "user.reset_password" in actions
    )
    assert all(e["actor"].startswith("cli") for e in list_audit(engine) if e["action"] == "user.create")
    engine.dispose()


def test_token_check_is_cached_like_keys_then_sees_the_disable(settings: Settings) -> None:
    engine = create_db_engine(settings.db_url)
    create_user(engine, "ed", "viewer", PASSWORD)
    engine.dispose()
    with running_api(settings, api_key_cache_seconds=0.5) as api:
        token = api.client.post("/v1/auth/token", data={"username": "ed", "password": PASSWORD}).json()[
            "access_token"
        ]
        assert api.client.get("/v1/predictions", headers=_bearer(token)).status_code == 200
        disable_user(api.engine, "ed")
        # Within serving.api_key_cache_seconds the verified token is still trusted, then it is refused.
        assert api.client.get("/v1/predictions", headers=_bearer(token)).status_code == 200
        time.sleep(0.6)
        assert api.client.get("/v1/predictions", headers=_bearer(token)).status_code == 401


def test_a_short_token_secret_stops_the_api_with_what_to_do(settings: Settings) -> None:
    from api.tokens import TokenSigner

    with pytest.raises(ValueError, match="token_secret must be at least 32 characters"):
        TokenSigner("too-short", 30)
    with (
        pytest.raises(ValueError, match="at least 32 characters"),
        running_api(settings, token_secret="short"),
    ):
        pass
