"""Shared pieces of the routers: documented error responses, DB-error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from api.errors import ApiError
from api.schemas import ErrorResponse


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the listed error statuses (all ``ErrorResponse``)."""
    text = {
        401: "Missing, invalid or revoked API key or sign-in token",
        403: "The key's role does not allow this endpoint",
        404: "Not found",
        413: "Request body over the size limit",
        415: "Body is not application/json",
        422: "Invalid request: every problem with field, expected and received",
        429: "Rate limit exceeded (see Retry-After)",
        503: "No model loaded, or the app database is unreachable",
    }
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


AUTH_ERRORS = (401, 403, 429)
BODY_ERRORS = (413, 415, 422)


@contextmanager
def database(action: str) -> Iterator[None]:
    """Turn a database failure into a 503 that says what could not be done."""
    try:
        yield
    except sa.exc.SQLAlchemyError:
        raise ApiError(503, f"the app database is unreachable; could not {action}. Retry shortly.") from None
