"""``GET /v1/workforce/summary``: headcount, attrition, risk, breakdowns and trend, counted in the database.

Summaries are cached per data version (``WorkforceCache``): a repeated call costs one key lookup.

Also the pieces ``/v1/employees`` shares: the filter parameters and the snapshot check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.openapi.models import Example

from api.deps import Context, Viewer
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, database, errors
from api.schemas import FieldIssue, RiskBand
from api.schemas_workforce import Department, JobRole, OverTime, WorkforceSummaryResponse
from attrition.db.workforce import BREAKDOWNS, WorkforceFilters
from attrition.schema import SPECS, Col

router = APIRouter(prefix="/v1/workforce", tags=["workforce"])

_LEVEL = SPECS[Col.JOB_LEVEL]


def example(summary: str, value: object) -> dict[str, Example]:
    return {"example": {"summary": summary, "value": value}}


async def workforce_filters(
    department: Annotated[Department | None, Query(openapi_examples=example("Sales only", "Sales"))] = None,
    job_role: Annotated[
        JobRole | None, Query(openapi_examples=example("Sales executives", "Sales Executive"))
    ] = None,
    overtime: Annotated[OverTime | None, Query(openapi_examples=example("Working overtime", "Yes"))] = None,
    job_level: Annotated[
        int | None,
        Query(ge=_LEVEL.hard_min, le=_LEVEL.hard_max, openapi_examples=example("Entry level", 1)),
    ] = None,
    risk_band: Annotated[
        RiskBand | None,
        Query(
            description="Only employees whose latest score is in this band",
            openapi_examples=example("High risk", "high"),
        ),
    ] = None,
) -> WorkforceFilters:
    return WorkforceFilters(department, job_role, overtime, job_level, risk_band)


Filters = Annotated[WorkforceFilters, Depends(workforce_filters)]
SnapshotQuery = Annotated[
    dt.date | None,
    Query(
        description="A stored snapshot date (default: the latest)",
        openapi_examples=example("The October 2026 snapshot", "2026-10-31"),
    ),
]


def checked_snapshot(
    ctx: Context, snapshot: dt.date | None
) -> tuple[dt.date | None, tuple[int, list[dt.date]]]:
    """(the snapshot to show, (data version, every stored snapshot)); a 422 naming ``snapshot`` when it is
    not stored."""
    with database("read the snapshots"):
        at = ctx.workforce.snapshots(ctx.engine)
    dates = at[1]
    if snapshot is None:
        return (dates[-1] if dates else None), at
    if snapshot not in dates:
        shown = ", ".join(d.isoformat() for d in dates[-12:]) or "none yet (attrition ingest)"
        raise ApiError(
            422,
            f"no employees are stored for snapshot {snapshot.isoformat()}",
            [
                FieldIssue(
                    field="snapshot", expected=f"a stored snapshot: {shown}", received=snapshot.isoformat()
                )
            ],
        )
    return snapshot, at


@router.get(
    "/summary",
    response_model=WorkforceSummaryResponse,
    summary="Workforce aggregates of a snapshot",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def summary(caller: Viewer, ctx: Context, filters: Filters, snapshot: SnapshotQuery = None) -> Any:
    """Counted in the database, never shipped row by row. The latest score of an employee is the newest
    prediction for them and that snapshot (batch scoring records it); at risk = high or critical."""
    day, at = checked_snapshot(ctx, snapshot)
    with database("compute the workforce summary"):
        result = ctx.workforce.summary(ctx.engine, at, day, filters)
    return {
        "snapshot": result.snapshot,
        "snapshots": result.snapshots,
        "filters": asdict(filters),
        **result.overall.to_dict(),
        "breakdowns": {
            name: [{"value": value, **group.to_dict()} for value, group in result.breakdowns[name].items()]
            for name in BREAKDOWNS
        },
        "trend": [{"snapshot": day, **group.to_dict()} for day, group in result.trend],
    }
