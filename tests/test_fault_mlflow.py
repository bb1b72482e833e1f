"""MLflow unreachable: at the API's start-up, and at a reload with a model already served.

A real ``mlflow server`` process (the champion's store, SQLite, as a local process like
tests/test_stack_local.py's) behind a loopback proxy (tests/tcp_proxy.py): cutting the proxy is
the tracking server going away, restoring it the server coming back. The API is a real uvicorn
process whose tracking URI is the proxy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest_model import ModelEnv
from fault_support import LiveApi, free_port, live_api, stored_prediction_ids, time_bound, wait_stored
from tcp_proxy import TcpProxy

from api.schemas import EXAMPLE_REQUEST
from attrition.db.engine import create_db_engine
from attrition.keys import create_key
from attrition.schema import ID_COLUMN

pytestmark = [pytest.mark.integration, pytest.mark.slow]
#: How long one answer may take while MLflow is away (the registry check's own timeout is 5 s).
ANSWER_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(180):
        yield


@pytest.fixture
def mlflow_server(champion_env: ModelEnv, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``mlflow server`` on the champion's store, started (not yet healthy); (host, port)."""
    port = free_port()
    store = champion_env.settings.tracking_uri
    command = [
        *(sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store),
        *("--default-artifact-root", champion_env.settings.artifact_root),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--allowed-hosts", "127.0.0.1,127.0.0.1:*,localhost,localhost:*"),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (tmp_path / "mlflow.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        yield "127.0.0.1", port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.3)


def _healthy(host: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{host}:{port}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _timed(call: object) -> httpx.Response:
    started = time.monotonic()
    response: httpx.Response = call()  # type: ignore[operator]
    took = time.monotonic() - started
    assert took < ANSWER_SECONDS, f"answered after {took:.1f} s"
    return response


def _predict(api: LiveApi, key: str, number: int) -> httpx.Response:
    body = {**EXAMPLE_REQUEST, ID_COLUMN: number}
    return httpx.post(f"{api.base}/v1/predict", json=body, headers={"X-API-Key": key}, timeout=30)


def _ready(api: LiveApi) -> httpx.Response:
    return httpx.get(f"{api.base}/ready", timeout=30)


def test_api_started_without_mlflow_says_so_and_serves_once_it_is_back(
    champion_env: ModelEnv, mlflow_server: tuple[str, int], tmp_path: Path
) -> None:
    """Lost if it failed: the service (a crash or a hang at start-up, 500s instead of a reason), or
    every prediction after MLflow came back if the API never retried the load."""
    engine = create_db_engine(champion_env.settings.db_url)
    key = create_key(engine, "fault-predictor", "predictor")
    with TcpProxy(mlflow_server) as proxy:
        proxy.cut()  # the tracking server is away when the API starts
        uri = f"http://127.0.0.1:{proxy.port}"
        settings = champion_env.settings.model_copy(update={"mlflow_tracking_uri": uri})
        with live_api(settings, tmp_path, reload_interval_seconds=1) as api:
            ready = _timed(lambda: _ready(api))
            assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
            model = ready.json()["checks"]["model"]
            assert not model["ok"] and "not reachable" in model["detail"] and uri in model["detail"]
            refused = _timed(lambda: _predict(api, key, 1))
            assert refused.status_code == 503, refused.text
            assert "no model is being served" in refused.json()["error"]
            assert "not reachable" in refused.json()["error"]

            _wait(lambda: _healthy(*mlflow_server), 90, "mlflow server healthy")
            proxy.restore()  # MLflow is back: the poller loads the champion
            _wait(lambda: _ready(api).status_code == 200, 30, "/ready 200 after MLflow came back")
            assert _ready(api).json()["status"] == "ready"
            served = [_predict(api, key, 10 + n) for n in range(5)]
            assert [r.status_code for r in served] == [200] * 5
            assert {r.json()["model_version"] for r in served} == {champion_env.version}
            stored = wait_stored(engine, 5)
    assert sorted(stored) == sorted(r.json()["prediction_id"] for r in served)  # the 503s logged nothing
    engine.dispose()


def test_reload_while_mlflow_is_away_keeps_the_last_good_model(
    champion_env: ModelEnv, mlflow_server: tuple[str, int], tmp_path: Path
) -> None:
    """Lost if it failed: every prediction from the reload on (the model dropped for an
    unreachable registry), or the operator's view of the failure (a reload that says it worked)."""
    engine = create_db_engine(champion_env.settings.db_url)
    keys = {role: create_key(engine, f"fault-{role}", role) for role in ("predictor", "admin")}
    _wait(lambda: _healthy(*mlflow_server), 90, "mlflow server healthy")
    with TcpProxy(mlflow_server) as proxy:
        uri = f"http://127.0.0.1:{proxy.port}"
        settings = champion_env.settings.model_copy(update={"mlflow_tracking_uri": uri})
        with live_api(settings, tmp_path, reload_interval_seconds=1) as api:
            assert _ready(api).json()["status"] == "ready", api.tail()
            before = [_predict(api, keys["predictor"], 1 + n) for n in range(20)]
            proxy.cut()
            reload = _timed(
                lambda: httpx.post(
                    f"{api.base}/v1/admin/reload", headers={"X-API-Key": keys["admin"]}, timeout=30
                )
            )
            assert reload.status_code == 503, reload.text
            error = reload.json()["error"]
            assert error.startswith("reload failed") and "not reachable" in error
            assert f"Still serving version {champion_env.version}" in error
            during = [_predict(api, keys["predictor"], 100 + n) for n in range(20)]
            ready = _ready(api)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            registry = ready.json()["checks"]["registry"]
            assert not registry["ok"] and "not reachable" in registry["detail"]
            info = httpx.get(f"{api.base}/v1/model", headers={"X-API-Key": keys["predictor"]}, timeout=30)
            assert info.status_code == 200 and info.json()["model_version"] == champion_env.version
            proxy.restore()
            _wait(lambda: _ready(api).json()["status"] == "ready", 30, "/ready ready after MLflow came back")
            answered = [r for r in before + during if r.status_code == 200]
            assert len(answered) == 40, [
                (r.status_code, r.text) for r in before + during if r.status_code != 200
            ]
            assert {r.json()["model_version"] for r in answered} == {champion_env.version}
            stored = wait_stored(engine, 40)
    assert len(stored) == 40 and set(stored) == {r.json()["prediction_id"] for r in answered}
    assert len(stored_prediction_ids(engine)) == 40
    engine.dispose()
