"""Every error as JSON ``{"error": ..., "detail": [{"field", "expected", "received"}]}``.

Validation errors name the field, what the contract expects and what came;
HTTP errors keep their status and headers (``Retry-After``, ``WWW-Authenticate``);
anything unexpected becomes a 500 that names the request id and nothing else:
the traceback goes to the server log, without the exception message (which
could quote an employee attribute).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import ErrorResponse, FieldIssue

logger = logging.getLogger(__name__)

_EMPTY_BODY = "request body is empty: send a JSON object (GET /v1/employees/sample returns a valid record)"
_MAX_RECEIVED = 200


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
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=dict(headers or {}))


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
        return {"expected": "valid JSON", "received": str(error.get("ctx", {}).get("error", ""))}
    return {"expected": message, "received": _clip(error.get("input"))}


def _clip(value: Any) -> Any:
    """Echo the received value, shortened when it is large (a whole object, a long string)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_RECEIVED else text[:_MAX_RECEIVED] + "..."


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(
            request, 422, _EMPTY_BODY, [FieldIssue(expected="a JSON object", received=None)]
        )
    issues = validation_issues(errors)
    fields = sorted({i.field for i in issues if i.field})
    where = f" in {', '.join(fields[:10])}" if fields else ""
    records = sorted({i.index for i in issues if i.index is not None})
    at = f" (records {', '.join(map(str, records[:20]))})" if records else ""
    message = f"request validation failed: {len(issues)} problem(s){where}{at}"
    return error_response(request, 422, message, issues)


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


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "unhandled %s on %s %s (request %s)\n%s",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id(request),
        frames,
    )
    message = f"internal error (request id {request_id(request)}); the server log has the details"
    return error_response(request, 500, message)


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
