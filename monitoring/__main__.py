"""``python -m monitoring``: the drift service (the drift container's entry point).

Runs ``attrition drift run``'s check on a schedule: every ``monitoring.interval_seconds``
(or ``--interval``), or at the minutes a cron expression matches (``monitoring.cron`` or
``--cron``, UTC). ``--once`` runs one check and exits with its exit code (0 no action,
1 drift at or above fail_on, 2 the check could not be done, 3 too few rows); the loop
exits 0 on SIGTERM / SIGINT (between checks; a sleep ends at once) or after ``--max-runs``.
A bad option or setting exits 2 with a message saying which.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from attrition.config import SEVERITIES, Settings, get_settings
from attrition.jobs.drift import DriftRequest, parse_days
from monitoring.scheduler import (
    STATUS_FILE_NAME,
    ScheduleError,
    ServiceOptions,
    default_status_path,
    install_signal_handlers,
    schedule_from,
    serve,
)

_WINDOW_FROM_SETTINGS = -1


def _days(value: str) -> int:
    """``30`` or ``30d`` -> 30, read as the CLI's ``--window`` is."""
    try:
        return parse_days(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return int(value)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring",
        description="Drift-monitoring service: run the drift check (`attrition drift run`) on a schedule.",
    )
    parser.add_argument("--once", action="store_true", help="Run one check and exit with its exit code.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--interval",
        type=_positive_float,
        metavar="SECONDS",
        help="Seconds from one check's start to the next (default: monitoring.interval_seconds).",
    )
    when.add_argument(
        "--cron",
        metavar="EXPR",
        help='5-field cron expression in UTC, e.g. "0 6 * * 1" (default: monitoring.cron, if set).',
    )
    current = parser.add_mutually_exclusive_group()
    current.add_argument(
        "--window",
        type=_days,
        nargs="?",
        const=_WINDOW_FROM_SETTINGS,
        metavar="DAYS",
        help="Current window: predictions logged in the last DAYS days (alone: monitoring.window_days). "
        "Default current window: the latest employees snapshot.",
    )
    current.add_argument(
        "--current-csv", type=Path, metavar="FILE", help="A contract CSV as the current window."
    )
    current.add_argument(
        "--current-snapshot",
        type=_date,
        metavar="YYYY-MM-DD",
        help="An employees snapshot (default: latest).",
    )
    parser.add_argument(
        "--reference-csv",
        type=Path,
        metavar="FILE",
        help="Compare against this CSV, not the champion's data.",
    )
    parser.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        help="Exit code 1 at or above this severity (default: monitoring.fail_on).",
    )
    parser.add_argument("--retrain-on", choices=SEVERITIES, help="Train + promote at or above this severity.")
    parser.add_argument("--max-runs", type=_positive_int, metavar="N", help="Stop after N checks.")
    parser.add_argument("--no-html", action="store_true", help="Skip the Evidently HTML report.")
    parser.add_argument(
        "--status-file",
        type=Path,
        metavar="FILE",
        help=f"Status / heartbeat JSON (default: <data_dir>/{STATUS_FILE_NAME}).",
    )
    return parser


def options_from(args: argparse.Namespace, settings: Settings) -> ServiceOptions:
    """The service's options from parsed arguments over settings; ``ScheduleError`` for a bad schedule."""
    window = settings.monitoring.window_days if args.window == _WINDOW_FROM_SETTINGS else args.window
    request = DriftRequest(
        current_snapshot=args.current_snapshot,
        current_csv=args.current_csv,
        window_days=window,
        reference_csv=args.reference_csv,
        fail_on=args.fail_on,
        retrain_on=args.retrain_on,
        html=not args.no_html,
    )
    return ServiceOptions(
        schedule=schedule_from(settings, interval=args.interval, cron=args.cron),
        request=request,
        once=args.once,
        max_runs=args.max_runs,
        status_file=args.status_file or default_status_path(settings),
    )


#: Files 0600, folders 0700: reports, the status file and the database describe employees.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except (ValidationError, ValueError) as exc:
        parser.error(f"invalid settings (configs/*.yaml or ATTRITION_* environment): {exc}")
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        options = options_from(args, settings)
    except ScheduleError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        return serve(settings, options, stop)
    except KeyboardInterrupt:  # a second Ctrl-C during a check
        logging.getLogger(__name__).warning("interrupted during a drift check")
        return 130


if __name__ == "__main__":
    sys.exit(main())
