"""One-line error messages that are safe to print, log and store: no traceback, no personal data.

A SQLAlchemy error's own text carries the SQL statement and its parameters (employee
attributes); drivers quote row values in their messages. These helpers keep the error's
kind and first line and blank the values, so the CLI, the jobs and the drift records can
say what failed without repeating a record.
"""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

#: Quoted literals a driver puts in its message after ``: ``, ``entry`` or ``value``, and PostgreSQL's
#: ``(column)=(value)`` / ``Failing row contains (...)``: row values, never shown.
_VALUES = (
    (re.compile(r"((?::|\bentry|\bvalue)\s*)(['\"]).*?\2"), r"\1\2...\2"),
    (re.compile(r"(\([^()]*\)=)\([^()]*\)"), r"\1(...)"),
    (re.compile(r"(Failing row contains )\(.*\)"), r"\1(...)"),
)


def short_error(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for records and notes (never a traceback).

    A SQLAlchemy error is named by its driver's error and that error's first line with
    quoted values blanked: SQLAlchemy's own text carries the statement and its parameters,
    which are employee attributes.
    """
    if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:
        orig = exc.orig
        kind = f"{type(orig).__module__}.{type(orig).__name__}".removeprefix("builtins.")
        return f"{kind}: {_first_line(orig)}".rstrip(": ")
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return f"{type(exc).__name__}: {_first_line(exc)}".rstrip(": ")
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500] if text else ''}".rstrip(": ")


def _first_line(exc: BaseException) -> str:
    """The first line of a database error's message (SQLAlchemy's ``[SQL: ...]`` cut), values blanked."""
    lines = str(exc).strip().splitlines()
    text = lines[0].split("[SQL:")[0].split("[parameters:")[0].strip() if lines else ""
    for pattern, blank in _VALUES:
        text = pattern.sub(blank, text)
    return text[:300]


def database_error(exc: BaseException, url: str, doing: str) -> str:
    """One line for a failed database step: what failed, where (password hidden), the driver's error."""
    where = make_url(url).render_as_string(hide_password=True)
    return f"{doing} failed on {where}: {short_error(exc)}"
