"""``GET /v1/predictions``: the prediction log, newest first, paginated and filtered."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Context, Viewer
from api.routers._common import AUTH_ERRORS, database, errors
from api.schemas import LoggedPrediction, PredictionPage, RiskBand, Source
from attrition.db.repositories import query_predictions
from attrition.schema import ID_COLUMN, SPECS

router = APIRouter(prefix="/v1", tags=["predictions"])


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """The database stores naive UTC; an aware time is converted, a naive one is taken as UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


@router.get(
    "/predictions",
    response_model=PredictionPage,
    summary="Logged predictions",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def list_predictions(
    caller: Viewer,
    ctx: Context,
    employee_number: Annotated[int | None, Query(ge=1, le=SPECS[ID_COLUMN].hard_max)] = None,
    since: Annotated[
        dt.datetime | None, Query(description="From this time (inclusive, UTC if no offset)")
    ] = None,
    until: Annotated[dt.datetime | None, Query(description="Before this time (exclusive)")] = None,
    risk_band: RiskBand | None = None,
    source: Source | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PredictionPage:
    """Predictions appear here once the log has written them (within ``serving.log_flush_interval_seconds``)."""
    with database("read the prediction log"):
        rows, total = query_predictions(
            ctx.engine,
            employee_number=employee_number,
            since=_naive_utc(since),
            until=_naive_utc(until),
            risk_band=risk_band,
            source=source,
            limit=limit,
            offset=offset,
        )
    items = [LoggedPrediction.model_validate(row) for row in rows]
    return PredictionPage(items=items, total=total, limit=limit, offset=offset)
