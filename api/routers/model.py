"""``GET /v1/model``: what is being served; ``GET /v1/model/card``: its model card and chart data;
``GET /v1/model/versions``: every registered version with its aliases and metrics (read from MLflow)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from starlette.concurrency import run_in_threadpool

from api.deps import Context, Model, Viewer
from api.errors import ApiError
from api.lifecycle import LoadedModel
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import ModelResponse, input_schema
from api.schemas_admin import VersionInfo, VersionList
from api.schemas_model import ConfusionAtThreshold, CurvePoint, ModelCardResponse, ModelCharts
from attrition.config import Settings
from attrition.model_card import build_card
from attrition.registry.store import HOLDOUT_ARTIFACT, RegistryError, configure, load_run_frame, safe_uri
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


@contextmanager
def registry_errors(settings: Settings, action: str) -> Iterator[None]:
    """MLflow unreachable (or its store failing) -> a 503 saying what could not be done."""
    try:
        yield
    except RegistryError as exc:  # configure(): the tracking server does not answer
        raise ApiError(503, f"could not {action}: {str(exc)[:400]}") from None
    except (MlflowException, OSError) as exc:
        raise ApiError(
            503,
            f"could not {action}: MLflow at {safe_uri(settings.tracking_uri)} could not be read "
            f"({str(exc)[:200]}). Retry shortly, or check the tracking server.",
        ) from None


def _aliases(client: MlflowClient, name: str) -> dict[str, list[str]]:
    """Version -> its aliases (read from the registered model: a version search may leave them out)."""
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted((registered.aliases or {}).items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _flag(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get(str(value).lower()) if value is not None else None


def _version_info(client: MlflowClient, mv: ModelVersion, aliases: list[str]) -> VersionInfo:
    """One version with its run's holdout metrics (confusion counts and the gate flag left out)."""
    metrics: dict[str, float] = {}
    run_tags: dict[str, Any] = {}
    if mv.run_id:
        try:
            run = client.get_run(str(mv.run_id))
            metrics = {
                k: float(v)
                for k, v in sorted(run.data.metrics.items())
                if not k.startswith("confusion_") and k != "fairness_passed" and math.isfinite(v)
            }
            run_tags = dict(run.data.tags)
        except MlflowException as exc:  # the run was deleted: the version still lists
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    created = mv.creation_timestamp
    return VersionInfo(
        version=str(mv.version),
        aliases=aliases,
        created_at=dt.datetime.fromtimestamp(created / 1000, dt.UTC) if created else None,
        run_id=mv.run_id,
        metrics=metrics,
        fairness_passed=_flag(run_tags.get("fairness_passed", tags.get("fairness_passed"))),
        status=mv.status,
        description=mv.description or None,
        tags=tags,
    )


def list_versions(settings: Settings, limit: int) -> VersionList:
    """The newest ``limit`` registered versions of the model (one run read per version)."""
    client = configure(settings)
    name = settings.model_name
    found = client.search_model_versions(f"name='{name}'")
    newest = sorted(found, key=lambda mv: int(mv.version), reverse=True)[:limit]
    aliases = _aliases(client, name) if newest else {}
    items = [_version_info(client, mv, aliases.get(str(mv.version), [])) for mv in newest]
    return VersionList(model_name=name, items=items)


@router.get(
    "/model/versions",
    response_model=VersionList,
    summary="Registered model versions, newest first",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def model_versions(
    caller: Viewer,
    ctx: Context,
    limit: Annotated[
        int, Query(ge=1, le=100, openapi_examples={"recent": {"summary": "The last 5", "value": 5}})
    ] = 20,
) -> VersionList:
    """Aliases (champion, challenger), training run, holdout metrics and fairness result of each
    version: what an admin compares before promoting or rolling back."""
    with registry_errors(ctx.settings, "list the model versions"):
        return list_versions(ctx.settings, limit)
