"""The ``drift_runs`` table: each drift check recorded as it starts, filled in as it ends.

The drift job writes a run before it computes anything, so a crash still leaves a
"running" row to find; the API reads them back by id or as a filtered page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from attrition.db.models import DriftRun
from attrition.db.repositories import row_by_key

_DRIFT_RUNS = cast(sa.Table, DriftRun.__table__)


def insert_drift_run(engine: sa.Engine, values: Mapping[str, Any]) -> None:
    """Record a drift run as it starts (status "running"), so a crash still leaves a trace."""
    with engine.begin() as conn:
        conn.execute(_DRIFT_RUNS.insert().values(**_drift_values(values)))


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
