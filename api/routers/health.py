"""``/health`` (alive), ``/ready`` (model + database, saying which failed), ``/metrics`` (Prometheus). No auth."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, cast

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import Context
from api.lifecycle import ModelHolder
from api.schemas import Check, ReadyResponse
from attrition.db.models import Prediction
from attrition.db.repositories import probe_write

router = APIRouter(tags=["operations"])
_DB_TIMEOUT = 3.0


@router.get(
    "/health",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def _probe_database(engine: sa.Engine) -> str:
    """Read the log table, then prove a write goes through (rolled back): a read-only database fails."""
    table = cast(sa.Table, Prediction.__table__)
    with engine.connect() as conn:
        conn.execute(sa.select(table.c.id).limit(1)).first()
    try:
        return probe_write(engine)
    except sa.exc.SQLAlchemyError as error:
        raise _NotWritable(error) from error


class _NotWritable(Exception):
    """The database answers reads but refuses a write."""

    def __init__(self, error: sa.exc.SQLAlchemyError) -> None:
        super().__init__(_describe(error))


def _describe(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    first = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first}"


async def _database_check(ctx: Context) -> Check:
    try:
        note = await asyncio.wait_for(asyncio.to_thread(_probe_database, ctx.engine), _DB_TIMEOUT)
    except TimeoutError:
        return Check(ok=False, detail=f"app database did not answer within {_DB_TIMEOUT:.0f} s")
    except _NotWritable as error:
        return Check(ok=False, detail=f"app database refuses writes: {error}")
    except sa.exc.SQLAlchemyError as error:
        return Check(ok=False, detail=f"app database unreachable: {_describe(error)}")
    return Check(ok=True, detail=f"app database reachable and {note}")


def _champion_check(holder: ModelHolder, interval: float) -> Check:
    """Is the served version the champion? Not when the champion failed to load (the old one serves on)."""
    current, champion = holder.current, holder.champion
    if current is None:
        if champion is None:
            return Check(ok=False, detail=f"no champion served: {holder.problem}")
        return Check(ok=False, detail=f"champion version {champion} not loaded: {holder.last_error}")
    if holder.stale:
        if holder.retry_at is not None and interval > 0:
            wait = max(0.0, holder.retry_at - time.monotonic())
            retry = f"next attempt in {wait:.0f} s, or now with POST /v1/admin/reload"
        else:
            retry = "retry with POST /v1/admin/reload"
        return Check(
            ok=False,
            detail=f"serving version {current.version}, but the champion is version {champion}: "
            f"{holder.last_error}; {retry}",
        )
    if champion is None:
        unread = "could not be read" if not holder.registry_ok else "is not set"
        return Check(ok=True, detail=f"serving version {current.version}; the champion alias {unread}")
    return Check(ok=True, detail=f"serving the champion, version {current.version}")


@router.get(
    "/ready",
    response_model=ReadyResponse,
    summary="Readiness: model loaded and database reachable",
    responses={503: {"model": ReadyResponse, "description": "Not ready; the failing check says why"}},
)
async def ready(ctx: Context) -> Any:
    """200 when a model is loaded and the database takes a write (rolled back); else 503.

    ``degraded`` (still 200): MLflow unreachable, prediction log writes failing, or the
    version served is not the champion (the champion failed to load; ``champion`` says why).
    """
    holder, log = ctx.holder, ctx.log
    current = holder.current
    model = (
        Check(ok=True, detail=f"serving {current.name} version {current.version}")
        if current
        else Check(ok=False, detail=str(holder.problem))
    )
    registry = Check(
        ok=holder.registry_ok,
        detail="champion alias readable" if holder.registry_ok else f"MLflow: {holder.registry_error}",
    )
    pending, spilled = log.depth, log.spill.count if log.spill is not None else 0
    log_check = Check(
        ok=log.stats.db_available,
        detail=f"{pending} entries waiting"
        + (f" ({spilled} kept in the spill file)" if spilled else "")
        + ("" if log.stats.db_available else f"; writes failing: {log.stats.last_error}"),
    )
    champion = _champion_check(holder, ctx.settings.serving.reload_interval_seconds)
    checks = {
        "model": model,
        "champion": champion,
        "database": await _database_check(ctx),
        "registry": registry,
        "prediction_log": log_check,
    }
    status: Literal["ready", "degraded", "not_ready"]
    if not (model.ok and checks["database"].ok):
        status, code = "not_ready", 503
    elif not (registry.ok and log_check.ok and champion.ok):
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    body = ReadyResponse(status=status, checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(ctx: Context) -> Response:
    """Prometheus text format (this process)."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
