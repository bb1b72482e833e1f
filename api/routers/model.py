"""``GET /v1/model``: what is being served."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Model, Viewer
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import ModelResponse, input_schema

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelResponse,
    summary="The champion being served",
    responses=errors(*AUTH_ERRORS, 503),
)
async def model_info(caller: Viewer, model: Model) -> ModelResponse:
    """Version, training date, metrics, threshold, risk bands, fairness gate result and the input schema."""
    return ModelResponse(
        model_name=model.name,
        model_version=model.version,
        loaded_at=model.loaded_at,
        fast_path=model.fast.compiled,
        info=model.predictor.info,
        input_schema=input_schema(),
    )
