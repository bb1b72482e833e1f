"""``GET /v1/employees/sample``: a valid record for clients and the UI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Viewer
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import EXAMPLE_REQUEST, PredictionRequest

router = APIRouter(prefix="/v1/employees", tags=["employees"])


@router.get(
    "/sample",
    response_model=PredictionRequest,
    summary="A valid example record",
    responses=errors(*AUTH_ERRORS),
)
async def sample(caller: Viewer) -> Any:
    """The contract's example record (``attrition.schema.EXAMPLE_RECORD``), ready to POST to /v1/predict."""
    return PredictionRequest.model_validate(EXAMPLE_REQUEST)
