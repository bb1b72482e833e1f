"""``POST /v1/admin/reload``: load the current champion now."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import Admin, Context
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, errors
from api.schemas import ReloadResponse
from attrition.db.repositories import record_audit

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    summary="Reload the champion now",
    responses=errors(*AUTH_ERRORS, 503),
)
async def reload_model(caller: Admin, ctx: Context) -> ReloadResponse:
    """Ask the registry for the champion and swap it in (requests keep being served meanwhile)."""
    previous, version = await run_in_threadpool(ctx.holder.load)
    if version is None:
        current = ctx.holder.current
        kept = f" Still serving version {current.version}." if current else ""
        reason = ctx.holder.last_error or ctx.holder.registry_error or ctx.holder.problem
        raise ApiError(503, f"reload failed: {str(reason).rstrip('.')}.{kept}")
    try:
        detail = {"previous_version": previous, "model_version": version}
        await run_in_threadpool(
            record_audit, ctx.engine, caller.name, "model.reload", ctx.settings.model_name, detail
        )
    except sa.exc.SQLAlchemyError:
        logger.warning("reload by %s not audited: app database unreachable", caller.name)
    return ReloadResponse(previous_version=previous, model_version=version, changed=previous != version)
