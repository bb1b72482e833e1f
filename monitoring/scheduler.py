"""The drift service's loop: when the next check is due, one check that cannot kill the loop, a status file.

Schedules (all times UTC):

* ``IntervalSchedule``: the first check at start-up, each next one at the previous
  check's start + the interval. A check that overran the interval, or a host that
  was suspended, gives one check at once, never a burst of catch-up runs.
* ``CronSchedule``: a standard 5-field cron expression (minute hour day-of-month
  month day-of-week, parsed by croniter); each check at the first matching minute
  after the previous check ended, the first one at the first match after start-up.
  Matches missed while a check ran are skipped, not queued.

``serve`` runs checks until ``max_runs`` or until its stop event is set (SIGTERM /
SIGINT through ``install_signal_handlers``); the event also ends the sleep between
checks at once. A check that fails is logged as an error and the loop goes on.

The status file (default ``<data_dir>/monitoring_status.json``) says what the service
is doing for an operator or a container healthcheck: ``state`` (starting / sleeping /
running / stopped), ``updated_at`` (refreshed at least every ``HEARTBEAT_SECONDS``
while sleeping), ``next_run_at``, ``runs`` and the ``last_run``'s id, status, severity
and exit code. Alive: ``state`` is ``running`` or ``updated_at`` is recent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from croniter import CroniterError, croniter

from attrition.config import Settings
from attrition.jobs.drift import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_INSUFFICIENT,
    EXIT_OK,
    DriftRequest,
    DriftRunOutcome,
    run_drift_check,
)

logger = logging.getLogger(__name__)

#: Longest single sleep: the status file's heartbeat and the wall clock are checked this often.
HEARTBEAT_SECONDS = 60.0
STATUS_FILE_NAME = "monitoring_status.json"
EXIT_MEANING = {
    EXIT_OK: "ok",
    EXIT_DRIFT: "drift",
    EXIT_ERROR: "error",
    EXIT_INSUFFICIENT: "insufficient data",
}

Clock = Callable[[], dt.datetime]
Runner = Callable[[Settings, DriftRequest], DriftRunOutcome]


def utc_now() -> dt.datetime:
    """Timezone-aware UTC now (the service's clock)."""
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --- schedules -------------------------------------------------------------------------------


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message names it and says what is expected."""


def next_interval_time(previous_start: dt.datetime, interval_seconds: float, now: dt.datetime) -> dt.datetime:
    """Previous start + interval, or ``now`` when that has passed (one late run, no catch-up burst)."""
    if interval_seconds <= 0:
        raise ScheduleError(f"interval must be a positive number of seconds, got {interval_seconds!r}")
    due = _aware(previous_start) + dt.timedelta(seconds=interval_seconds)
    return max(due, _aware(now))


def validate_cron(expression: str, source: str = "cron expression") -> str:
    """The expression normalised (single spaces); ``ScheduleError`` naming it when it is not valid."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"invalid {source} {expression!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), e.g. '0 6 * * 1', got {len(fields)}"
        )
    normalised = " ".join(fields)
    try:
        croniter(normalised, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).get_next(dt.datetime)
    except (CroniterError, ValueError, KeyError) as exc:  # croniter raises its errors and a few plain ones
        raise ScheduleError(f"invalid {source} {expression!r}: {exc}") from exc
    return normalised


def next_cron_time(expression: str, after: dt.datetime) -> dt.datetime:
    """The first minute matching ``expression`` (UTC) strictly after ``after``."""
    normalised = validate_cron(expression)
    start = _aware(after)
    try:
        following = croniter(normalised, start).get_next(dt.datetime)
    except CroniterError as exc:  # e.g. "0 0 30 2 *": valid fields, no such day
        raise ScheduleError(
            f"cron expression {expression!r} never matches after {start:%Y-%m-%d}: {exc}"
        ) from exc
    assert isinstance(following, dt.datetime)
    return _aware(following)


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``seconds``, starting at once."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ScheduleError(f"interval must be a positive number of seconds, got {self.seconds!r}")

    def first_run(self, now: dt.datetime) -> dt.datetime:
        return _aware(now)

    def next_run(self, previous_start: dt.datetime, now: dt.datetime) -> dt.datetime:
        return next_interval_time(previous_start, self.seconds, now)

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


