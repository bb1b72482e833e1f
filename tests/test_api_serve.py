"""`attrition serve api` over real HTTP: a live uvicorn process predicts, and drains its log on shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest_model import ModelEnv

from api.schemas import EXAMPLE_REQUEST
from attrition.db.engine import create_db_engine
from attrition.db.repositories import get_prediction
from attrition.keys import create_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_api_answers_over_http_and_drains_the_log_on_shutdown(
    champion_env: ModelEnv, tmp_path: Path
) -> None:
    settings = champion_env.settings
    engine = create_db_engine(settings.db_url)
    key = create_key(engine, "live", "predictor")
    env = {
        **os.environ,
        "ATTRITION_DATA_DIR": str(settings.data_dir),
        "ATTRITION_DATABASE_URL": settings.db_url,
        "ATTRITION_MLFLOW_TRACKING_URI": settings.tracking_uri,
        "ATTRITION_MLFLOW_ARTIFACT_ROOT": settings.artifact_root,
        "ATTRITION_CONFIG_DIR": str(tmp_path / "no-configs"),
        # A long flush interval: the entry can only reach the table through the shutdown drain.
        "ATTRITION_SERVING__LOG_FLUSH_INTERVAL_SECONDS": "600",
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
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, (tmp_path / "server.log").read_text()[-2000:]
        response = httpx.post(
            f"{base}/v1/predict", json=EXAMPLE_REQUEST, headers={"X-API-Key": key}, timeout=30
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"]
        prediction_id = response.json()["prediction_id"]
        assert get_prediction(engine, prediction_id) is None  # still queued
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    output = (tmp_path / "server.log").read_text()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
    tail = output[-2000:]
    assert server.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in output, tail
    row = get_prediction(engine, prediction_id)
    assert row is not None and row["model_version"] == "1"
    engine.dispose()
