"""``/v1/employees``: the sample record, a snapshot's employees with their latest score, one employee.

``/sample`` is declared before ``/{number}``, so it is never taken for an employee number.
A viewer sees an employee's scores and factors but not the stored record: ``records`` then
holds only the columns the list shows (``api.auth.VIEWER_RECORD_COLUMNS``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.auth import visible_records
from api.deps import Context, Viewer
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, database, errors
from api.routers.workforce import Filters, SnapshotQuery, checked_snapshot, example
from api.schemas import EXAMPLE_REQUEST, FieldIssue, PredictionRequest
from api.schemas_workforce import MAX_PAGE, EmployeeDetail, EmployeePage, EmployeeSortName
from attrition.db.workforce import CursorError, employee_page, employee_records, score_history
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE, SPECS, Col

router = APIRouter(prefix="/v1/employees", tags=["employees"])

_SCORE_KEYS = ("prediction_id", "probability", "risk_band", "label", "model_version", "top_factors")


@router.get(
    "/sample",
    response_model=PredictionRequest,
    summary="A valid example record",
    responses=errors(*AUTH_ERRORS),
)
async def sample(caller: Viewer) -> Any:
    """The contract's example record (``attrition.schema.EXAMPLE_RECORD``), ready to POST to /v1/predict."""
    return PredictionRequest.model_validate(EXAMPLE_REQUEST)


def _item(row: dict[str, Any]) -> dict[str, Any]:
    score = None
    if row["prediction_id"] is not None:
        score = {k: row[k] for k in _SCORE_KEYS} | {"scored_at": row["created_at"]}
    return {
        "employee_number": row[ID_COLUMN],
        "snapshot_date": row[SNAPSHOT_DATE],
        "department": row[Col.DEPARTMENT],
        "job_role": row[Col.JOB_ROLE],
        "job_level": row[Col.JOB_LEVEL],
        "overtime": row[Col.OVERTIME],
        "years_at_company": row[Col.YEARS_AT_COMPANY],
        "tenure_band": row["tenure_band"],
        "attrition": row[Col.ATTRITION],
        "score": score,
    }


@router.get(
    "",
    response_model=EmployeePage,
    summary="A snapshot's employees with their latest score",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def list_employees(
    caller: Viewer,
    ctx: Context,
    filters: Filters,
    snapshot: SnapshotQuery = None,
    sort: Annotated[
        EmployeeSortName,
        Query(
            description="risk: probability descending, unscored last, then employee number; "
            "employee_number: ascending",
            openapi_examples=example("Highest risk first", "risk"),
        ),
    ] = "risk",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, openapi_examples=example("Pages of 50", 50))] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="next_cursor of the previous page (opaque)"),
    ] = None,
) -> Any:
    """Keyset-paginated: follow ``next_cursor`` until it is null; every employee appears exactly once."""
    day, _ = checked_snapshot(ctx, snapshot)
    if day is None:
        return {"snapshot": None, "sort": sort, "limit": limit, "items": [], "next_cursor": None}
    try:
        with database("list the employees"):
            rows, next_cursor = employee_page(ctx.engine, day, filters, sort=sort, limit=limit, cursor=cursor)
    except CursorError as exc:
        raise ApiError(
            422, f"bad cursor: {exc}", [FieldIssue(field="cursor", expected=str(exc), received=cursor)]
        ) from None
    items = [_item(row) for row in rows]
    return {"snapshot": day, "sort": sort, "limit": limit, "items": items, "next_cursor": next_cursor}


@router.get(
    "/{number}",
    response_model=EmployeeDetail,
    summary="One employee's stored records and score history",
    responses=errors(*AUTH_ERRORS, 404, 422, 503),
)
def get_employee(
    caller: Viewer,
    ctx: Context,
    number: Annotated[
        int,
        Path(
            ge=1,
            le=SPECS[ID_COLUMN].hard_max,
            description="EmployeeNumber",
            openapi_examples=example("Employee 1", 1),
        ),
    ],
) -> Any:
    """Every stored snapshot of the employee and their newest predictions (any source).

    For a viewer, ``records`` has only the columns the employee list shows (employee number,
    snapshot date, department, job role and level, overtime, years at company, attrition);
    the predictor role sees the whole record.
    """
    with database("read the employee"):
        records = employee_records(ctx.engine, number)
        scores = score_history(ctx.engine, number) if records else []
    if not records:
        raise ApiError(404, f"no employee {number} is stored (GET /v1/employees lists them)")
    return {"employee_number": number, "records": visible_records(caller, records), "scores": scores}
