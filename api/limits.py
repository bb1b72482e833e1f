"""Request body checks before routing (pure ASGI), answered as the API's JSON errors.

* Content type: a request with a body must send ``application/json`` (or a
  ``+json`` type), else 415. A body-less POST is let through so the handler can
  say "request body is empty" (422). The sign-in form (``FORM_PATHS``) must be
  ``application/x-www-form-urlencoded`` instead, as the OAuth2 password flow says.
  A CSV upload (``UPLOAD_PATHS``) must be ``multipart/form-data``.
* Size: a declared ``Content-Length`` over the limit is refused (413) before
  anything is read; a body streamed without one is counted as it arrives and
  refused as soon as it passes the limit (the handler's body read raises a 413
  ``HTTPException``, which the JSON error handler answers). Upload paths have their own,
  larger limit (``serving.max_upload_bytes``, plus ``MULTIPART_SLACK`` for the form's framing;
  the handler checks the file itself against the exact limit).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "request body too large: the limit is {limit:,} bytes; split the records into smaller requests"
TOO_LARGE_UPLOAD = "upload too large: the limit is {limit:,} bytes (serving.max_upload_bytes); split the file"
#: Bytes of multipart framing (boundaries, part headers) allowed on top of the upload limit.
MULTIPART_SLACK = 65_536


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.upload_limit = max_body_bytes if max_upload_bytes is None else max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        declared = _int(headers.get(b"content-length"))
        upload = scope.get("path") in UPLOAD_PATHS
        limit = self.upload_limit + MULTIPART_SLACK if upload else self.limit
        too_large = (
            TOO_LARGE_UPLOAD.format(limit=self.upload_limit) if upload else TOO_LARGE.format(limit=limit)
        )
        if declared is not None and declared > limit:
            await _refuse(413, too_large, scope, receive, send)
            return
        if scope.get("method") in _BODY_METHODS:
            problem = _content_type_problem(
                headers, declared, form=scope.get("path") in FORM_PATHS, multipart=upload
            )
            if problem:
                await _refuse(415, problem, scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_PATHS = frozenset({"/v1/auth/token"})
UPLOAD_PATHS = frozenset({"/v1/score-jobs"})
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def _content_type_problem(
    headers: dict[bytes, bytes], declared: int | None, form: bool = False, multipart: bool = False
) -> str | None:
    raw = headers.get(b"content-type")
    wanted = _MULTIPART if multipart else _FORM if form else "application/json"
    if raw is None:
        if declared == 0 or (declared is None and b"transfer-encoding" not in headers):
            return None  # no body at all: the handler answers 422 "request body is empty"
        return f"missing Content-Type: send the body as {wanted}"
    media = raw.decode("latin-1").split(";", 1)[0].strip().lower()
    if multipart:
        return (
            None
            if media == _MULTIPART
            else f"unsupported Content-Type {media!r}: upload the file as {wanted}"
        )
    if form:
        return None if media == _FORM else f"unsupported Content-Type {media!r}: send the form as {_FORM}"
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return None
    return f"unsupported Content-Type {media!r}: send the body as application/json"


async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    body: dict[str, Any] = {"error": message, "detail": [], "request_id": scope.get("request_id")}
    headers = (
        {"Connection": "close"} if status == 413 else None
    )  # do not read a huge body to keep the connection
    await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)


def _int(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
