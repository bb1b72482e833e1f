"""Request checks before routing (pure ASGI), answered as the API's JSON errors.

* Credentials in the URL: a query parameter named like a credential (``api_key``,
  ``X-API-Key``, ``key``, ``token``, ``access_token``, ...: ``attrition.jobs.serve.CREDENTIAL_PARAMS``;
  case, ``-`` and ``_`` ignored) is a 400 on every path, telling the caller to use the
  ``X-API-Key`` header, and the value is never echoed. URLs end up in access logs, proxies
  and browser history; ``attrition serve api`` also redacts such parameters from the
  access log (``attrition.jobs.serve``).
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
* Unicode: JSON can carry a lone UTF-16 surrogate (``"\\ud800"``), which Python
  decodes into a string no encoder, database driver or log handler accepts. A JSON
  body is scanned as it arrives (a byte search: the hot path pays microseconds) and
  one with a lone surrogate anywhere, value or field name, is a 422 naming the field.
  Form and multipart bodies cannot carry one (their decoders replace bad bytes).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyError, surrogate_issues
from attrition.jobs.serve import is_credential_param

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
        credential = credential_in_query(scope.get("query_string", b""))
        if credential is not None:
            await _refuse(400, CREDENTIAL_IN_URL.format(name=credential), scope, receive, send, credential)
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
        chunks: list[bytes] | None = [] if _is_json(headers) else None

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise HTTPException(413, too_large)
                if chunks is not None:
                    chunks.append(body)
                    if not message.get("more_body", False):
                        check_unicode(b"".join(chunks))
            return message

        await self.app(scope, limited_receive, send)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_PATHS = frozenset({"/v1/auth/token"})
UPLOAD_PATHS = frozenset({"/v1/score-jobs"})
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_json(headers: dict[bytes, bytes]) -> bool:
    media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def check_unicode(body: bytes) -> None:
    """Raise a 422 ``BodyError`` naming every field of a JSON ``body`` that holds a lone surrogate.

    A body that is not valid JSON passes: the route's JSON error names where it breaks.
    """
    if _SURROGATE_ESCAPE.search(body) is None:  # no \uD800-\uDFFF escape: nothing to decode
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return
    issues = surrogate_issues(decoded)
    if issues:
        fields = sorted({i.field for i in issues if i.field})
        where = f" in {', '.join(fields[:10])}" if fields else ""
        raise BodyError(
            f"request body holds text that is not valid Unicode (a lone UTF-16 surrogate){where}", issues
        )


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


CREDENTIAL_IN_URL = (
    "credentials are not accepted in the URL (query parameter {name!r}): send the API key in the "
    "X-API-Key header, or a sign-in token as Authorization: Bearer <token>. A key sent in a URL may be "
    "in logs and browser history: revoke it (attrition keys revoke) and create a new one."
)


def credential_in_query(query: bytes) -> str | None:
    """The first query parameter named like a credential, if any (``None`` for the usual query)."""
    if not query:
        return None
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if is_credential_param(name):
            return name[:64]
    return None


async def _refuse(
    status: int, message: str, scope: Scope, receive: Receive, send: Send, field: str | None = None
) -> None:
    detail = (
        [{"field": field, "expected": "no credentials in the query string", "received": None, "index": None}]
        if field
        else []
    )
    body: dict[str, Any] = {"error": message, "detail": detail, "request_id": scope.get("request_id")}
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
