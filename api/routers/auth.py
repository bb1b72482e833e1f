"""``POST /v1/auth/token``: a person signs in with name and password for a short-lived bearer token.

The OAuth2 password flow as FastAPI documents it (form fields ``username`` and
``password``). A wrong name, a wrong password and a disabled user get the same
401; repeated wrong passwords lock the account for a while (429 with
``Retry-After``). Failures also count against the client address like bad keys
(``api.auth.FailedAuthLimiter``): an address over that limit gets 429 before any
password is checked, so one address cannot try many user names. Every sign-in and
failure is in the audit log (``attrition.users.sign_in``); the password never is.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from api.deps import Context, client_address
from api.errors import ApiError
from api.routers._common import database
from api.schemas import ErrorResponse
from api.schemas_auth import TokenResponse
from attrition.db.models import utcnow
from attrition.users import LockoutPolicy, sign_in

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        401: "Wrong user name or password (the message does not say which)",
        413: "Request body over the size limit",
        415: "Body is not application/x-www-form-urlencoded",
        422: "Missing or invalid form fields",
        429: "Too many failed sign-ins: the account is locked until the time given, or this address "
        "made too many failed attempts (see Retry-After)",
        503: "The app database is unreachable",
    }.items()
}


_FORM_EXAMPLE = {"grant_type": "password", "username": "ana", "password": "correct horse battery"}


@router.post(
    "/token",
    response_model=TokenResponse,
    summary="Sign in for a bearer token",
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"example": _FORM_EXAMPLE}}}
    },
)
async def issue_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Context
) -> TokenResponse:
    """Check user name and password; answer a token for ``Authorization: Bearer <token>``.

    Create users with `attrition users create --name N --role viewer|predictor|admin`.
    """
    serving = ctx.settings.serving
    policy = LockoutPolicy(
        serving.sign_in_max_failures, serving.sign_in_window_minutes, serving.sign_in_lock_minutes
    )
    client = client_address(request)
    ctx.auth_failures.check(client)
    with database("check the sign-in"):
        result = await run_in_threadpool(
            sign_in, ctx.engine, form.username, form.password, policy, "api", client
        )
    if result.user is None:
        ctx.auth_failures.failed(client)
    if result.locked_until is not None:
        seconds = max(1, math.ceil((result.locked_until - utcnow()).total_seconds()))
        raise ApiError(
            429,
            f"too many failed sign-ins: this account is locked until {result.locked_until:%H:%M:%S} UTC; "
            f"retry in {seconds} s or ask an admin to reset the password",
            headers={"Retry-After": str(seconds)},
        )
    if result.user is None:
        raise ApiError(401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"})
    return TokenResponse(
        access_token=ctx.tokens.issue(result.user), expires_in=ctx.tokens.seconds, role=result.user.role
    )
