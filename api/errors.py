"""Every error as JSON ``{"error": ..., "detail": [{"field", "expected", "received"}]}``.

Validation errors name the field, what the contract expects and what came;
HTTP errors keep their status and headers (``Retry-After``, ``WWW-Authenticate``);
text a client sent that is not valid Unicode (a lone UTF-16 surrogate such as
``"\\ud800"``) is echoed escaped (``\\ud800`` as six characters), so the error
itself can always be encoded;
anything unexpected becomes a 500 that names the request id and nothing else:
the traceback goes to the server log, without the exception message (which
could quote an employee attribute).

The 500 is answered by ``UnexpectedErrorMiddleware`` (pure ASGI, just outside
the routes) and the exception stops there. A handler registered for
``Exception`` would not do: Starlette calls it from its outermost middleware and
then re-raises, and the server logs "Exception in ASGI application" with the
full message.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import ErrorResponse, FieldIssue

logger = logging.getLogger(__name__)

_EMPTY_BODY = "request body is empty: send a JSON object (GET /v1/employees/sample returns a valid record)"
_MAX_RECEIVED = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


class ApiError(Exception):
    """An error with a status, an actionable message and optional field detail."""

    def __init__(
        self,
        status_code: int,
        message: str,
        detail: Sequence[FieldIssue] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.detail = list(detail)
        self.headers = dict(headers or {})


class BodyError(HTTPException):
    """A problem found while the body is read (``api.limits``): a 422 with field detail.

    An ``HTTPException`` because FastAPI re-raises those from its body read, where any
    other exception becomes a bare 400.
    """

    def __init__(self, message: str, issues: Sequence[FieldIssue]) -> None:
        super().__init__(422, message)
        self.message = message
        self.issues = list(issues)


_NOT_UNICODE = (
    "text that is valid Unicode: no lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair)"
)


def surrogate_issues(value: Any, path: tuple[str | int, ...] = ()) -> list[FieldIssue]:
    """Every place in decoded JSON where a key or a string holds a lone surrogate, named like a field."""
    if isinstance(value, str):
        return [_surrogate_issue(path, value)] if has_surrogate(value) else []
    issues: list[FieldIssue] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if has_surrogate(key):
                issues.append(_surrogate_issue((*path, key), key, name=True))
            issues += surrogate_issues(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            issues += surrogate_issues(item, (*path, position))
    return issues


def _surrogate_issue(path: tuple[str | int, ...], text: str, name: bool = False) -> FieldIssue:
    index = None
    if len(path) >= 2 and path[0] == "records" and isinstance(path[1], int):
        index, path = path[1], path[2:]
    field = safe_text(".".join(str(part) for part in path)) or None
    expected = ("a field name in " if name else "") + _NOT_UNICODE
    return FieldIssue(field=field, index=index, expected=expected, received=_clip(text))


def request_id(request: Request) -> str | None:
    value = request.scope.get("request_id")
    return str(value) if value else None


def error_response(
    request: Request,
    status_code: int,
    message: str,
    detail: Sequence[FieldIssue] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=message, detail=list(detail), request_id=request_id(request))
    content = encodable(body.model_dump(mode="json"))
    return JSONResponse(content, status_code=status_code, headers=dict(headers or {}))


def safe_text(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\\ud800``): always UTF-8 encodable."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def encodable(value: Any) -> Any:
    """``value`` (JSON-like) with every string, keys included, made safe by ``safe_text``."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value


def validation_issues(errors: Sequence[Mapping[str, Any]]) -> list[FieldIssue]:
    """Pydantic errors -> field issues (batch records carry their index)."""
    issues: list[FieldIssue] = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        index = None
        if len(loc) >= 2 and loc[0] == "records" and isinstance(loc[1], int):
            index, loc = loc[1], loc[2:]
        if error.get("type") == "cross_field":
            issues.extend(FieldIssue(index=index, **issue) for issue in error["ctx"]["issues"])
            continue
        if error.get("type") == "json_invalid":  # the location is a character offset, not a field
            issues.append(FieldIssue(field=None, **_expected_received(error)))
            continue
        field = ".".join(str(part) for part in loc) or None
        issues.append(FieldIssue(field=field, index=index, **_expected_received(error)))
    return issues