@dataclass(frozen=True)
class CronSchedule:
    """At the minutes a 5-field cron expression matches (UTC)."""

    expression: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", validate_cron(self.expression))

    def first_run(self, now: dt.datetime) -> dt.datetime:
        return next_cron_time(self.expression, now)

    def next_run(self, previous_start: dt.datetime, now: dt.datetime) -> dt.datetime:
        return next_cron_time(self.expression, max(_aware(previous_start), _aware(now)))

    def describe(self) -> str:
        return f"cron {self.expression!r} (UTC)"


Schedule = IntervalSchedule | CronSchedule


def schedule_from(settings: Settings, interval: float | None = None, cron: str | None = None) -> Schedule:
    """Options over settings: ``cron`` > ``interval`` > ``monitoring.cron`` > ``monitoring.interval_seconds``."""
    if cron is not None and interval is not None:
        raise ScheduleError("give a cron expression or an interval, not both")
    if cron is not None:
        return CronSchedule(validate_cron(cron, "--cron expression"))
    if interval is not None:
        return IntervalSchedule(interval)
    if settings.monitoring.cron:
        return CronSchedule(validate_cron(settings.monitoring.cron, "monitoring.cron"))
    return IntervalSchedule(settings.monitoring.interval_seconds)


# --- one check -------------------------------------------------------------------------------


def run_check(settings: Settings, request: DriftRequest, runner: Runner = run_drift_check) -> DriftRunOutcome:
    """One drift check; an unexpected exception becomes an error outcome instead of ending the loop."""
    try:
        return runner(settings, request)
    except Exception as exc:  # the job reports failed checks itself; this is the net under it
        logger.exception("drift check raised instead of reporting its failure")
        error = f"{type(exc).__name__}: {exc}"
        markdown = f"## Attrition drift check: ERROR\n\nThe check crashed: {error}\n"
        return DriftRunOutcome(
            run_id="unrecorded",
            status="error",
            severity=None,
            markdown=markdown,
            exit_code=EXIT_ERROR,
            error=error,
        )


def log_outcome(outcome: DriftRunOutcome, next_run: dt.datetime | None, why_no_next: str = "none") -> None:
    """The one log line of a check: ERROR when it could not be done, WARNING on drift, else INFO."""
    meaning = EXIT_MEANING.get(outcome.exit_code, "?")
    upcoming = next_run.isoformat(timespec="seconds") if next_run is not None else why_no_next
    line = (
        f"drift check {outcome.run_id}: status={outcome.status} severity={outcome.severity or '-'} "
        f"exit={outcome.exit_code} ({meaning}) next_run={upcoming}"
    )
    if outcome.reports.get("json"):
        line += f" report={outcome.reports['json']}"
    if outcome.status == "error" or outcome.exit_code == EXIT_ERROR:
        logger.error("%s error=%s", line, outcome.error or "unknown")
    elif outcome.exit_code == EXIT_DRIFT:
        logger.warning("%s", line)
    else:
        logger.info("%s", line)


# --- status file -----------------------------------------------------------------------------


@dataclass
class StatusFile:
    """``monitoring_status.json``, rewritten atomically; a write failure is a warning, never fatal."""

    path: Path | None
    clock: Clock = utc_now
    content: dict[str, Any] = field(default_factory=dict)
    _warned: bool = False

    def update(self, **values: Any) -> None:
        self.content.update(values)
        self.write()

    def write(self) -> None:
        if self.path is None:
            return
        self.content["updated_at"] = _iso(self.clock())
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.content, indent=2), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._warned:
                logger.warning("status file %s not written (the service goes on): %s", self.path, exc)
                self._warned = True


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else _aware(moment).isoformat(timespec="seconds")


def default_status_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / STATUS_FILE_NAME


