"""``GET /v1/drift/...``: the drift job's runs (the ``drift_runs`` table), newest first."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query

from api.deps import Context, Viewer
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, database, errors
from api.schemas import DriftRunDetail, DriftRunPage, DriftRunStatus, DriftRunSummary, DriftSeverity
from attrition.db.drift_runs import get_drift_run, list_drift_runs

router = APIRouter(prefix="/v1/drift", tags=["drift"])

NO_RUN_YET = (
    "no drift run recorded yet: run `attrition drift run` or start the drift service `python -m monitoring`"
)
_SCAN = 50  # rows per query while looking past runs still in progress


def _latest_finished(engine: sa.Engine) -> dict[str, Any] | None:
    """The newest run whose status is not "running" (a crashed job can leave several behind)."""
    offset = 0
    while True:
        rows, total = list_drift_runs(engine, limit=_SCAN, offset=offset)
        finished = next((row for row in rows if row["status"] != "running"), None)
        if finished is not None or offset + _SCAN >= total:
            return finished
        offset += _SCAN


@router.get(
    "/latest",
    response_model=DriftRunDetail,
    summary="The newest finished drift run",
    responses=errors(*AUTH_ERRORS, 404, 503),
)
def latest_drift_run(caller: Viewer, ctx: Context) -> DriftRunDetail:
    """The most recent run that is no longer in progress, with its full results (404 before the first)."""
    with database("read the drift runs"):
        row = _latest_finished(ctx.engine)
    if row is None:
        raise ApiError(404, NO_RUN_YET)
    return DriftRunDetail.from_row(row)


@router.get(
    "/runs",
    response_model=DriftRunPage,
    summary="Drift runs",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def list_runs(
    caller: Viewer,
    ctx: Context,
    status: Annotated[DriftRunStatus | None, Query(description="Only runs with this status")] = None,
    severity: Annotated[DriftSeverity | None, Query(description="Only runs with this verdict")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DriftRunPage:
    """Newest first, without the per-feature results (``GET /v1/drift/runs/{run_id}`` has them)."""
    with database("read the drift runs"):
        rows, total = list_drift_runs(
            ctx.engine, limit=limit, offset=offset, status=status, severity=severity
        )
    items = [DriftRunSummary.from_row(row) for row in rows]
    return DriftRunPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/runs/{run_id}",
    response_model=DriftRunDetail,
    summary="One drift run in full",
    responses=errors(*AUTH_ERRORS, 404, 422, 503),
)
def drift_run(
    caller: Viewer, ctx: Context, run_id: Annotated[str, Path(min_length=1, max_length=36)]
) -> DriftRunDetail:
    """Verdict, reasons, per-feature statistics, prediction, performance and fairness drift."""
    with database("read the drift run"):
        row = get_drift_run(ctx.engine, run_id)
    if row is None:
        raise ApiError(404, f"no drift run {run_id!r}: GET /v1/drift/runs lists the recorded ones")
    return DriftRunDetail.from_row(row)
