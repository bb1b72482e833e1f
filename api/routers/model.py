"""``GET /v1/model``: what is being served; ``GET /v1/model/card``: its model card and chart data."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import numpy as np
from fastapi import APIRouter, Request
from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool

from api.deps import Context, Model, Viewer
from api.errors import ApiError
from api.lifecycle import LoadedModel
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import ModelResponse, input_schema
from api.schemas_model import ConfusionAtThreshold, CurvePoint, ModelCardResponse, ModelCharts
from attrition.config import Settings
from attrition.model_card import build_card
from attrition.registry.store import HOLDOUT_ARTIFACT, RegistryError, configure, load_run_frame
from attrition.schema import ATTRITION_YES, RECORD_COLUMNS, TARGET
from attrition.serving.loader import ModelNotAvailable

logger = logging.getLogger(__name__)

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


MAX_POINTS = 200
CHARTS_RETRY_SECONDS = 300.0


class CardCache:
    """The card per champion version, built once per API process (one build at a time)."""

    def __init__(self) -> None:
        self.cards: dict[str, ModelCardResponse] = {}
        self.lock = threading.Lock()
        self.builds = 0

    def get(self, settings: Settings, model: LoadedModel) -> ModelCardResponse:
        with self.lock:
            card = self.cards.get(model.version)
            if card is None or _charts_retry_due(card):
                card = _build(settings, model)
                self.builds += 1
                self.cards = {model.version: card}  # only the served version is kept
            return card


def _charts_retry_due(card: ModelCardResponse) -> bool:
    """A card whose charts failed (e.g. the artifact store was down) is rebuilt after a while."""
    age = dt.datetime.now(dt.UTC) - card.built_at
    return card.charts is None and age.total_seconds() > CHARTS_RETRY_SECONDS


def card_cache(request: Request) -> CardCache:
    cache = getattr(request.app.state, "model_card_cache", None)
    if cache is None:
        cache = request.app.state.model_card_cache = CardCache()
    return cache


def _build(settings: Settings, model: LoadedModel) -> ModelCardResponse:
    try:
        card = build_card(settings, model.version)
    except (ModelNotAvailable, RegistryError, MlflowException, OSError) as exc:
        raise ApiError(503, f"the model card of version {model.version} could not be built: {exc}") from None
    charts: ModelCharts | None = None
    charts_error: str | None = None
    try:
        charts = _charts(settings, model, str(card["model"]["run_id"]))
    except Exception as exc:  # the card stands without its charts
        logger.warning("model card charts of version %s not computed: %s", model.version, exc)
        charts_error = f"chart data not available: {str(exc)[:200]}"
    return ModelCardResponse(
        **card, charts=charts, charts_error=charts_error, built_at=dt.datetime.now(dt.UTC)
    )


def _charts(settings: Settings, model: LoadedModel, run_id: str) -> ModelCharts:
    """ROC, precision-recall, calibration and the confusion at the threshold, on the stored holdout."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    holdout = load_run_frame(configure(settings), run_id, HOLDOUT_ARTIFACT)
    y = (holdout[TARGET].astype(str) == ATTRITION_YES).to_numpy(dtype=int)
    records = holdout[[c for c in RECORD_COLUMNS if c in holdout.columns]]
    scores = model.predictor.predict_frame(records)["probability"].to_numpy(dtype=float)
    fpr, tpr, roc_t = roc_curve(y, scores)
    precision, recall, pr_t = precision_recall_curve(y, scores)
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    threshold = model.threshold
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, scores >= threshold, labels=[0, 1]).ravel())
    return ModelCharts(
        holdout_rows=len(y),
        roc=_points(fpr, tpr, roc_t),
        precision_recall=_points(recall, precision, np.append(pr_t, np.nan)),
        calibration=_points(predicted, observed, np.full(len(predicted), np.nan)),
        confusion=ConfusionAtThreshold(threshold=threshold, tn=tn, fp=fp, fn=fn, tp=tp),
    )


def _points(x: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> list[CurvePoint]:
    """At most ``MAX_POINTS`` points, evenly spaced along the curve, first and last kept."""
    index = np.unique(np.linspace(0, len(x) - 1, min(len(x), MAX_POINTS)).round().astype(int))
    return [
        CurvePoint(
            x=float(np.clip(x[i], 0, 1)),
            y=float(np.clip(y[i], 0, 1)),
            threshold=float(thresholds[i]) if np.isfinite(thresholds[i]) else None,
        )
        for i in index
    ]


@router.get(
    "/model/card",
    response_model=ModelCardResponse,
    summary="The champion's model card, with chart data",
    responses=errors(*AUTH_ERRORS, 503),
)
async def model_card(caller: Viewer, ctx: Context, model: Model, request: Request) -> ModelCardResponse:
    """``attrition model-card --format json`` for the served version plus ROC, precision-recall and
    calibration points and the confusion at the threshold on its holdout; built once per version."""
    cache = card_cache(request)
    return await run_in_threadpool(cache.get, ctx.settings, model)