def _expected_received(error: Mapping[str, Any]) -> dict[str, Any]:
    kind, message = error.get("type"), str(error.get("msg", ""))
    if kind == "missing":
        return {"expected": "a value (field is required)", "received": None}
    if kind == "extra_forbidden":
        return {
            "expected": "no such field: only the record contract's columns (GET /v1/model, input_schema)",
            "received": _clip(error.get("input")),
        }
    if kind == "json_invalid":
        return {"expected": "valid JSON", "received": _json_problem(error)}
    return {"expected": message, "received": _clip(error.get("input"))}


def _json_problem(error: Mapping[str, Any]) -> str:
    """``the body is not valid JSON at character 9: Expecting ',' delimiter``."""
    reason = str((error.get("ctx") or {}).get("error") or error.get("msg") or "decode error")
    offsets = [part for part in error.get("loc", ()) if isinstance(part, int)]
    at = f" at character {offsets[-1]}" if offsets else ""
    return f"the body is not valid JSON{at}: {reason}"


def _clip(value: Any) -> Any:
    """Echo the received value, shortened when it is large (a whole object, a long string)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = safe_text(value if isinstance(value, str) else repr(value))
    return text if len(text) <= _MAX_RECEIVED else text[:_MAX_RECEIVED] + "..."


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(
            request, 422, _EMPTY_BODY, [FieldIssue(expected="a JSON object", received=None)]
        )
    invalid_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        return error_response(request, 422, _json_problem(invalid_json), validation_issues([invalid_json]))
    issues = validation_issues(errors)
    fields = sorted({i.field for i in issues if i.field})
    where = f" in {', '.join(fields[:10])}" if fields else ""
    records = sorted({i.index for i in issues if i.index is not None})
    at = f" (records {', '.join(map(str, records[:20]))})" if records else ""
    message = f"request validation failed: {len(issues)} problem(s){where}{at}"
    return error_response(request, 422, message, issues)


async def _on_body_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyError)
    return error_response(request, exc.status_code, exc.message, exc.issues)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status_code, exc.message, exc.detail, exc.headers)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and message == "There was an error parsing the body":
        issue = FieldIssue(expected="a JSON object in UTF-8", received=None)
        return error_response(request, 422, "request body is not valid JSON (UTF-8 text expected)", [issue])
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path} (see /docs)"
    return error_response(request, exc.status_code, message, headers=exc.headers)


def _log_unexpected(request: Request, exc: BaseException) -> None:
    """The exception's type and frames, never its message (it could quote an employee attribute)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "unhandled %s on %s %s (request %s)\n%s",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id(request),
        frames,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log_unexpected(request, exc)
    message = f"internal error (request id {request_id(request)}); the server log has the details"
    return error_response(request, 500, message)


async def answer_unexpected(
    scope: Scope, receive: Receive, send: Send, exc: Exception, started: bool
) -> None:
    """Log ``exc`` (frames only) and answer the JSON 500, unless the response has already started.

    When it has, nothing more can be sent: returning lets the server close the connection.
    """
    request = Request(scope)
    if started:
        _log_unexpected(request, exc)
        return
    response = await _on_unexpected(request, exc)
    await response(scope, receive, send)


class UnexpectedErrorMiddleware:
    """Pure ASGI: an exception no handler took becomes the JSON 500 here and is not re-raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            await answer_unexpected(scope, receive, send, exc, started)


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app`` and add the unexpected-error middleware.

    Call it before adding other middleware: it must be the innermost, so the 500 it
    answers passes through CORS and the request metrics like any other response.
    """
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(BodyError, _on_body_error)
    # Only reached if an exception escapes every middleware (a bug in one of them).
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(UnexpectedErrorMiddleware)
