"""scripts/demo-services.sh, for real: the four demo services start, answer, and `stop` leaves nothing.

The script runs from the checkout on free ports with its data and state in a tmp dir
(ATTRITION_DATA_DIR, DEMO_VAR_DIR), over a small champion built with the CLI. MLflow's job
execution is on (DEMO_MLFLOW_JOBS=true), so stop must also end the huey consumers it spawns.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "demo-services.sh"
ATTRITION = str(ROOT / ".venv" / "bin" / "attrition")
SERVICES = ("api", "ui", "mlflow", "drift")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTRITION_", "DEMO_", "MLFLOW_"))}
    env.update(
        ATTRITION_DATA_DIR=str(tmp),
        ATTRITION_REPORTS_DIR=str(tmp / "reports"),
        ATTRITION_REFERENCE_DIR=str(tmp / "reference"),
        DEMO_VAR_DIR=str(tmp),
        DEMO_API_PORT=str(_free_port()),
        DEMO_UI_PORT=str(_free_port()),
        DEMO_MLFLOW_PORT=str(_free_port()),
        DEMO_MLFLOW_JOBS="true",
        DEMO_DRIFT_INTERVAL="600",
    )
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([ATTRITION, *args], env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)


def _script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def _tagged(var_dir: Path) -> list[int]:
    """Processes carrying this demo's DEMO_SERVICES_ID, in any group."""
    tag = f"DEMO_SERVICES_ID={var_dir.resolve()}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if tag in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _in_groups(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of ``groups``."""
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            members.append(int(proc.name))
    return members


def _environ(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "environ").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return bytes(response.read())


def _drift_status(path: Path) -> dict[str, object]:
    """The status file once the service is past "starting" (it checks at once in interval mode)."""
    for _ in range(60):
        status: dict[str, object] = json.loads(path.read_text())
        if status["state"] != "starting":
            break
        time.sleep(0.5)
    return status


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[dict[str, str], subprocess.CompletedProcess[str]]]:
    env = _env(tmp_path)
    _cli(env, "db", "upgrade")
    _cli(env, "generate", "--rows", "600", "--seed", "7", "--out", str(tmp_path / "workforce.csv"))
    _cli(env, "ingest", str(tmp_path / "workforce.csv"))
    _cli(env, "train", "--trials", "2", "--promote")
    started = _script(env)
    try:
        yield env, started
    finally:
        _script(env, "stop")


def test_demo_starts_four_services_and_stop_leaves_nothing(
    demo: tuple[dict[str, str], subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    env, started = demo
    assert started.returncode == 0, started.stderr + started.stdout
    api = f"http://127.0.0.1:{env['DEMO_API_PORT']}"
    ui = f"http://127.0.0.1:{env['DEMO_UI_PORT']}"
    mlflow = f"http://127.0.0.1:{env['DEMO_MLFLOW_PORT']}"

    assert json.loads(_get(f"{api}/ready"))["status"] == "ready"
    _get(f"{ui}/_stcore/health")
    models = json.loads(_get(f"{mlflow}/api/2.0/mlflow/registered-models/search"))
    assert [m["name"] for m in models["registered_models"]] == ["attrition-classifier"]
    status = _drift_status(tmp_path / "monitoring_status.json")
    assert status["state"] in {"running", "sleeping"}, status
    assert status["schedule"] == "every 600s"

    for url in (ui, f"{api}/docs", mlflow):
        assert url in started.stdout
    assert "sign in as:        demo / " in started.stdout

    groups = {int((tmp_path / f"{name}.pid").read_text()) for name in SERVICES}
    assert len(_in_groups(groups)) > len(SERVICES)  # the services' children (uvicorn, huey) too
    assert _tagged(tmp_path)

    huey_dirs = {
        line.split("=", 1)[1]
        for pid in _in_groups(groups)
        for line in _environ(pid)
        if line.startswith("_MLFLOW_HUEY_STORAGE_PATH=")
    }
    assert huey_dirs and all(Path(d).is_dir() for d in huey_dirs)

    stopped = _script(env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    names = [line.split()[1] for line in stopped.stdout.splitlines() if line.startswith("stopped ")]
    assert sorted(names) == sorted(SERVICES)
    assert _in_groups(groups) == []
    assert _tagged(tmp_path) == []
    assert not list(tmp_path.glob("*.pid"))
    assert not any(Path(d).exists() for d in huey_dirs)  # MLflow leaves its queue dirs; stop removes them

    again = _script(env, "stop")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
