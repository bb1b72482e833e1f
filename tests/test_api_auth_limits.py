"""Failed authentication is rate-limited per client address: wrong keys, bad tokens, wrong passwords.

Real app on a real SQLite app DB (no model needed); other client addresses are real ASGI clients
of the same running app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from api_support import Api, running_api
from fastapi.testclient import TestClient

from api.auth import AUTH_FAILURES_PER_MINUTE, FailedAuthLimiter
from attrition.config import Settings
from attrition.users import create_user

SECRET = "s" * 40
PASSWORD = "correct horse battery"
LOG = "/v1/predictions"


@pytest.fixture
def api(empty_env: Settings) -> Iterator[Api]:
    with running_api(empty_env, token_secret=SECRET) as running:
        create_user(running.engine, "ana", "viewer", PASSWORD)
        yield running


def _other_client(api: Api, address: str) -> TestClient:
    """Another client address on the same running app (shares its state, not its lifespan)."""
    return TestClient(api.client.app, client=(address, 40000), raise_server_exceptions=False)


def _wrong_key(i: int) -> dict[str, str]:
    return {"X-API-Key": f"atk_{i:08x}_not-a-real-key-{i}"}


def _exhaust(client: TestClient) -> list[httpx.Response]:
    return [client.get(LOG, headers=_wrong_key(i)) for i in range(AUTH_FAILURES_PER_MINUTE)]


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "too many failed authentications from this address" in response.json()["error"]


def test_wrong_keys_in_a_row_end_in_429_with_retry_after(api: Api) -> None:
    answers = _exhaust(api.client)
    assert {r.status_code for r in answers} == {401}
    for i in range(5):
        _assert_limited(api.client.get(LOG, headers=_wrong_key(1000 + i)))
    # Missing and malformed keys are failures too, and refused the same way.
    _assert_limited(api.client.get(LOG))
    _assert_limited(api.client.get(LOG, headers={"X-API-Key": "nonsense"}))


def test_an_address_over_the_limit_does_not_affect_other_clients(api: Api) -> None:
    _exhaust(api.client)
    _assert_limited(api.client.get(LOG, headers=api.headers("viewer")))  # even a valid key: not yet proven
    other = _other_client(api, "203.0.113.7")
    assert other.get(LOG, headers=api.headers("viewer")).status_code == 200
    assert other.get(LOG, headers=_wrong_key(1)).status_code == 401  # its own bucket, still full


def test_a_key_verified_moments_ago_still_works_from_a_limited_address(empty_env: Settings) -> None:
    """With the key cache on, a key this process just verified is proof, not a guess."""
    with running_api(empty_env, api_key_cache_seconds=60) as api:
        assert api.client.get(LOG, headers=api.headers("viewer")).status_code == 200
        _exhaust(api.client)
        assert api.client.get(LOG, headers=api.headers("viewer")).status_code == 200
        _assert_limited(api.client.get(LOG, headers=api.headers("predictor")))  # never verified here


def test_bad_bearer_tokens_count_and_a_well_signed_token_still_works(api: Api) -> None:
    token = api.client.post("/v1/auth/token", data={"username": "ana", "password": PASSWORD})
    assert token.status_code == 200, token.text
    good = {"Authorization": f"Bearer {token.json()['access_token']}"}
    bad = [api.client.get(LOG, headers={"Authorization": f"Bearer forged.{i}.token"}) for i in range(30)]
    assert {r.status_code for r in bad} == {401}
    _assert_limited(api.client.get(LOG, headers={"Authorization": "Bearer forged.again"}))
    assert api.client.get(LOG, headers=good).status_code == 200


def test_failed_sign_ins_count_per_address_across_user_names(api: Api) -> None:
    """Unknown names never lock an account, so without the address limit one client could spray them."""
    api.ctx.auth_failures = FailedAuthLimiter(per_minute=4)  # argon2 makes each try slow: a small limit
    for i in range(4):
        wrong = api.client.post("/v1/auth/token", data={"username": f"guess{i}", "password": "x"})
        assert wrong.status_code == 401, wrong.text
    refused = api.client.post("/v1/auth/token", data={"username": "ana", "password": PASSWORD})
    _assert_limited(refused)
    other = _other_client(api, "198.51.100.4")
    assert other.post("/v1/auth/token", data={"username": "ana", "password": PASSWORD}).status_code == 200


def test_successful_requests_do_not_count(api: Api) -> None:
    for _ in range(AUTH_FAILURES_PER_MINUTE + 10):
        assert api.client.get(LOG, headers=api.headers("viewer")).status_code == 200
    assert api.client.get(LOG, headers=_wrong_key(0)).status_code == 401


def test_the_bucket_refills_over_time() -> None:
    limiter = FailedAuthLimiter(per_minute=60)  # one attempt back per second
    for _ in range(60):
        assert limiter.wait("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert 0 < limiter.wait("10.0.0.1") <= 1.0
    assert limiter.wait("10.0.0.2") == 0
    time.sleep(1.05)
    assert limiter.wait("10.0.0.1") == 0
