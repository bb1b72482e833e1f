"""The FastAPI application: ``create_app(settings)`` and its lifespan.

Start it with ``attrition serve api`` (uvicorn factory ``api.app:create_app``).
At start-up the lifespan opens the app database engine, starts the prediction
log writer, loads the champion once (the app starts without one: ``/ready``
says why and predict answers 503) and starts the alias poller. At shutdown it
stops the poller and drains the prediction log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors
from api.auth import API_KEY_HEADER, FailedAuthLimiter, KeyVerifier, RateLimiter, UserVerifier
from api.deps import AppContext, reject_unknown_query
from api.lifecycle import ModelHolder
from api.limits import RequestLimitsMiddleware
from api.metrics import ApiMetrics, RequestMetricsMiddleware
from api.routers import (
    admin,
    auth,
    drift,
    employees,
    feedback,
    health,
    model,
    predict,
    predictions,
    score_jobs,
    workforce,
)
from api.score_jobs import JobRunner, JobStore
from api.tokens import TokenSigner
from attrition.config import Settings, get_settings
from attrition.db.engine import create_db_engine
from attrition.db.workforce import WorkforceCache
from attrition.serving.prediction_log import PredictionLog

logger = logging.getLogger(__name__)

DESCRIPTION = """
Employee attrition predictions over HTTP.

Every `/v1` endpoint needs an API key in the `X-API-Key` header
(`attrition keys create --name N --role viewer|predictor|admin`) or, for a person, a bearer
token from `POST /v1/auth/token` (user name and password; `attrition users create`) in
`Authorization: Bearer <token>`.
Roles are ordered: **viewer** reads model info, the prediction log and drift runs, **predictor**
also predicts and sends feedback, **admin** also reloads the model.
Errors are JSON: `{"error": "...", "detail": [{"field", "expected", "received"}]}`.
"""


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    serving = settings.serving
    engine = create_db_engine(settings.db_url, connect_timeout=settings.database_connect_timeout_seconds)
    log = PredictionLog.from_settings(engine, settings).start()  # spills to disk while the DB is down
    tokens = TokenSigner.from_settings(serving)
    holder = ModelHolder(settings)
    await asyncio.to_thread(holder.load)
    metrics: ApiMetrics = app.state.metrics
    metrics.watch(holder, log)
    app.state.ctx = AppContext(
        settings=settings,
        engine=engine,
        holder=holder,
        log=log,
        metrics=metrics,
        keys=KeyVerifier(engine, serving.api_key_cache_seconds, settings.database_connect_timeout_seconds),
        limiter=RateLimiter(serving.rate_limit_per_minute),
        auth_failures=FailedAuthLimiter(serving.auth_failures_per_minute),
        tokens=tokens,
        users=UserVerifier(engine, serving.api_key_cache_seconds, settings.database_connect_timeout_seconds),
        score_jobs=JobRunner(
            JobStore(settings.data_dir / "score_jobs", serving.score_job_retention_hours), settings, holder
        ),
        workforce=WorkforceCache(),
    )
    poller = asyncio.create_task(holder.poll_forever()) if serving.reload_interval_seconds > 0 else None
    try:
        yield
    finally:
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await asyncio.to_thread(app.state.ctx.score_jobs.close)  # before the log: the job's rows go there
        await asyncio.to_thread(log.close)
        app.state.ctx.keys.close()
        app.state.ctx.users.close()
        engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: the process settings). Nothing is loaded until start-up."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Employee Attrition API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.metrics = metrics = ApiMetrics()
    errors.install(app)  # also the innermost middleware: an unexpected exception -> JSON 500, not re-raised
    # The last added runs first: metrics (and request id) -> CORS (so 413/415/500 carry CORS headers)
    # -> limits -> the unexpected-error guard.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.serving.max_body_bytes,
        max_upload_bytes=settings.serving.max_upload_bytes,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.serving.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=[API_KEY_HEADER, "Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=600,
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    for module in (
        auth,
        predict,
        predictions,
        feedback,
        model,
        workforce,
        employees,
        drift,
        admin,
        score_jobs,
        health,
    ):
        app.include_router(module.router)
    return app
