"""``/v1/admin``: reload the champion, promote or roll back a version, manage users and API keys.

Each change runs the package code the CLI runs (``attrition.jobs``, ``attrition.registry``)
with the caller (``Caller.name``: the key's name or ``user:<name>``) as the audit actor.
Handlers that touch the database, argon2 or MLflow are plain ``def``: those calls block,
so FastAPI runs them in its thread pool. A successful promotion or rollback reloads the
champion in this process before answering, so the answer and the next predictions agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from api.deps import Admin, AppContext, Context
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, BODY_ERRORS, database, errors
from api.routers.model import registry_errors
from api.routers.predictions import naive_utc
from api.schemas import ErrorResponse, FieldIssue, ReloadResponse
from api.schemas_admin import (
    AuditEventOut,
    AuditList,
    AuditOutcomeName,
    CreatedKey,
    CreateKeyRequest,
    CreateUserRequest,
    KeyList,
    KeyOut,
    PasswordRequest,
    PromoteRequest,
    PromotionResponse,
    RollbackRequest,
    UserList,
    UserOut,
    UserWithPassword,
)
from attrition.audit import AuditOutcome
from attrition.config import CHALLENGER, Settings
from attrition.db.repositories import AuditFilter, list_audit, record_audit
from attrition.jobs import keys as key_jobs
from attrition.jobs import promote as promote_jobs
from attrition.jobs import users as user_jobs
from attrition.keys import KeyInfo, verify_key
from attrition.registry.aliases import PromotionDecision, rollback
from attrition.registry.store import RegistryError, alias_version, configure, model_version
from attrition.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    UserError,
    UserInfo,
    check_password,
    find_user,
)

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/admin", tags=["admin"])

_WRITE_ERRORS = (*AUTH_ERRORS, *BODY_ERRORS, 503)


def _responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """``errors(*codes)`` plus statuses described per route (``conflict=`` 409, ``missing=`` 404)."""
    found = errors(*codes)
    for kind, text in described.items():
        found[{"conflict": 409, "missing": 404}[kind]] = {"model": ErrorResponse, "description": text}
    return found


Name = Annotated[str, PathParam(min_length=1, max_length=128, examples=["ana"])]


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
        reason = str(ctx.holder.last_error or ctx.holder.registry_error or ctx.holder.problem).rstrip(".")
        serving = current.version if current else None
        await _audit_reload(
            ctx, caller.name, {"serving_version": serving, "error": reason}, AuditOutcome.FAILED
        )
        raise ApiError(503, f"reload failed: {reason}.{kept}")
    detail = {"previous_version": previous, "model_version": version}
    await _audit_reload(ctx, caller.name, detail, AuditOutcome.OK)
    return ReloadResponse(previous_version=previous, model_version=version, changed=previous != version)


async def _audit_reload(ctx: AppContext, actor: str, detail: dict[str, Any], outcome: AuditOutcome) -> None:
    """The reload in the audit log; an unreachable database does not fail the reload itself."""
    try:
        name = ctx.settings.model_name
        await run_in_threadpool(record_audit, ctx.engine, actor, "model.reload", name, detail, outcome)
    except sa.exc.SQLAlchemyError:
        logger.warning("reload by %s not audited: app database unreachable", actor)


# --- audit log -------------------------------------------------------------------------------

AuditText = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get(
    "/audit", response_model=AuditList, summary="The audit log", responses=errors(*AUTH_ERRORS, 422, 503)
)
def list_audit_events(
    caller: Admin,
    ctx: Context,
    action: Annotated[str | None, Query(min_length=1, max_length=64, examples=["promote"])] = None,
    actor: AuditText = None,
    outcome: Annotated[AuditOutcomeName | None, Query(examples=["refused"])] = None,
    since: Annotated[dt.datetime | None, Query(examples=["2026-03-01T00:00:00Z"])] = None,
    limit: Annotated[int, Query(ge=1, le=1000, examples=[50])] = 100,
) -> AuditList:
    """Every write and admin action but predictions (those carry their caller in the prediction log)."""
    where = AuditFilter(
        action=action,
        actor=actor,
        outcome=AuditOutcome(outcome) if outcome else None,
        since=naive_utc({"since": since})["since"],
        limit=limit,
    )
    with database("read the audit log"):
        events = list_audit(ctx.engine, where=where)
    return AuditList(items=[AuditEventOut.model_validate(event) for event in events])


# --- promotion -------------------------------------------------------------------------------


def _candidate(settings: Settings, version: str | None) -> str:
    """The version to promote: the one asked for (404 if unknown) or the challenger (409 if none)."""
    client = configure(settings)
    name = settings.model_name
    if version is None:
        challenger = alias_version(client, name, CHALLENGER)
        if challenger is None:
            raise ApiError(
                409,
                f"model {name!r} has no {CHALLENGER} to promote: train one (`attrition train`) "
                "or give a version (GET /v1/model/versions lists them)",
            )
        return challenger
    try:
        model_version(client, name, version)
    except RegistryError:
        raise ApiError(
            404, f"model {name!r} has no version {version!r}; GET /v1/model/versions lists them"
        ) from None
    return version


def _finite(value: Any) -> Any:
    """NaN/inf (a metric a run did not log) as null: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _answer(ctx: AppContext, decision: PromotionDecision) -> PromotionResponse:
    """The decision, after loading the new champion into this process when the alias moved."""
    reload_error = None
    if decision.promoted:
        _, loaded = ctx.holder.load()
        if loaded is None:
            reload_error = ctx.holder.last_error or ctx.holder.problem or "the new champion did not load"
    current = ctx.holder.current
    return PromotionResponse(
        **_finite(decision.to_dict()),
        message=decision.message(),
        serving_version=current.version if current else None,
        reload_error=reload_error,
    )


