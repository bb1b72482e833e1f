"""The ``drift_runs`` table: each drift check recorded as it starts, filled in as it ends.

The drift job writes a run before it computes anything, so a crash still leaves a
"running" row to find, with the ``host:pid`` that ran it; the next check closes such a row
as interrupted once its process is gone (same host) or it is older than any check runs
(``STALE_AFTER``). The API reads runs back by id or as a filtered page.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from attrition.db.models import DriftRun, utcnow
from attrition.db.repositories import row_by_key

_DRIFT_RUNS = cast(sa.Table, DriftRun.__table__)


def insert_drift_run(engine: sa.Engine, values: Mapping[str, Any]) -> None:
    """Record a drift run as it starts (status "running"), so a crash still leaves a trace."""
    with engine.begin() as conn:
        conn.execute(_DRIFT_RUNS.insert().values(**_drift_values(values)))


#: A "running" check older than this is closed as interrupted whatever ran it.
STALE_AFTER = dt.timedelta(hours=24)


def this_runner() -> str:
    """``host:pid`` of this process, as recorded on the runs it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def _gone(runner: str | None) -> bool:
    """The runner is a process of this host that no longer exists (another host's: unknown)."""
    host, _, pid = (runner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def close_interrupted(engine: sa.Engine) -> list[str]:
    """Mark "running" rows whose process is gone (or that are stale) as interrupted errors; their ids."""
    table, now = _DRIFT_RUNS, utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.run_id, table.c.runner, table.c.started_at).where(table.c.status == "running")
        ).all()
    closed = []
    for run_id, runner, started_at in rows:
        if _gone(runner):
            why = f"interrupted: its process ({runner}) ended before the check finished; no verdict"
        elif started_at is not None and now - started_at > STALE_AFTER:
            why = f"interrupted: still running after {STALE_AFTER.total_seconds() / 3600:.0f} h; no verdict"
        else:
            continue
        with engine.begin() as conn:  # only if still running: a slow finisher wins
            done = conn.execute(
                table.update()
                .where(table.c.run_id == run_id, table.c.status == "running")
                .values(status="error", finished_at=now, error=why)
            )
        if done.rowcount:
            closed.append(run_id)
    return closed


def update_drift_run(engine: sa.Engine, run_id: str, values: Mapping[str, Any]) -> None:
    """Fill in a drift run's verdict, results and report paths."""
    table = _DRIFT_RUNS
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.run_id == run_id).values(**_drift_values(values)))


def _drift_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Strings cut to their column lengths (an error message can be long)."""
    out = dict(values)
    for name in ("error", "reference_description", "current_description", "report_path"):
        column = _DRIFT_RUNS.c[name].type
        if isinstance(out.get(name), str) and isinstance(column, sa.String):
            out[name] = out[name][: column.length]
    return out


def get_drift_run(engine: sa.Engine, run_id: str) -> dict[str, Any] | None:
    """One drift run by its id."""
    return row_by_key(engine, _DRIFT_RUNS.c.run_id, run_id)


def list_drift_runs(
    engine: sa.Engine,
    *,
    limit: int = 20,
    offset: int = 0,
    status: str | None = None,
    severity: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Drift runs newest first (optionally of one status / severity) and how many match."""
    table = _DRIFT_RUNS
    filters = [c for c in (_eq(table.c.status, status), _eq(table.c.severity, severity)) if c is not None]
    query = (
        sa.select(table)
        .where(*filters)
        .order_by(table.c.started_at.desc(), table.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        total = conn.execute(sa.select(sa.func.count()).select_from(table).where(*filters)).scalar_one()
    return rows, int(total)


def _eq(column: sa.Column[Any], value: Any) -> sa.ColumnElement[bool] | None:
    return None if value is None else column == value