# --- the loop --------------------------------------------------------------------------------


@dataclass
class ServiceOptions:
    """What the service does (built by ``__main__`` from the command line and settings)."""

    schedule: Schedule
    request: DriftRequest = field(default_factory=DriftRequest)
    once: bool = False
    max_runs: int | None = None
    status_file: Path | None = None


def sleep_until(
    when: dt.datetime,
    stop: threading.Event,
    clock: Clock = utc_now,
    heartbeat: Callable[[], None] | None = None,
    max_step: float = HEARTBEAT_SECONDS,
) -> bool:
    """Wait for ``when`` on the wall clock; False as soon as ``stop`` is set (True: time to run)."""
    while not stop.is_set():
        remaining = (_aware(when) - clock()).total_seconds()
        if remaining <= 0:
            return True
        if stop.wait(min(remaining, max_step)):
            return False
        if heartbeat is not None:
            heartbeat()
    return False


def serve(
    settings: Settings,
    options: ServiceOptions,
    stop: threading.Event | None = None,
    *,
    runner: Runner = run_drift_check,
    clock: Clock = utc_now,
) -> int:
    """Run checks on the schedule until ``max_runs`` or ``stop``; 0, or the check's exit code with ``once``."""
    stop = stop or threading.Event()
    status = StatusFile(options.status_file, clock)
    status.update(
        state="starting",
        pid=os.getpid(),
        service_started_at=_iso(clock()),
        schedule="once" if options.once else options.schedule.describe(),
        runs=0,
        last_run=None,
        next_run_at=None,
    )
    if options.once:
        outcome, _ = _one_check(settings, options, status, runner, clock, last=True, stop=stop)
        status.update(state="stopped", next_run_at=None)
        return outcome.exit_code

    logger.info(
        "drift service started: %s, max runs %s", options.schedule.describe(), options.max_runs or "-"
    )
    next_run = options.schedule.first_run(clock())
    runs = 0
    while True:
        status.update(state="sleeping", next_run_at=_iso(next_run))
        if runs == 0:
            logger.info("first drift check at %s", _iso(next_run))
        if not sleep_until(next_run, stop, clock, heartbeat=status.write):
            break
        runs += 1
        last = options.max_runs is not None and runs >= options.max_runs
        _, following = _one_check(settings, options, status, runner, clock, last=last, stop=stop)
        if following is None:
            break
        next_run = following
    status.update(state="stopped", next_run_at=None)
    reason = "stop requested" if stop.is_set() else f"{runs} check(s) done"
    logger.info("drift service stopped: %s", reason)
    return 0


def _one_check(
    settings: Settings,
    options: ServiceOptions,
    status: StatusFile,
    runner: Runner,
    clock: Clock,
    *,
    last: bool,
    stop: threading.Event,
) -> tuple[DriftRunOutcome, dt.datetime | None]:
    """One check, its log line and status; returns the outcome and when the next check is due (None: stop)."""
    started = clock()
    status.update(state="running", run_started_at=_iso(started), next_run_at=None)
    outcome = run_check(settings, options.request, runner)
    finished = clock()
    if options.once or last:
        next_run, why = None, "none (last run)"
    elif stop.is_set():
        next_run, why = None, "none (stopping)"
    else:
        next_run, why = options.schedule.next_run(started, finished), ""
    log_outcome(outcome, next_run, why)
    status.update(
        runs=int(status.content.get("runs") or 0) + 1,
        next_run_at=_iso(next_run),
        last_run={
            "run_id": outcome.run_id,
            "status": outcome.status,
            "severity": outcome.severity,
            "exit_code": outcome.exit_code,
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "error": outcome.error,
            "report": outcome.reports.get("json"),
        },
    )
    return outcome, next_run


# --- signals ---------------------------------------------------------------------------------


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM / SIGINT set ``stop`` (the loop ends after the current check, or at once when sleeping).

    A second signal gets the default behaviour back (SIGINT: KeyboardInterrupt; SIGTERM:
    terminate), so a check that hangs can still be interrupted. Main thread only.
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
