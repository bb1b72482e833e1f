"""``/health`` (alive), ``/ready`` (model + database, saying which failed), ``/metrics`` (Prometheus). No auth."""

from __future__ import annotations

import asyncio
from typing import Any, Literal, cast

import sqlalchemy as sa
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import Context
from api.schemas import Check, ReadyResponse
from attrition.db.models import Prediction

router = APIRouter(tags=["operations"])
_DB_TIMEOUT = 3.0


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def _probe_database(engine: sa.Engine) -> None:
    table = cast(sa.Table, Prediction.__table__)
    with engine.connect() as conn:
        conn.execute(sa.select(table.c.id).limit(1)).first()


async def _database_check(ctx: Context) -> Check:
    try:
        await asyncio.wait_for(asyncio.to_thread(_probe_database, ctx.engine), _DB_TIMEOUT)
    except TimeoutError:
        return Check(ok=False, detail=f"app database did not answer within {_DB_TIMEOUT:.0f} s")
    except sa.exc.SQLAlchemyError as error:
        orig = getattr(error, "orig", None) or error
        first = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
        return Check(ok=False, detail=f"app database unreachable: {type(orig).__name__}: {first}")
    return Check(ok=True, detail="app database reachable")


@router.get(
    "/ready",
    response_model=ReadyResponse,
    summary="Readiness: model loaded and database reachable",
    responses={503: {"model": ReadyResponse, "description": "Not ready; the failing check says why"}},
)
async def ready(ctx: Context) -> Any:
    """200 when a model is loaded and the database answers (``degraded`` if MLflow is unreachable); else 503."""
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
    pending = log.depth
    log_check = Check(
        ok=log.stats.db_available,
        detail=f"{pending} entries waiting"
        + ("" if log.stats.db_available else f"; writes failing: {log.stats.last_error}"),
    )
    checks = {
        "model": model,
        "database": await _database_check(ctx),
        "registry": registry,
        "prediction_log": log_check,
    }
    status: Literal["ready", "degraded", "not_ready"]
    if not (model.ok and checks["database"].ok):
        status, code = "not_ready", 503
    elif not (registry.ok and log_check.ok):
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    body = ReadyResponse(status=status, checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(ctx: Context) -> Response:
    """Prometheus text format (this process)."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
