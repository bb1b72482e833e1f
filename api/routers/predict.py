"""``POST /v1/predict`` (one record, fast path) and ``POST /v1/predict/batch`` (full pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import AppContext, Context, Model, PredictorRole, context
from api.errors import ApiError, request_id
from api.routers._common import AUTH_ERRORS, BODY_ERRORS, errors
from api.schemas import (
    EXAMPLE_REQUEST,
    BatchPredictionRequest,
    BatchPredictionResponse,
    Factor,
    FieldIssue,
    PredictionRequest,
    PredictionResponse,
    field_warnings,
)
from attrition.schema import ID_COLUMN
from attrition.serving.prediction_log import prediction_rows

router = APIRouter(prefix="/v1", tags=["predictions"])

_EXAMPLES = {
    "first_ibm_employee": {"summary": "A valid record (the contract's example)", "value": EXAMPLE_REQUEST},
    "no_overtime": {
        "summary": "Same employee without overtime",
        "value": {**EXAMPLE_REQUEST, "OverTime": "No", ID_COLUMN: 2},
    },
}
TOP_K = 5


@router.post(
    "/predict",
    response_model=PredictionResponse,
    summary="Attrition risk of one employee",
    responses=errors(*AUTH_ERRORS, *BODY_ERRORS, 503),
)
async def predict(
    caller: PredictorRole,
    model: Model,
    request: Request,
    record: Annotated[PredictionRequest, Body(openapi_examples=_EXAMPLES)],
    explain: Annotated[bool, Query(description="Add the top factors with signed contributions")] = False,
) -> PredictionResponse:
    """Probability of leaving, label at the model's threshold, risk band, model version, prediction id.

    Strict contract: unknown fields, wrong types and values outside the hard ranges
    are 422 naming the field; unusual-but-valid values come back as ``warnings``.
    """
    values = record.model_dump()
    ctx = context(request)
    with _room(ctx, 1):
        if model.fast.compiled:  # plain numpy, tens of microseconds: no thread hop
            probability, label, band = model.fast.predict([values])[0]
        else:  # the full pipeline (milliseconds): keep it off the event loop
            probability, label, band = (await run_in_threadpool(model.fast.predict, [values]))[0]
        factors = None
        if explain:
            frame = pd.DataFrame([values])
            factors = (await run_in_threadpool(model.predictor.explain, frame, TOP_K))[0]
        rid = request_id(request)
        scored = {
            "probability": [probability],
            "label": [label],
            "risk_band": [band],
            "top_factors": [factors],
        }
        entry = prediction_rows(
            model.predictor, [values], scored, source="api", request_id=rid, caller=caller.name
        )[0]
        ctx.log.submit(entry)
    ctx.metrics.predictions.labels(band, "predict").inc()
    return _response(entry, field_warnings(values), factors)


#: Seconds a client is asked to wait when the prediction log has no room (it drains thousands a second).
RETRY_AFTER_SECONDS = 2


@contextmanager
def _room(ctx: AppContext, count: int) -> Iterator[None]:
    """Room in the log for ``count`` rows while predicting; 503 before predicting when there is none
    (refused, never answered and then dropped)."""
    with ctx.log.reserve(count) as room:
        if not room:
            raise ApiError(
                503,
                f"the prediction log is behind (its queue of {ctx.log.max_entries:,} entries is full): nothing "
                f"was predicted; retry in {RETRY_AFTER_SECONDS} s, or send smaller or slower batches",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        yield


def _response(
    entry: dict[str, Any], warnings: list[FieldIssue], factors: list[dict[str, Any]] | None
) -> PredictionResponse:
    return PredictionResponse(
        prediction_id=entry["prediction_id"],
        employee_number=entry["employee_number"],
        probability=entry["probability"],
        label=entry["label"],
        threshold=entry["threshold"],
        risk_band=entry["risk_band"],
        model_name=entry["model_name"],
        model_version=entry["model_version"],
        warnings=warnings,
        factors=[Factor(**f) for f in factors] if factors is not None else None,
    )


@router.post(
    "/predict/batch",
    response_model=BatchPredictionResponse,
    summary="Attrition risk of several employees",
    responses=errors(*AUTH_ERRORS, *BODY_ERRORS, 503),
)
def predict_batch(
    caller: PredictorRole,
    model: Model,
    ctx: Context,
    request: Request,
    batch: BatchPredictionRequest,
) -> BatchPredictionResponse:
    """Up to ``serving.max_batch_records`` records through the full pipeline.

    One bad record fails the whole request; the error lists every bad record's
    index with the field and the reason.
    """
    limit = ctx.settings.serving.max_batch_records
    if len(batch.records) > limit:
        issue = FieldIssue(field="records", expected=f"at most {limit} records", received=len(batch.records))
        raise ApiError(422, f"too many records: {len(batch.records)} > {limit}; split the batch", [issue])
    with _room(ctx, len(batch.records)):
        values = [r.model_dump() for r in batch.records]
        result = model.predictor.predict_frame(pd.DataFrame.from_records(values))
        # The dicts, not the frame: building rows from a frame costs twice as much (to_dict).
        entries = prediction_rows(
            model.predictor, values, result, source="api", request_id=request_id(request), caller=caller.name
        )
        ctx.log.submit_many(entries)
    for band, count in pd.Series([e["risk_band"] for e in entries]).value_counts().items():
        ctx.metrics.predictions.labels(str(band), "batch").inc(int(count))
    return BatchPredictionResponse(
        model_name=model.name,
        model_version=model.version,
        count=len(entries),
        predictions=[_response(e, field_warnings(v), None) for e, v in zip(entries, values, strict=True)],
    )