@router.post(
    "/promote",
    response_model=PromotionResponse,
    summary="Promote a version to champion through the gates",
    responses=_responses(*_WRITE_ERRORS, missing="No such version", conflict="No challenger to promote"),
)
def promote_model(
    caller: Admin,
    ctx: Context,
    body: Annotated[
        PromoteRequest | None,
        Body(
            openapi_examples={
                "challenger": {
                    "summary": "Promote version 3",
                    "value": {"version": "3", "reason": "weekly retrain"},
                }
            }
        ),
    ] = None,
) -> PromotionResponse:
    """Fairness gate, ROC-AUC floor and no worse than the champion on the candidate's holdout.

    A refusal is a 200 with ``promoted: false`` and the gates' reasons; nothing moves.
    """
    request = body or PromoteRequest()
    settings = ctx.settings
    with registry_errors(settings, "promote"), database("record the promotion"):
        version = _candidate(settings, request.version)
        job = promote_jobs.PromoteRequest(version, actor=caller.name, reason=request.reason)
        outcome = promote_jobs.promote_version(settings, job)
    if outcome.decision is None:
        raise ApiError(503, f"promotion of version {version} failed: {outcome.error}")
    return _answer(ctx, outcome.decision)


@router.post(
    "/rollback",
    response_model=PromotionResponse,
    summary="Point champion back at the version it replaced",
    responses=_responses(*_WRITE_ERRORS, conflict="No champion, or it replaced none"),
)
def rollback_model(
    caller: Admin,
    ctx: Context,
    body: Annotated[
        RollbackRequest | None,
        Body(
            openapi_examples={"reason": {"summary": "Roll back", "value": {"reason": "complaints from HR"}}}
        ),
    ] = None,
) -> PromotionResponse:
    """Rolling back twice walks further back; 409 when the champion replaced nothing."""
    request = body or RollbackRequest()
    settings = ctx.settings
    with registry_errors(settings, "roll back"), database("record the rollback"):
        configure(settings)  # an unreachable MLflow is a 503, not "nothing to roll back"
        try:
            decision = rollback(settings, actor=caller.name, reason=request.reason)
        except RegistryError as exc:
            raise ApiError(409, f"nothing to roll back to: {exc}") from None
    return _answer(ctx, decision)


# --- users -----------------------------------------------------------------------------------


def _user(info: UserInfo) -> UserOut:
    return UserOut(**dataclasses.asdict(info), active=info.active)


def _new_password(password: str | None) -> tuple[str, str | None]:
    """(the password to set, the generated one to show once); a weak one is a 422 that never echoes it."""
    if password is None:
        generated = user_jobs.generate_password()
        return generated, generated
    try:
        check_password(password)
    except UserError as exc:
        issue = FieldIssue(
            field="password",
            expected=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters (or omit it to generate one)",
            received=f"a password of {len(password)} characters (not shown)",
        )
        raise ApiError(422, f"password refused: {str(exc).split(' (got')[0]}", [issue]) from None
    return password, None


def _known_user(ctx: AppContext, name: str) -> None:
    if find_user(ctx.engine, name) is None:
        raise ApiError(404, f"no user named {name!r}; GET /v1/admin/users lists them")


@router.get("/users", response_model=UserList, summary="User accounts", responses=errors(*AUTH_ERRORS, 503))
def list_users(caller: Admin, ctx: Context) -> UserList:
    """Every person who can sign in, active and disabled (never a password or hash)."""
    with database("list the users"):
        return UserList(items=[_user(u) for u in user_jobs.listing(ctx.settings)])


