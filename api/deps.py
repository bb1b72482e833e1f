"""Request dependencies (``Annotated`` aliases the routers use).

All are ``async def``: they never block, and FastAPI would run a plain ``def``
dependency in the thread pool (a thread hop per dependency per request).

``Viewer``/``PredictorRole``/``Admin`` authenticate the ``X-API-Key`` header or
an ``Authorization: Bearer`` sign-in token (one of them, not both), count a
failure against the client address (``api.auth.FailedAuthLimiter``), check the
role and take a rate-limit token; ``Model`` is the serving model or a
503 telling the operator what to do. (Content type and body size are checked
before routing, in ``api.limits``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api.auth import (
    API_KEY_HEADER,
    Caller,
    FailedAuthLimiter,
    KeyVerifier,
    RateLimiter,
    UserVerifier,
    authorize,
    check_key,
)
from api.errors import ApiError
from api.lifecycle import LoadedModel, ModelHolder
from api.metrics import ApiMetrics
from api.schemas import FieldIssue
from api.score_jobs import JobRunner
from api.tokens import TokenSigner
from attrition.config import Settings
from attrition.db.workforce import WorkforceCache
from attrition.serving.prediction_log import PredictionLog


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
    tokens: TokenSigner
    users: UserVerifier
    score_jobs: JobRunner
    workforce: WorkforceCache
    auth_failures: FailedAuthLimiter = field(default_factory=FailedAuthLimiter)


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


TOKEN_URL = "/v1/auth/token"
_bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description=f"Sign-in token of a person (`POST {TOKEN_URL}` with user name and password)",
)


async def _cached_or_lookup(verifier: KeyVerifier, credential: str) -> Caller | None:
    fresh, caller = verifier.cached(credential)
    if not fresh:
        caller = await run_in_threadpool(verifier.lookup, credential)
    return caller


def client_address(request: Request) -> str:
    """The client's address, as uvicorn gives it (the forwarded one behind a trusted proxy)."""
    return request.client.host if request.client else "unknown"


def _token_refused(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _token_caller(ctx: AppContext, token: str, address: str) -> Caller:
    claims = ctx.tokens.read(token)
    if claims is None:
        ctx.auth_failures.check(address)
        raise _token_refused(f"invalid or expired sign-in token: sign in again at POST {TOKEN_URL}")
    # Well signed: not a guess, so looked up even while the address is over the failure limit.
    caller = await _cached_or_lookup(ctx.users, UserVerifier.credential(claims.name, claims.version))
    if caller is None:
        raise _token_refused(
            f"sign-in token no longer valid (user disabled or password reset): sign in again at POST {TOKEN_URL}"
        )
    return caller


async def _key_caller(ctx: AppContext, key: str | None, address: str) -> Caller:
    if key:
        fresh, caller = ctx.keys.cached(key)
        if fresh and caller is not None:  # verified moments ago: served even while over the limit
            return caller
    ctx.auth_failures.check(address)
    caller = await _cached_or_lookup(ctx.keys, check_key(key))
    if caller is None:
        raise ApiError(401, "invalid or revoked API key", headers={"WWW-Authenticate": API_KEY_HEADER})
    return caller


async def authenticate(ctx: AppContext, key: str | None, token: str | None, address: str) -> Caller:
    """The caller of a key or token; every 401 counts against ``address`` (429 once over the limit)."""
    try:
        if token and key:
            ctx.auth_failures.check(address)
            raise ApiError(401, f"send either the {API_KEY_HEADER} header or a bearer token, not both")
        if token:
            return await _token_caller(ctx, token, address)
        return await _key_caller(ctx, key, address)
    except ApiError as exc:
        if exc.status_code == 401:
            ctx.auth_failures.failed(address)
        raise


def require(role: str) -> object:
    """Dependency: an authenticated caller (key or token) with at least ``role``, within its rate limit."""

    async def dependency(
        request: Request,
        key: Annotated[str | None, Security(_key_header)],
        token: Annotated[str | None, Security(_bearer)],
    ) -> Caller:
        ctx = context(request)
        caller = authorize(await authenticate(ctx, key, token, client_address(request)), role)
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


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route documents (cached: the hot path pays a dict lookup)."""
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = frozenset(_query_aliases(route.dependant))
        _QUERY_NAMES[id(route)] = names
    return names


def _query_aliases(dependant: Dependant) -> list[str]:
    """Query parameter names of a route and of every dependency it uses."""
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_aliases(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """A misspelt filter (``?risk=high``) is a 422 naming it, never silently ignored."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _declared_query(route)
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        expected = f"one of: {', '.join(sorted(allowed))}" if allowed else "no query parameters"
        raise ApiError(
            422,
            f"unknown query parameter(s): {', '.join(unknown)}",
            [
                FieldIssue(field=name, expected=expected, received=request.query_params[name])
                for name in unknown
            ],
        )
