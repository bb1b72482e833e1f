"""`attrition serve ui` as a live Streamlit process: hardened flags, the API URL handed over, SIGTERM stops it."""

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
from browser_support import launch_browser

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Stands in for frontend/streamlit_app.py: shows the API URL the command handed to the UI.
APP = """
import os
import streamlit as st

st.title("placeholder UI")
st.write("API at " + os.environ["ATTRITION_UI__API_URL"])
"""
API_URL = "http://127.0.0.1:9/placeholder-api"


@dataclass
class Ui:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _attrition(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attrition.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    """The command running the placeholder app (named by ATTRITION_UI_APP) until /_stcore/health answers."""
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {**os.environ, "ATTRITION_UI_APP": str(app), "ATTRITION_CONFIG_DIR": str(tmp_path / "no-configs")}
    port = _free_port()
    command = [sys.executable, "-m", "attrition.cli", "serve", "ui", "--port", str(port)]
    command += ["--api-url", API_URL]
    log_path = tmp_path / "ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the UI did not answer /_stcore/health: {log_path.read_text()[-2000:]}")
        yield Ui(process, port, log_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_serve_ui_runs_streamlit_headless_with_xsrf_and_stops_on_sigterm(ui: Ui) -> None:
    health = httpx.get(f"{ui.base}/_stcore/health", timeout=5)
    assert health.status_code == 200 and health.text == "ok"
    # XSRF protection on: the server hands out a token cookie and refuses an upload without it.
    assert "_streamlit_xsrf" in health.cookies
    assert httpx.put(f"{ui.base}/_stcore/upload_file/session/file", timeout=5).status_code == 403
    started = ui.log.read_text()
    assert "Collecting usage statistics" not in started, started  # gatherUsageStats false
    assert f"started on 127.0.0.1:{ui.port}" in started, started  # ui.host, not every interface

    # The command exec'd Streamlit: the signal to the pid we started reaches Streamlit itself.
    ui.process.send_signal(signal.SIGTERM)
    assert ui.process.wait(timeout=30) in (0, -signal.SIGTERM), ui.log.read_text()[-2000:]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{ui.base}/_stcore/health", timeout=2)


def test_serve_ui_hands_the_api_url_to_the_app(ui: Ui) -> None:
    with launch_browser() as page:
        page.goto(ui.base)
        page.get_by_text(f"API at {API_URL}").wait_for(timeout=30_000)
        assert page.get_by_role("heading", name="placeholder UI").is_visible()


def test_a_missing_app_file_is_named_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "streamlit_app.py"
    env = {**os.environ, "ATTRITION_UI_APP": str(missing)}
    done = _attrition("serve", "ui", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"the UI app {missing} does not exist" in done.stderr and "--app" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_streamlit_the_command_names_the_ui_extra(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    # ``sys.modules[name] = None`` makes the import machinery treat streamlit as not installed.
    code = (
        "import sys; sys.modules['streamlit'] = None; "
        f"sys.argv = ['attrition', 'serve', 'ui', '--app', {str(app)!r}]; "
        "from attrition.entrypoint import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "needs the 'ui' extra" in done.stderr and "pip install 'attrition[ui]'" in done.stderr
