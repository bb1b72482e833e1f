"""``GET /v1/predictions``: the prediction log, newest first, paginated and filtered."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.openapi.models import Example

from api.auth import visible_inputs
from api.deps import Context, Viewer
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, database, errors
from api.schemas import FieldIssue, LoggedPrediction, PredictionPage, RiskBand, Source
from attrition.db.repositories import query_predictions
from attrition.schema import ID_COLUMN, SPECS

router = APIRouter(prefix="/v1", tags=["predictions"])


def _example(summary: str, value: object) -> dict[str, Example]:
    return {"example": {"summary": summary, "value": value}}


def naive_utc(moments: dict[str, dt.datetime | None]) -> dict[str, dt.datetime | None]:
    """The database stores naive UTC; an aware time is converted, a naive one is taken as UTC.

    A time whose UTC equivalent falls outside years 1-9999 (``0001-01-01T00:00:00+01:00``)
    is a 422 naming the field.
    """
    converted: dict[str, dt.datetime | None] = {}
    issues: list[FieldIssue] = []
    for field, moment in moments.items():
        try:
            converted[field] = (
                moment.astimezone(dt.UTC).replace(tzinfo=None) if moment and moment.tzinfo else moment
            )
        except OverflowError:
            issues.append(
                FieldIssue(
                    field=field,
                    expected="a date-time between 0001-01-01 and 9999-12-31 once converted to UTC",
                    received=moment.isoformat() if moment else None,
                )
            )
    if issues:
        names = ", ".join(str(i.field) for i in issues)
        raise ApiError(422, f"out of range in {names}: the time has no UTC equivalent", issues)
    return converted


@router.get(
    "/predictions",
    response_model=PredictionPage,
    summary="Logged predictions",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def list_predictions(
    caller: Viewer,
    ctx: Context,
    employee_number: Annotated[
        int | None,
        Query(ge=1, le=SPECS[ID_COLUMN].hard_max, openapi_examples=_example("One employee", 1)),
    ] = None,
    since: Annotated[
        dt.datetime | None,
        Query(
            description="From this time (inclusive, UTC if no offset)",
            openapi_examples=_example("From the start of March 2026 (UTC)", "2026-03-01T00:00:00Z"),
        ),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        Query(
            description="Before this time (exclusive)",
            openapi_examples=_example("Before April 2026, Paris time", "2026-04-01T00:00:00+02:00"),
        ),
    ] = None,
    risk_band: Annotated[
        RiskBand | None, Query(openapi_examples=_example("Only high-risk predictions", "high"))
    ] = None,
    source: Annotated[
        Source | None, Query(openapi_examples=_example("Only predictions made through the API", "api"))
    ] = None,
    model_version: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=20,
            description="Only predictions made by this model version",
            openapi_examples=_example("Only version 3", "3"),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, openapi_examples=_example("Pages of 50", 50))] = 100,
    offset: Annotated[
        int, Query(ge=0, le=10_000_000, openapi_examples=_example("The second page of 50", 50))
    ] = 0,
) -> PredictionPage:
    """Predictions appear here once the log has written them (within ``serving.log_flush_interval_seconds``).

    ``caller`` (who asked) is filled for admins only.
    """
    window = naive_utc({"since": since, "until": until})
    with database("read the prediction log"):
        rows, total = query_predictions(
            ctx.engine,
            employee_number=employee_number,
            since=window["since"],
            until=window["until"],
            risk_band=risk_band,
            source=source,
            model_version=model_version,
            limit=limit,
            offset=offset,
        )
    admin = caller.role == "admin"  # who asked is shown to admins only
    items = [
        LoggedPrediction.model_validate(row | ({} if admin else {"caller": None}))
        for row in visible_inputs(caller, rows)
    ]
    return PredictionPage(items=items, total=total, limit=limit, offset=offset)
