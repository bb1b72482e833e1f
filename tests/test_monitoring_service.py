"""The drift service (``python -m monitoring``): its schedules, its loop, and the real process.

Checks run for real: a trained champion (``champion_env``) with the reference data its
promotion wrote, the app DB's ``drift_runs`` table, reports on disk. The loop runs in
process where only the loop is under test, and as a subprocess where the process is
(exit code, signals).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest_model import ModelEnv, make_settings
from pydantic import ValidationError

from attrition.config import MonitoringSettings, Settings
from attrition.db.drift_runs import list_drift_runs
from attrition.db.engine import get_engine
from attrition.jobs.drift import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_OK,
    DriftRequest,
    DriftRunOutcome,
    run_drift_check,
)
from monitoring.__main__ import build_parser, main, options_from
from monitoring.scheduler import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    ServiceOptions,
    next_cron_time,
    next_interval_time,
    schedule_from,
    serve,
    sleep_until,
)

REPO = Path(__file__).resolve().parents[1]
UTC = dt.UTC
DRIFTED = ("moderate", "severe", "critical")  # 800 rows of overtime_surge: OverTime drifts


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- schedules -------------------------------------------------------------------------------


def test_interval_next_run_is_previous_start_plus_interval() -> None:
    start = at("2026-11-04T10:30:15")
    assert next_interval_time(start, 3600, start + dt.timedelta(minutes=5)) == at("2026-11-04T11:30:15")
    schedule = IntervalSchedule(0.5)
    assert schedule.first_run(start) == start  # the first check runs at once
    assert schedule.next_run(start, start) == start + dt.timedelta(seconds=0.5)


def test_interval_after_an_overrun_runs_once_now_not_a_catch_up_burst() -> None:
    start = at("2026-11-04T00:00:00")
    late = start + dt.timedelta(days=3, minutes=7)  # three intervals missed (a suspended host)
    following = next_interval_time(start, 86_400, late)
    assert following == late
    # the run after that is one interval after the late run, not the next missed slot
    assert next_interval_time(following, 86_400, following + dt.timedelta(minutes=2)) == late + dt.timedelta(
        days=1
    )


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Wednesday 10:30 -> the next Monday 06:00
        ("0 6 * * 1", "2026-11-04T10:30:15", "2026-11-09T06:00:00"),
        # a Monday at 06:00 exactly -> a week later (strictly after)
        ("0 6 * * 1", "2026-11-09T06:00:00", "2026-11-16T06:00:00"),
        # steps
        ("*/15 * * * *", "2026-11-04T10:30:15", "2026-11-04T10:45:00"),
        ("0 0 1 */3 *", "2026-11-04T10:30:00", "2027-01-01T00:00:00"),
        # hour range with a step on weekdays: Friday evening -> Monday 09:00
        ("0 9-17/4 * * 1-5", "2026-11-06T18:00:00", "2026-11-09T09:00:00"),
        ("0 9-17/4 * * 1-5", "2026-11-09T09:00:00", "2026-11-09T13:00:00"),
        # 0 and 7 are both Sunday; names work too
        ("30 2 * * 0", "2026-11-04T00:00:00", "2026-11-08T02:30:00"),
        ("30 2 * * 7", "2026-11-04T00:00:00", "2026-11-08T02:30:00"),
        ("0 6 * * mon", "2026-11-04T00:00:00", "2026-11-09T06:00:00"),
        # day-of-month OR day-of-week when both are restricted, as in cron
        ("0 6 1 * 1", "2026-11-24T00:00:00", "2026-11-30T06:00:00"),
        ("0 6 1 * 1", "2026-11-30T07:00:00", "2026-12-01T06:00:00"),
    ],
)
def test_cron_next_matching_minute(expression: str, after: str, expected: str) -> None:
    assert next_cron_time(expression, at(after)) == at(expected)


def test_cron_schedule_waits_for_the_first_match_and_skips_matches_missed_during_a_check() -> None:
    schedule = CronSchedule("*/10  *  * * *")
    assert schedule.expression == "*/10 * * * *"
    now = at("2026-11-04T10:03:00")
    assert schedule.first_run(now) == at("2026-11-04T10:10:00")
    # a check started 10:10 and ended 10:37: the next is 10:40, 10:20 and 10:30 are not queued
    assert schedule.next_run(at("2026-11-04T10:10:00"), at("2026-11-04T10:37:12")) == at(
        "2026-11-04T10:40:00"
    )
    # naive times are UTC
    assert next_cron_time("0 6 * * *", dt.datetime(2026, 11, 4, 5, 59)) == at("2026-11-04T06:00:00")


@pytest.mark.parametrize(
    "expression",
    ["61 * * * *", "0 6 * *", "0 6 * * 1 2026", "0 6 * * 8", "every monday", "0 0 30 2 *"],
)
def test_a_bad_cron_expression_is_a_clear_error_naming_it(expression: str) -> None:
    with pytest.raises(ScheduleError, match="invalid cron expression") as info:
        CronSchedule(expression)
    assert repr(expression) in str(info.value)


def test_schedule_options_over_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert schedule_from(settings) == IntervalSchedule(86_400.0)
    with_cron = make_settings(tmp_path, monitoring=MonitoringSettings(cron="0 6 * * 1", interval_seconds=60))
    assert schedule_from(with_cron) == CronSchedule("0 6 * * 1")  # cron wins over interval_seconds
    assert schedule_from(with_cron, interval=30) == IntervalSchedule(30)
    assert schedule_from(settings, cron="*/5 * * * *") == CronSchedule("*/5 * * * *")
    with pytest.raises(ScheduleError, match="not both"):
        schedule_from(settings, interval=30, cron="*/5 * * * *")
    with pytest.raises(ScheduleError, match=r"invalid --cron expression '0 25 \* \* \*'"):
        schedule_from(settings, cron="0 25 * * *")
    bad_setting = make_settings(tmp_path, monitoring=MonitoringSettings(cron="0 25 * * *"))
    with pytest.raises(ScheduleError, match=r"invalid monitoring\.cron"):
        schedule_from(bad_setting)


def test_the_cron_setting_must_have_five_fields() -> None:
    with pytest.raises(
        ValidationError, match=r"monitoring.cron must be a 5-field cron expression.*'0 6 \* \*'"
    ):
        MonitoringSettings(cron="0 6 * *")
    assert MonitoringSettings(cron=" 0  6 * * 1 ").cron == "0 6 * * 1"
    assert MonitoringSettings(cron="").cron is None


def test_bad_options_exit_2_with_a_message_naming_them(
    tmp_path: Path, cli_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env(make_settings(tmp_path))
    for argv, message in [
        (["--cron", "0 6 * * 9"], "invalid --cron expression '0 6 * * 9'"),
        (["--cron", "0 6 * * 1", "--interval", "5"], "not allowed with argument"),
        (["--interval", "0"], "expected a positive number of seconds"),
        (["--max-runs", "0"], "expected a whole number >= 1"),
        (["--window", "thirty"], "expected a number of days"),
        (["--retrain-on", "huge"], "invalid choice: 'huge'"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert message in capsys.readouterr().err


def test_options_become_the_drift_request_like_the_cli(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, monitoring=MonitoringSettings(window_days=14))

    def parse(*argv: str) -> ServiceOptions:
        return options_from(build_parser().parse_args(argv), settings)

    default = parse()
    assert default.request == DriftRequest()  # the latest employees snapshot, HTML report
    assert default.schedule == IntervalSchedule(86_400.0) and not default.once and default.max_runs is None
    assert default.status_file == Path(settings.data_dir) / "monitoring_status.json"
    assert parse("--window").request.window_days == 14  # alone: monitoring.window_days
    assert parse("--window", "30d").request.window_days == 30
    full = parse(
        "--once",
        "--current-csv",
        "now.csv",
        "--reference-csv",
        "then.csv",
        "--fail-on",
        "moderate",
        "--retrain-on",
        "severe",
        "--no-html",
        "--max-runs",
        "3",
        "--cron",
        "0 6 * * 1",
    )
    assert full.request == DriftRequest(
        current_csv=Path("now.csv"),
        reference_csv=Path("then.csv"),
        fail_on="moderate",
        retrain_on="severe",
        html=False,
    )
    assert full.once and full.max_runs == 3 and full.schedule == CronSchedule("0 6 * * 1")
    assert parse("--current-snapshot", "2026-10-31").request.current_snapshot == dt.date(2026, 10, 31)
    with pytest.raises(SystemExit):
        parse("--window", "7", "--current-csv", "now.csv")  # one current window


def test_sleep_until_returns_as_soon_as_stop_is_set() -> None:
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()
    assert sleep_until(dt.datetime.now(UTC) + dt.timedelta(hours=1), stop) is False
    assert time.monotonic() - began < 2
    assert sleep_until(dt.datetime.now(UTC) + dt.timedelta(seconds=0.05), threading.Event()) is True


# --- the loop with real checks -----------------------------------------------------------------


@pytest.fixture
def drift_env(model_env: ModelEnv, champion_env: ModelEnv) -> ModelEnv:
    """A private champion with the reference data its promotion wrote (champion_env copies only the DBs)."""
    shutil.copytree(model_env.settings.reference_dir, champion_env.settings.reference_dir)
    return champion_env


@pytest.fixture
def drifted_csv(tmp_path: Path) -> Path:
    from attrition.data.generator import generate_workforce

    path = tmp_path / "current_overtime_surge.csv"
    generate_workforce(800, seed=5, drift="overtime_surge").to_csv(path, index=False)
    return path


def _runs(settings: Settings) -> list[dict[str, object]]:
    rows, _total = list_drift_runs(get_engine(settings.db_url), limit=100)
    return rows


def _check_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "monitoring.scheduler" and " status=" in r.message]


def test_the_loop_runs_max_runs_checks_one_interval_apart(
    drift_env: ModelEnv, drifted_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = drift_env.settings
    status_file = drift_env.root / "status.json"
    options = ServiceOptions(
        IntervalSchedule(0.5),
        DriftRequest(current_csv=drifted_csv, html=False, fail_on="moderate"),
        max_runs=2,
        status_file=status_file,
    )
    caplog.set_level(logging.INFO, logger="monitoring")
    assert serve(settings, options) == 0  # a drifted check does not make the service fail

    runs = sorted(_runs(settings), key=lambda r: r["started_at"])  # type: ignore[arg-type, return-value]
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert all(r["severity"] in DRIFTED for r in runs)
    gap = runs[1]["started_at"] - runs[0]["started_at"]  # type: ignore[operator]
    assert gap >= dt.timedelta(seconds=0.4)  # the rows record their own start, a few ms after the schedule's

    lines = _check_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "WARNING"]  # drift at or above --fail-on
    for record, run in zip(lines, runs, strict=True):
        assert f"drift check {run['run_id']}: status=ok severity={run['severity']} exit={EXIT_DRIFT}" in (
            record.message
        )
    assert "next_run=20" in lines[0].message and "next_run=none (last run)" in lines[1].message

    status = json.loads(status_file.read_text())
    assert status["state"] == "stopped" and status["runs"] == 2 and status["next_run_at"] is None
    assert status["last_run"]["run_id"] == runs[1]["run_id"]
    assert status["last_run"]["exit_code"] == EXIT_DRIFT
    assert Path(status["last_run"]["report"]).is_file()


def test_a_failing_check_is_logged_as_an_error_and_the_loop_goes_on(
    drift_env: ModelEnv, caplog: pytest.LogCaptureFixture
) -> None:
    settings = drift_env.settings
    missing = drift_env.root / "no_such_export.csv"
    options = ServiceOptions(
        IntervalSchedule(0.1), DriftRequest(current_csv=missing, html=False), max_runs=2, status_file=None
    )
    caplog.set_level(logging.INFO, logger="monitoring")
    assert serve(settings, options) == 0

    runs = _runs(settings)
    assert len(runs) == 2 and {r["status"] for r in runs} == {"error"}
    assert all("no_such_export.csv" in str(r["error"]) for r in runs)
    lines = _check_lines(caplog)
    assert [r.levelname for r in lines] == ["ERROR", "ERROR"]
    assert all(f"exit={EXIT_ERROR} (error)" in r.message and "no_such_export.csv" in r.message for r in lines)
    assert "next_run=20" in lines[0].message  # the loop scheduled the next run after the failure


def test_a_check_that_raises_does_not_end_the_loop(
    drift_env: ModelEnv, drifted_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = drift_env.settings
    calls: list[int] = []

    def flaky(s: Settings, request: DriftRequest) -> DriftRunOutcome:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database vanished mid-check")
        return run_drift_check(s, request)

    status_file = drift_env.root / "status.json"
    options = ServiceOptions(
        IntervalSchedule(0.1),
        DriftRequest(current_csv=drifted_csv, html=False, fail_on="critical"),
        max_runs=2,
        status_file=status_file,
    )
    caplog.set_level(logging.INFO, logger="monitoring")
    assert serve(settings, options, runner=flaky) == 0

    lines = _check_lines(caplog)
    assert "status=error" in lines[0].message and "database vanished mid-check" in lines[0].message
    assert lines[0].levelname == "ERROR"
    (run,) = _runs(settings)  # the second check ran for real
    assert f"drift check {run['run_id']}: status=ok" in lines[1].message
    status = json.loads(status_file.read_text())
    assert status["runs"] == 2 and status["last_run"]["run_id"] == run["run_id"]


# --- the process -------------------------------------------------------------------------------


def _service(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitoring", *args]


@pytest.mark.integration
def test_once_runs_one_check_and_exits_with_its_code(
    drift_env: ModelEnv, drifted_csv: Path, cli_env: Callable[..., None]
) -> None:
    settings = drift_env.settings
    cli_env(settings)
    done = subprocess.run(
        _service("--once", "--current-csv", str(drifted_csv), "--no-html", "--fail-on", "moderate"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_DRIFT, done.stderr[-3000:]

    (run,) = _runs(settings)
    assert run["status"] == "ok" and run["severity"] in DRIFTED
    assert run["current_description"] == f"csv:{drifted_csv.name}"
    report = Path(str(run["report_path"]))
    assert report.parent == Path(settings.reports_dir) and report.is_file()
    assert json.loads(report.read_text())["run_id"] == run["run_id"]
    assert not list(Path(settings.reports_dir).glob("*.html"))  # --no-html
    assert f"drift check {run['run_id']}: status=ok" in done.stderr
    assert f"exit={EXIT_DRIFT} (drift) next_run=none (last run)" in done.stderr

    status = json.loads((Path(settings.data_dir) / "monitoring_status.json").read_text())
    assert status["schedule"] == "once" and status["state"] == "stopped"
    assert status["last_run"]["run_id"] == run["run_id"]


@pytest.mark.integration
def test_once_without_drift_exits_0(
    drift_env: ModelEnv, tmp_path: Path, cli_env: Callable[..., None]
) -> None:
    from attrition.data.generator import generate_workforce

    stable = tmp_path / "current_stable.csv"
    generate_workforce(800, seed=6).to_csv(stable, index=False)
    cli_env(drift_env.settings)
    done = subprocess.run(
        _service("--once", "--current-csv", str(stable), "--no-html", "--fail-on", "severe"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_OK, done.stderr[-3000:]
    (run,) = _runs(drift_env.settings)
    assert run["status"] == "ok" and run["severity"] in ("none", "moderate")


@pytest.mark.integration
def test_the_service_process_stops_after_max_runs_with_exit_0(
    drift_env: ModelEnv, drifted_csv: Path, cli_env: Callable[..., None]
) -> None:
    cli_env(drift_env.settings)
    done = subprocess.run(
        _service("--interval", "0.2", "--max-runs", "2", "--current-csv", str(drifted_csv), "--no-html"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = _runs(drift_env.settings)
    assert len(runs) == 2 and {r["status"] for r in runs} == {"ok"}
    assert done.stderr.count(" status=ok ") == 2
    assert "drift service stopped: 2 check(s) done" in done.stderr


def _wait_for_state(
    path: Path, state: str, process: subprocess.Popen[str], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        if path.is_file():
            status = json.loads(path.read_text())
            if status.get("state") == state:
                return dict(status)
        time.sleep(0.1)
    raise AssertionError(f"the service never reached state {state!r}")


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_sleeping_stops_the_service_promptly_with_exit_0(
    tmp_path: Path, cli_env: Callable[..., None], signum: int
) -> None:
    settings = make_settings(tmp_path)
    cli_env(settings)
    status_file = tmp_path / "status.json"
    # The next 1 January at midnight: the service sleeps at once, no check needed.
    process = subprocess.Popen(
        _service("--cron", "0 0 1 1 *", "--status-file", str(status_file)),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        sleeping = _wait_for_state(status_file, "sleeping", process)
        assert sleeping["next_run_at"].endswith("-01-01T00:00:00+00:00")
        assert sleeping["pid"] == process.pid
        time.sleep(0.3)  # inside the wait, not before it
        sent = time.monotonic()
        process.send_signal(signum)
        _out, err = process.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-3000:]
    assert elapsed < 3
    assert "drift service stopped: stop requested" in err
    assert json.loads(status_file.read_text())["state"] == "stopped"
