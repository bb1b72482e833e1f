"""Request dependencies (``Annotated`` aliases the routers use).

All are ``async def``: they never block, and FastAPI would run a plain ``def``
dependency in the thread pool (a thread hop per dependency per request).

``Viewer``/``PredictorRole``/``Admin`` authenticate the ``X-API-Key`` header,
check the role and take a rate-limit token; ``Model`` is the serving model or a
503 telling the operator what to do. (Content type and body size are checked
before routing, in ``api.limits``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.auth import API_KEY_HEADER, Caller, KeyVerifier, RateLimiter, authorize, check_key
from api.errors import ApiError
from api.lifecycle import LoadedModel, ModelHolder
from api.metrics import ApiMetrics
from attrition.config import Settings
from attrition.prediction_log import PredictionLog


@dataclass
class AppContext:
    """Everything the app holds for its lifetime (one per app, on ``app.state.ctx``)."""

    settings: Settings
    engine: sa.Engine
    holder: ModelHolder
    log: PredictionLog
    metrics: ApiMetrics
    keys: KeyVerifier
    limiter: RateLimiter


def context(request: Request) -> AppContext:
    """The app's context (a plain call: cheaper than a dependency on the hot path)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_context(request: Request) -> AppContext:
    return context(request)


Context = Annotated[AppContext, Depends(get_context)]

_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="API key (`attrition keys create --name N --role R`)"
)


def require(role: str) -> object:
    """Dependency: an authenticated caller with at least ``role``, within its rate limit."""

    async def dependency(request: Request, key: Annotated[str | None, Security(_key_header)]) -> Caller:
        ctx = context(request)
        key = check_key(key)
        fresh, caller = ctx.keys.cached(key)
        if not fresh:
            caller = await run_in_threadpool(ctx.keys.lookup, key)
        caller = authorize(caller, role)
        ctx.limiter.check(caller)
        return caller

    return Depends(dependency)


Viewer = Annotated[Caller, require("viewer")]
PredictorRole = Annotated[Caller, require("predictor")]
Admin = Annotated[Caller, require("admin")]


async def get_model(request: Request) -> LoadedModel:
    ctx = context(request)
    current = ctx.holder.current
    if current is None:
        interval = ctx.settings.serving.reload_interval_seconds
        raise ApiError(
            503,
            f"no model is being served: {ctx.holder.problem}. Once a champion exists the API picks it up "
            f"within {interval:g} s, or at once with POST /v1/admin/reload.",
        )
    return current


Model = Annotated[LoadedModel, Depends(get_model)]
