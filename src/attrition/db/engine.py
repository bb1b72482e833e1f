"""Engine and session factory for the app database (any SQLAlchemy URL).

A server that does not answer (down host, black-holed port, a listener that never
speaks) must not stall the caller: every server engine gets a bounded connect
timeout (``Settings.database_connect_timeout_seconds``, default 5 s) and the same
bound on waiting for a pooled connection. A timeout already given in the URL wins:

* PostgreSQL (psycopg / psycopg2): libpq ``connect_timeout`` (whole seconds, at
  least 2: libpq's own minimum); kept when the URL query or ``PGCONNECT_TIMEOUT``
  sets one. With psycopg also ``tcp_user_timeout`` (twice the connect timeout, at
  least 10 s) so a pooled connection whose server went silent fails instead of
  waiting out TCP's retransmissions (~15 min); a slow query is not affected.
* MySQL / MariaDB over ODBC (``mysql+pyodbc``): the connection-string option
  ``CONN_TIMEOUT`` (the MariaDB driver ignores ODBC's login timeout while it waits
  for the server's greeting). Kept when the URL already has ``CONN_TIMEOUT``.
  (The URL's port also goes in as ``PORT``: the MariaDB driver ignores the
  ``Server=host,port`` form SQLAlchemy writes and would connect to 3306.)
* SQL Server over ODBC (``mssql+pyodbc``): pyodbc's ``timeout`` (ODBC login
  timeout), unless the URL sets ``LoginTimeout`` / ``Connect Timeout``.
* MySQL through pymysql / mysqlclient: ``connect_timeout``.

A connection that can no longer write must not stay in the pool: ``pool_pre_ping``
replaces connections the server dropped (over mysql+pyodbc only because ``handle_error``
applies MySQL's disconnect codes, which SQLAlchemy's pyodbc connector ignores: a ``KILL``ed
connection failed its next use), and ``handle_error`` treats the errors of a
connection that went read-only as a disconnect, so the pool is emptied and the next
checkout connects afresh. (SQLite opens a file it cannot write read-only, silently,
and that connection stays read-only after the file is writable again; a PostgreSQL
standby or a MariaDB server in ``read_only`` refuses writes on the session.)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.mysql.base import MySQLDialect
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

#: Used when neither the caller nor the settings give one.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Seconds sent data may stay unacknowledged before a psycopg connection counts as dead.
_TCP_USER_TIMEOUT_MIN = 10
_ODBC_CONNECT_TIMEOUT_KEYS = {"conn_timeout", "connecttimeout", "connect_timeout"}
_MSSQL_LOGIN_TIMEOUT_KEYS = {"logintimeout", "login timeout", "connect timeout", "connection timeout"}
#: Error texts of a connection that cannot write any more (lower case); the pool drops it.
_STALE_CONNECTION_ERRORS = (
    "attempt to write a readonly database",  # SQLite: opened while the file was read-only
    "unable to open database file",  # SQLite: the journal cannot be created
    "disk i/o error",  # SQLite
    "read-only transaction",  # PostgreSQL: a standby (after a fail-over) or read-only session
    "--read-only option",  # MySQL / MariaDB 1290: the server runs read_only
)


def create_db_engine(url: str, *, connect_timeout: float | None = None) -> sa.Engine:
    """An engine for ``url``; a SQLite file's folder is created first.

    ``connect_timeout``: seconds to wait for a server to accept a connection (and for
    a free pooled connection); default ``Settings.database_connect_timeout_seconds``.
    """
    parsed = make_url(url)
    kwargs: dict[str, object] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        return _invalidating(sa.create_engine(parsed, **kwargs))
    timeout = _connect_timeout() if connect_timeout is None else float(connect_timeout)
    parsed, connect_args = server_timeouts(parsed, timeout)
    kwargs["pool_timeout"] = timeout
    if connect_args:
        kwargs["connect_args"] = connect_args
    return _invalidating(sa.create_engine(parsed, **kwargs))


def _invalidating(engine: sa.Engine) -> sa.Engine:
    """``engine``, treating the errors of a connection that can no longer write as a disconnect."""
    event.listen(engine, "handle_error", _mark_stale)
    return engine


def _mark_stale(context: ExceptionContext) -> None:
    """A disconnect invalidates the pool: connections opened during a read-only spell are dropped."""
    if context.is_disconnect:
        return
    if _odbc_mysql_disconnect(context):
        context.is_disconnect = True
        return
    text = str(context.original_exception).lower()
    if any(marker in text for marker in _STALE_CONNECTION_ERRORS):
        context.is_disconnect = True


def _odbc_mysql_disconnect(context: ExceptionContext) -> bool:
    """A MySQL / MariaDB client error of a lost connection (2006, 2013, ...) over pyodbc.

    SQLAlchemy's mysql+pyodbc dialect asks only the ODBC connector, which knows no MySQL
    error codes: a connection the server killed or dropped was not taken for a disconnect,
    so the pre-ping raised instead of reconnecting and the first use of each dead pooled
    connection failed. MySQL's own dialect test (its list of codes) decides here.
    """
    dialect = context.dialect
    if dialect.driver != "pyodbc" or dialect.name not in ("mysql", "mariadb"):
        return False
    error = context.original_exception
    return isinstance(error, Exception) and MySQLDialect.is_disconnect(dialect, error, None, None)  # type: ignore[arg-type]


def server_timeouts(url: URL, seconds: float) -> tuple[URL, dict[str, object]]:
    """(URL, connect args) bounding how long connecting to the server at ``url`` may take."""
    whole = max(1, math.ceil(seconds))
    backend, driver = url.get_backend_name(), url.get_driver_name()
    query = {key.lower(): value for key, value in url.query.items()}
    if backend == "postgresql" and driver in ("psycopg", "psycopg2"):
        args: dict[str, object] = {}
        if "connect_timeout" not in query and "PGCONNECT_TIMEOUT" not in os.environ:
            args["connect_timeout"] = max(2, whole)
        if driver == "psycopg" and "tcp_user_timeout" not in query:
            args["tcp_user_timeout"] = max(_TCP_USER_TIMEOUT_MIN, 2 * whole) * 1000  # milliseconds
        return url, args
    if driver == "pyodbc":
        if backend in ("mysql", "mariadb"):
            return _odbc_conn_timeout(_odbc_port(url), query, whole), {}
        if backend == "mssql" and not _MSSQL_LOGIN_TIMEOUT_KEYS & set(query):
            odbc = str(query.get("odbc_connect", "")).lower().replace(" ", "")
            if "logintimeout" not in odbc and "connecttimeout" not in odbc:
                return url, {"timeout": whole}
        return url, {}
    if backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
        return url, ({} if "connect_timeout" in query else {"connect_timeout": whole})
    return url, {}


def _odbc_port(url: URL) -> URL:
    """The port as the connection string's ``PORT`` option.

    SQLAlchemy's pyodbc connector writes ``Server=host,port`` (SQL Server's syntax); the
    MariaDB driver ignores the ``,port`` and connects to 3306 instead.
    """
    if url.port is None or any(key.lower() in ("port", "odbc_connect") for key in url.query):
        return url
    return url.update_query_dict({"port": str(url.port)})


def _odbc_conn_timeout(url: URL, query: Mapping[str, object], seconds: int) -> URL:
    """The MariaDB ODBC driver's ``CONN_TIMEOUT``, in the connection string SQLAlchemy builds."""
    if _ODBC_CONNECT_TIMEOUT_KEYS & set(query):
        return url
    raw_key = next((key for key in url.query if key.lower() == "odbc_connect"), None)
    if raw_key is not None:  # a verbatim connection string: append unless it has one
        raw = str(url.query[raw_key])
        if "conn_timeout" in raw.lower():
            return url
        return url.update_query_dict({raw_key: f"{raw.rstrip(';')};CONN_TIMEOUT={seconds}"})
    return url.update_query_dict({"CONN_TIMEOUT": str(seconds)})


def _connect_timeout() -> float:
    from attrition.config import get_settings

    return float(get_settings().database_connect_timeout_seconds)


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> sa.Engine:
    """One engine per URL per process (default: the settings' database)."""
    if url is None:
        from attrition.config import get_settings

        url = get_settings().db_url
    return create_db_engine(url)


def refresh_statistics(engine: sa.Engine, table: str) -> None:
    """After a bulk load, update PostgreSQL's planner statistics of ``table``; other backends: nothing.

    Until autovacuum reaches a freshly loaded table the planner takes it for almost empty
    and picks nested loops: the employee list took 232 s at 50,000 employees x 2
    snapshots right after loading. A failure is logged; the load itself stands.
    """
    if engine.dialect.name != "postgresql":
        return
    name = engine.dialect.identifier_preparer.quote(table)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"ANALYZE {name}"))
    except sa.exc.SQLAlchemyError as exc:
        logger.warning("statistics of %s not refreshed: %s", table, type(exc).__name__)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
