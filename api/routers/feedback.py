"""``POST /v1/feedback``: what actually happened (left / stayed), linked to a prediction or an employee."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api.deps import Context, PredictorRole
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, BODY_ERRORS, database, errors
from api.schemas import FeedbackRequest, FeedbackResponse, FieldIssue
from attrition.db.repositories import employee_known, get_prediction, record_feedback

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    status_code=201,
    summary="Record an actual outcome",
    responses=errors(*AUTH_ERRORS, *BODY_ERRORS, 404, 503),
)
def feedback(caller: PredictorRole, ctx: Context, body: FeedbackRequest) -> FeedbackResponse:
    """Outcomes feed performance monitoring. With ``prediction_id`` the employee comes from that prediction."""
    employee = body.employee_number
    if body.prediction_id is None and employee is None:
        issue = FieldIssue(
            field="prediction_id", expected="a prediction id or an employee_number", received=None
        )
        raise ApiError(422, "feedback needs prediction_id or employee_number", [issue])
    if body.outcome_date > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        issue = FieldIssue(
            field="outcome_date", expected="today or earlier", received=body.outcome_date.isoformat()
        )
        raise ApiError(422, "outcome_date is in the future", [issue])
    if body.prediction_id is not None:
        employee = _employee_of(ctx, body.prediction_id, employee)
    else:
        assert employee is not None
        _check_known(ctx, employee)
    assert employee is not None
    with database("record the outcome"):  # outcome and audit event: one transaction
        outcome_id = record_feedback(
            ctx.engine, caller.name, employee, body.left, body.outcome_date, body.prediction_id
        )
    return FeedbackResponse(
        outcome_id=outcome_id,
        employee_number=employee,
        prediction_id=body.prediction_id,
        left=body.left,
        outcome_date=body.outcome_date,
    )


def _check_known(ctx: Context, employee: int) -> None:
    """404 for an employee number in no snapshot, no logged and no waiting prediction."""
    if ctx.log.knows_employee(employee):
        return
    with database("look up the employee"):
        known = employee_known(ctx.engine, employee)
    if not known:
        issue = FieldIssue(
            field="employee_number",
            expected="the number of an employee in a stored snapshot or a logged prediction",
            received=employee,
        )
        raise ApiError(404, f"no employee with number {employee} in any snapshot or prediction", [issue])


def _employee_of(ctx: Context, prediction_id: str, claimed: int | None) -> int:
    pending = ctx.log.find_pending(prediction_id)
    if pending is not None:
        found = pending.get("employee_number")
    else:
        with database("look up the prediction"):
            row = get_prediction(ctx.engine, prediction_id)
        if row is None:
            issue = FieldIssue(
                field="prediction_id", expected="the id of a logged prediction", received=prediction_id
            )
            raise ApiError(404, f"no prediction with id {prediction_id!r}", [issue])
        found = row["employee_number"]
    if found is None:
        if claimed is None:
            issue = FieldIssue(field="employee_number", expected="the employee's number", received=None)
            raise ApiError(422, "that prediction has no employee number; send employee_number too", [issue])
        _check_known(ctx, claimed)
        return claimed
    if claimed is not None and claimed != found:
        issue = FieldIssue(
            field="employee_number", expected=f"{found} (the prediction's employee)", received=claimed
        )
        raise ApiError(422, "employee_number does not match the prediction's employee", [issue])
    return int(found)
