"""A live API process for the UI's tests, and the UI opened against it with ``AppTest``.

The UI reaches data over HTTP only, so its tests run it against a real
``attrition serve api`` process: a trained champion, a scored snapshot, a drift
run and one user per role (``ui_world``), an API with no champion and nothing
stored (``empty_world``), and a URL where nothing answers (``DOWN_URL``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest_model import ModelEnv, make_settings
from streamlit.testing.v1 import AppTest

from attrition.config import Settings, location_env, reset_settings
from attrition.db.engine import create_db_engine
from attrition.users import create_user

APP = str(Path(__file__).resolve().parents[1] / "frontend" / "streamlit_app.py")
PASSWORD = "correct-horse-battery-7"
ROLES = ("viewer", "predictor", "admin")
TOKEN_SECRET = "ui-tests-token-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Nothing listens here (the port is closed again at once).
DOWN_URL = f"http://127.0.0.1:{free_port()}"


@dataclass
class World:
    """An API process and what it serves: ``user(role)`` names the account of each role."""

    settings: Settings
    api_url: str
    root: Path

    @staticmethod
    def user(role: str) -> str:
        return f"ui-{role}"


def _env(settings: Settings, root: Path) -> dict[str, str]:
    return {
        **os.environ,
        **location_env(settings, root / "no-configs"),
        "ATTRITION_SERVING__TOKEN_SECRET": TOKEN_SECRET,
        "ATTRITION_SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "ATTRITION_SERVING__RATE_LIMIT_PER_MINUTE": "100000",
        "ATTRITION_SERVING__API_KEY_CACHE_SECONDS": "0",
        "ATTRITION_SERVING__LOG_FLUSH_INTERVAL_SECONDS": "0.05",
    }


@contextmanager
def _service(command: list[str], env: dict[str, str], health: str, log_path: Path) -> Iterator[None]:
    """Run ``command`` until the block ends, once ``health`` answers 200; SIGTERM at the end."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=log_path.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"{command[3:5]} did not start: {log_path.read_text()[-2000:]}")
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def api_process(settings: Settings, root: Path) -> Iterator[str]:
    """``attrition serve api`` on a free port until the block ends; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "attrition.cli", "serve", "api", "--port", str(port), "--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    with _service(command, _env(settings, root), f"{url}/health", root / "api.log"):
        yield url


def add_users(settings: Settings) -> None:
    engine = create_db_engine(settings.db_url)
    try:
        for role in ROLES:
            create_user(engine, World.user(role), role, PASSWORD, actor="ui-tests")
    finally:
        engine.dispose()


def copy_champion(model_env: ModelEnv, root: Path) -> Settings:
    """A private copy of the session's champion: app DB, MLflow store, reference data."""
    (root / "var").mkdir(parents=True)
    for source in model_env.root.glob("app.db*"):
        shutil.copy2(source, root / source.name)
    for source in (model_env.root / "var").glob("mlflow.db*"):
        shutil.copy2(source, root / "var" / source.name)
    settings = make_settings(root, mlflow_artifact_root=model_env.settings.mlflow_artifact_root)
    shutil.copytree(model_env.settings.reference_dir, settings.reference_dir)
    settings.monitoring.domain_classifier = False
    return settings


def open_app(
    api_url: str, world_user: str | None = None, page: str | None = None, *, password: str = PASSWORD
) -> AppTest:
    """The UI against ``api_url``, signed in as ``world_user`` when given, on ``page`` (a file in app_pages/)."""
    os.environ["ATTRITION_UI__API_URL"] = api_url
    os.environ["ATTRITION_UI__CACHE_SECONDS"] = "0"
    reset_settings()
    from frontend.client import ApiClient

    app = AppTest.from_file(APP, default_timeout=60)
    if world_user is not None:
        api = ApiClient(api_url)
        app.session_state["session"] = api.sign_in(world_user, password)
        api.close()
    app.run()
    if page is not None:
        app.switch_page(f"app_pages/{page}")
        app.run()
    return app


def texts(app: AppTest) -> str:
    """Everything the page shows as text (markdown, captions, alerts, metrics, titles), for assertions."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts += [str(element.value) for element in getattr(app, kind)]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    return "\n".join(parts)


@contextmanager
def ui_process(api_url: str, root: Path) -> Iterator[str]:
    """``attrition serve ui`` on a free port against ``api_url`` until the block ends; yields its URL."""
    port = free_port()
    env = {**os.environ, "ATTRITION_UI__API_URL": api_url, "ATTRITION_CONFIG_DIR": str(root / "no-configs")}
    command = [sys.executable, "-m", "attrition.cli", "serve", "ui", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with _service(command, env, f"{url}/_stcore/health", root / f"ui-{port}.log"):
        yield url
