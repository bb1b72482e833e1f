"""No key, password or token ever reaches the server log: a live `attrition serve api` process, driven
with failed sign-ins, wrong keys, bad tokens and credentials in the URL, then its whole log searched.

The log is the process's stdout and stderr (uvicorn's access log included) at DEBUG level.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from attrition.config import Settings
from attrition.db.engine import create_db_engine
from attrition.jobs.serve import redact_query
from attrition.keys import create_key
from attrition.users import create_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "right-horse-battery-7Q"
WRONG_PASSWORD = "wrong-horse-battery-PW1"
BAD_KEY = "atk_deadbeef_BADKEYMARKER123"
BAD_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.BADTOKENMARKER"
SECRET = "t" * 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    log: Path
    key: str


@pytest.fixture
def server(empty_env: Settings, tmp_path: Path) -> Iterator[Server]:
    engine = create_db_engine(empty_env.db_url)
    key = create_key(engine, "live", "viewer")
    create_user(engine, "ana", "viewer", PASSWORD)
    engine.dispose()
    env = {
        **os.environ,
        "ATTRITION_DATA_DIR": str(empty_env.data_dir),
        "ATTRITION_DATABASE_URL": empty_env.db_url,
        "ATTRITION_MLFLOW_TRACKING_URI": empty_env.tracking_uri,
        "ATTRITION_MLFLOW_ARTIFACT_ROOT": empty_env.artifact_root,
        "ATTRITION_CONFIG_DIR": str(tmp_path / "no-configs"),
        "ATTRITION_LOG_LEVEL": "DEBUG",
        "ATTRITION_SERVING__TOKEN_SECRET": SECRET,
        "ATTRITION_SERVING__RELOAD_INTERVAL_SECONDS": "0",
    }
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "attrition.cli",
        "serve",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(process, base, log_path)
            yield Server(base, log_path, key)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(log.read_text()[-2000:])


def _drive(server: Server) -> tuple[list[str], dict[str, int]]:
    """Every kind of failed authentication; the credentials sent, and the status of each kind."""
    with httpx.Client(base_url=server.base, timeout=30) as client:
        good = client.post("/v1/auth/token", data={"username": "ana", "password": PASSWORD})
        assert good.status_code == 200, good.text
        token = good.json()["access_token"]
        statuses = {
            "wrong password": client.post(
                "/v1/auth/token", data={"username": "ana", "password": WRONG_PASSWORD}
            ).status_code,
            "unknown user": client.post(
                "/v1/auth/token", data={"username": "nobody", "password": WRONG_PASSWORD}
            ).status_code,
            "bad key": client.get("/v1/predictions", headers={"X-API-Key": BAD_KEY}).status_code,
            "bad token": client.get(
                "/v1/predictions", headers={"Authorization": f"Bearer {BAD_TOKEN}"}
            ).status_code,
            "tampered token": client.get(
                "/v1/predictions", headers={"Authorization": f"Bearer {token}x"}
            ).status_code,
            "key and token": client.get(
                "/v1/predictions", headers={"X-API-Key": server.key, "Authorization": f"Bearer {token}"}
            ).status_code,
            "key in the URL": client.get("/v1/predictions", params={"api_key": server.key}).status_code,
            "token in the URL": client.get("/v1/model", params={"access_token": token}).status_code,
            "key in the URL, other name": client.get(
                f"/v1/nothing?X-API-Key={server.key}&limit=1"
            ).status_code,
            "good key": client.get("/v1/predictions", headers={"X-API-Key": server.key}).status_code,
            "good token": client.get(
                "/v1/predictions", headers={"Authorization": f"Bearer {token}"}
            ).status_code,
        }
    return [PASSWORD, WRONG_PASSWORD, BAD_KEY, BAD_TOKEN, server.key, token], statuses


def test_no_credential_reaches_the_server_log(server: Server) -> None:
    secrets, statuses = _drive(server)
    assert statuses == {
        "wrong password": 401,
        "unknown user": 401,
        "bad key": 401,
        "bad token": 401,
        "tampered token": 401,
        "key and token": 401,
        "key in the URL": 400,
        "token in the URL": 400,
        "key in the URL, other name": 400,
        "good key": 200,
        "good token": 200,
    }
    time.sleep(0.5)  # let the access log lines reach the file
    text = server.log.read_text(errors="replace")
    assert '"GET /v1/predictions HTTP/1.1" 401' in text  # the access log is on and in this file
    assert "api_key=[REDACTED]" in text and "access_token=[REDACTED]" in text
    assert "X-API-Key=[REDACTED]&limit=1" in text
    for secret in secrets:
        assert secret not in text, f"{secret[:6]}... is in the server log"
    for fragment in ("BADKEYMARKER", "BADTOKENMARKER", "horse-battery", server.key.split("_")[-1][:16]):
        assert fragment not in text


def test_redaction_keeps_ordinary_parameters() -> None:
    line = "/v1/predictions?limit=5&Token=abc&risk_band=high&password=p%20w&keyword=x"
    assert redact_query(line) == (
        "/v1/predictions?limit=5&Token=[REDACTED]&risk_band=high&password=[REDACTED]&keyword=x"
    )
    assert redact_query("/v1/predictions") == "/v1/predictions"