@router.post(
    "/users",
    response_model=UserWithPassword,
    status_code=201,
    summary="Create a user",
    responses=_responses(*_WRITE_ERRORS, conflict="A user of that name exists"),
)
def create_user(caller: Admin, ctx: Context, body: CreateUserRequest) -> UserWithPassword:
    """Omit ``password`` to have one generated: it is in this answer and nowhere else."""
    password, generated = _new_password(body.password)
    with database("create the user"):
        if find_user(ctx.engine, body.name) is not None:
            raise ApiError(409, f"a user named {body.name!r} exists already; reset their password instead")
        outcome = user_jobs.create(ctx.settings, body.name, body.role, password, actor=caller.name)
    if outcome.info is None:
        raise ApiError(409, str(outcome.error))
    return UserWithPassword(user=_user(outcome.info), password=generated)


@router.post(
    "/users/{name}/disable",
    response_model=UserOut,
    summary="Disable a user",
    responses=_responses(*AUTH_ERRORS, 422, 503, missing="No such user", conflict="Your own account"),
)
def disable_user(caller: Admin, ctx: Context, name: Name) -> UserOut:
    """No more sign-ins, and the user's tokens stop working at once. You cannot disable yourself."""
    if caller.kind == "user" and caller.name == f"user:{name}":
        raise ApiError(409, "you cannot disable your own account: ask another admin to do it")
    with database("disable the user"):
        _known_user(ctx, name)
        outcome = user_jobs.disable(ctx.settings, name, actor=caller.name)
    if outcome.info is None:
        raise ApiError(404, str(outcome.error))
    ctx.users.forget()
    return _user(outcome.info)


@router.post(
    "/users/{name}/reset-password",
    response_model=UserWithPassword,
    summary="Set a new password",
    responses=_responses(*_WRITE_ERRORS, missing="No such user"),
)
def reset_user_password(
    caller: Admin,
    ctx: Context,
    name: Name,
    body: Annotated[
        PasswordRequest | None,
        Body(
            openapi_examples={
                "given": {"summary": "A chosen password", "value": {"password": "correct horse battery"}}
            }
        ),
    ] = None,
) -> UserWithPassword:
    """Omit ``password`` to have one generated. Lifts a lockout and ends the tokens issued before."""
    password, generated = _new_password((body or PasswordRequest()).password)
    with database("reset the password"):
        _known_user(ctx, name)
        outcome = user_jobs.reset(ctx.settings, name, password, actor=caller.name)
    if outcome.info is None:
        raise ApiError(404, str(outcome.error))
    ctx.users.forget()
    return UserWithPassword(user=_user(outcome.info), password=generated)


# --- API keys --------------------------------------------------------------------------------


def _key(info: KeyInfo) -> KeyOut:
    return KeyOut(**dataclasses.asdict(info), active=info.active)


@router.get("/keys", response_model=KeyList, summary="API keys", responses=errors(*AUTH_ERRORS, 503))
def list_keys(caller: Admin, ctx: Context) -> KeyList:
    """Every key, active and revoked: name, role, prefix, dates (never the key or its hash)."""
    with database("list the API keys"):
        return KeyList(items=[_key(k) for k in key_jobs.listing(ctx.settings)])


@router.post(
    "/keys",
    response_model=CreatedKey,
    status_code=201,
    summary="Create an API key",
    responses=_responses(*_WRITE_ERRORS, conflict="A key of that name exists"),
)
def create_key(caller: Admin, ctx: Context, body: CreateKeyRequest) -> CreatedKey:
    """The key is in this answer and nowhere else: only its hash is stored."""
    with database("create the API key"):
        outcome = key_jobs.create(ctx.settings, body.name, body.role, actor=caller.name)
        if outcome.key is None:
            raise ApiError(409, str(outcome.error))
        info = verify_key(ctx.engine, outcome.key)
    if info is None:  # only if it was revoked in between
        raise ApiError(409, f"the key {body.name!r} was revoked as it was created")
    return CreatedKey(key=_key(info), secret=outcome.key)


@router.post(
    "/keys/{name}/revoke",
    response_model=KeyOut,
    summary="Revoke an API key",
    responses=_responses(*AUTH_ERRORS, 422, 503, missing="No such key"),
)
def revoke_key(caller: Admin, ctx: Context, name: Name) -> KeyOut:
    """The key stops working at once in this process (other workers: within the key cache time)."""
    with database("revoke the API key"):
        outcome = key_jobs.revoke(ctx.settings, name, actor=caller.name)
    if outcome.info is None:
        raise ApiError(404, f"{outcome.error}; GET /v1/admin/keys lists them")
    ctx.keys.forget()
    return _key(outcome.info)
