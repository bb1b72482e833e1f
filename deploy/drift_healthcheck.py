"""The drift container's healthcheck: is ``python -m monitoring`` alive, judged by its status file?

Alive when the status file (``$ATTRITION_DATA_DIR/monitoring_status.json``, see
monitoring/scheduler.py) says a check is ``running`` (a check may take longer than the
heartbeat), or was updated within ``MAX_AGE_SECONDS``: the service rewrites it at least
every ``HEARTBEAT_SECONDS`` (60) while it sleeps. Standard library only: it runs every 30 s
and must not import the drift stack. Exit 0 healthy, 1 not (the reason on stderr).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

STATUS_FILE_NAME = "monitoring_status.json"  # monitoring.scheduler.STATUS_FILE_NAME
MAX_AGE_SECONDS = 180.0  # three missed heartbeats


def problem(path: Path, now: dt.datetime) -> str | None:
    """Why the service looks dead, or None when it is alive."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
        updated = dt.datetime.fromisoformat(status["updated_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"no readable status in {path}: {exc}"
    if status.get("state") == "running":
        return None
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.UTC)
    age = (now - updated).total_seconds()
    if age > MAX_AGE_SECONDS:
        return f"status file {path} last updated {age:.0f} s ago (state {status.get('state')!r})"
    return None


def main() -> int:
    default = Path(os.environ.get("ATTRITION_DATA_DIR", "var")) / STATUS_FILE_NAME
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    reason = problem(path, dt.datetime.now(dt.UTC))
    if reason:
        sys.stderr.write(reason + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
