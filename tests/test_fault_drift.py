"""The drift job killed half-way, and its reports folder full: never a verdict that was not reached.

``attrition drift run`` runs as a process on a real champion (its reference data, MLflow store
and app database). SIGKILL once its ``drift_runs`` row exists (the row is written before any
analysis), and a reports folder on a full tmpfs (ENOSPC), are the faults.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv
from fault_support import api_environment, time_bound

from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.db.drift_runs import STALE_AFTER, close_interrupted, insert_drift_run, this_runner
from attrition.db.engine import create_db_engine
from attrition.jobs.drift import EXIT_DRIFT, EXIT_ERROR, EXIT_OK

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 800


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(150):
        yield


@pytest.fixture
def env(champion_env: ModelEnv, model_env: ModelEnv, tmp_path: Path) -> ModelEnv:
    """A private champion with the reference data its promotion wrote, and a drifted current CSV."""
    shutil.copytree(model_env.settings.reference_dir, champion_env.settings.reference_dir)
    generate_workforce(ROWS, seed=5, drift="overtime_surge").to_csv(tmp_path / "current.csv", index=False)
    return champion_env


def _drift(settings: Settings, workdir: Path, *extra: str) -> subprocess.Popen[str]:
    env = api_environment(settings, workdir) | {"ATTRITION_MONITORING__DOMAIN_CLASSIFIER": "false"}
    command = [
        sys.executable,
        "-m",
        "attrition.cli",
        "drift",
        "run",
        "--current-csv",
        str(workdir / "current.csv"),
    ]
    return subprocess.Popen(
        [*command, *extra], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _runs(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT run_id, status, severity, results, error, runner FROM drift_runs ORDER BY id")
        )
        return [dict(row._mapping) for row in rows]


def test_drift_job_killed_mid_analysis_leaves_no_verdict_and_the_next_run_records_one(
    env: ModelEnv, tmp_path: Path
) -> None:
    """Lost if it failed: the truth about the killed check (a row or a report saying "no drift"
    for a check never done, or a row "running" forever), or the next check (blocked or mixed up
    with the dead one)."""
    engine = create_db_engine(env.settings.db_url)
    job = _drift(env.settings, tmp_path)
    deadline = time.monotonic() + 60
    while not _runs(engine) and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)  # its row exists: it is loading the champion and analysing
    job.communicate(timeout=30)
    assert job.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    killed = _runs(engine)
    assert len(killed) == 1 and killed[0]["status"] == "running", killed
    assert killed[0]["severity"] is None and killed[0]["results"] is None
    reports = Path(env.settings.reports_dir)
    assert not reports.exists() or not list(reports.glob("drift_*")), list(reports.glob("drift_*"))

    again = _drift(env.settings, tmp_path, "--no-html")
    _, err = again.communicate(timeout=90)
    assert again.returncode in (EXIT_OK, EXIT_DRIFT), err[-2000:]
    runs = _runs(engine)
    assert len(runs) == 2 and runs[0]["run_id"] == killed[0]["run_id"]  # exactly one more
    # the dead one is closed as interrupted (its process is gone), still without a verdict
    assert runs[0]["status"] == "error" and runs[0]["severity"] is None and runs[0]["results"] is None
    assert runs[0]["error"].startswith(f"interrupted: its process ({killed[0]['runner']}) ended")
    assert killed[0]["runner"] == f"{socket.gethostname()}:{job.pid}"
    assert runs[1]["status"] == "ok" and runs[1]["severity"] in ("moderate", "severe", "critical")
    assert str(runs[1]["run_id"]) in (reports / "drift_latest.md").read_text()
    engine.dispose()


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (as root); filled by the test with ``fill``."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "reports"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True, timeout=10
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True, timeout=10)


def fill(folder: Path) -> None:
    """Write until the device is full (ENOSPC)."""
    block = b"\0" * 4096
    try:
        with (folder / "filler").open("wb", buffering=0) as out:
            while True:
                out.write(block)
    except OSError:
        pass


def test_a_full_reports_folder_is_an_error_never_a_stale_or_lost_verdict(
    env: ModelEnv, full_folder: Path, tmp_path: Path
) -> None:
    """Lost if it failed: the verdict (the run reported as done, or as "no drift"), or the
    reports folder still presenting the previous run's verdict as the latest one."""
    settings = env.settings.model_copy(update={"reports_dir": full_folder})
    engine = create_db_engine(settings.db_url)
    first = _drift(settings, tmp_path, "--no-html")
    first.communicate(timeout=90)
    assert first.returncode in (EXIT_OK, EXIT_DRIFT)
    assert (full_folder / "drift_latest.md").is_file()
    before = set(full_folder.iterdir())

    fill(full_folder)
    second = _drift(settings, tmp_path, "--no-html")
    out, err = second.communicate(timeout=90)
    assert second.returncode == EXIT_ERROR, err[-2000:]
    assert "reports could not be written" in out and "No space left on device" in out
    runs = _runs(engine)
    assert len(runs) == 2 and runs[1]["status"] == "error" and runs[1]["severity"] is None
    assert "reports could not be written" in str(runs[1]["error"])
    assert "verdict (" in str(runs[1]["error"])  # the severity reached is in the recorded error
    # No half-written report of the failed run, and no earlier verdict posing as the latest: what
    # is left of it (the error report, when removing the partial files freed room for it) says ERROR.
    run = str(runs[1]["run_id"])
    left = set(full_folder.iterdir()) - before - {full_folder / "filler"}
    assert all(path.name.endswith(f"_{run[:8]}{path.suffix}") for path in left), left
    assert all(json.loads(p.read_text())["status"] == "error" for p in left if p.suffix == ".json"), left
    latest = [full_folder / "drift_latest.json", full_folder / "drift_latest.md"]
    if latest[0].exists():
        assert json.loads(latest[0].read_text())["run_id"] == run
        assert latest[1].read_text().startswith("## Attrition drift check: ERROR")
    else:
        assert not latest[1].exists()
    engine.dispose()


def test_only_runs_whose_process_is_gone_or_that_are_stale_are_closed(sqlite_url: str) -> None:
    """Lost if it failed: a live check (another process, or this one) closed under its feet."""
    engine = create_db_engine(sqlite_url)
    host = socket.gethostname()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = {
        "dead": (f"{host}:{_ended_pid()}", now),
        "alive": (f"{host}:{os.getppid()}", now),
        "mine": (this_runner(), now),
        "elsewhere": ("another-host:1", now),
        "stale": ("another-host:2", now - STALE_AFTER - dt.timedelta(minutes=1)),
        "old-row": (None, now),
    }
    for run_id, (runner, started) in rows.items():
        insert_drift_run(
            engine,
            {
                "run_id": run_id,
                "started_at": started,
                "status": "running",
                "runner": runner,
                "reference_description": "r",
                "current_description": "c",
                "reference_rows": 0,
                "current_rows": 0,
            },
        )
    assert sorted(close_interrupted(engine)) == ["dead", "stale"]
    statuses = {r["run_id"]: r["status"] for r in _runs(engine)}
    assert statuses == {
        "dead": "error",
        "stale": "error",
        "alive": "running",
        "mine": "running",
        "elsewhere": "running",
        "old-row": "running",
    }
    assert close_interrupted(engine) == []  # closed once
    engine.dispose()


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
