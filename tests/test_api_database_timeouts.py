"""A database that does not answer must not stall the API: bounded connect timeouts per dialect,
and API-key checks that fall back to a stale cache entry within that bound.

"Does not answer" is a real listener that accepts TCP connections and never says a word (what
a black-holed or wedged server looks like to a client); the engines are real SQLAlchemy engines
with their real drivers (psycopg; pyodbc with the MariaDB ODBC driver).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import sqlalchemy as sa
from api_support import running_api
from conftest_model import ModelEnv

from attrition.config import reset_settings
from attrition.db.engine import create_db_engine
from attrition.keys import create_key

MARIADB_ODBC = "MariaDB Unicode"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in held:  # the clients still waiting get EOF and give up
        conn.close()
    server.close()


def _connect_in_thread(engine: sa.Engine, limit: float) -> tuple[BaseException | None, float]:
    """(what ``engine.connect()`` raised, seconds it took); fails if it is still waiting after ``limit``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        start = time.monotonic()
        try:
            with engine.connect():
                outcome["error"] = None
        except BaseException as error:  # reported to the test
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"connect still waiting after {limit} s"
    return outcome["error"], outcome["seconds"]


_NO_MARIADB_ODBC = pytest.mark.skipif(
    MARIADB_ODBC not in pyodbc.drivers(), reason=f"needs the {MARIADB_ODBC} ODBC driver (odbc-mariadb)"
)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:{port}/test", id="postgresql-psycopg"),
        pytest.param(
            "mysql+pyodbc://root:@127.0.0.1:{port}/test?driver=MariaDB+Unicode&charset=utf8mb4",
            id="mysql-pyodbc",
            marks=_NO_MARIADB_ODBC,
        ),
    ],
)
def test_connecting_to_a_silent_server_fails_within_the_timeout(silent_port: int, url: str) -> None:
    engine = create_db_engine(url.format(port=silent_port), connect_timeout=2)
    error, seconds = _connect_in_thread(engine, limit=20)
    assert isinstance(error, sa.exc.OperationalError), error
    assert 1.5 <= seconds < 8, seconds
    engine.dispose()


# --- what each dialect is given ----------------------------------------------------------------


class _Stop(Exception):
    """Raised instead of connecting: the parameters were captured."""


def _connect_params(engine: sa.Engine) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) SQLAlchemy would pass to the driver's connect(), captured before it is called."""
    captured: dict[str, Any] = {}

    @sa.event.listens_for(engine, "do_connect")
    def capture(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        captured["args"], captured["kwargs"] = list(cargs), dict(cparams)
        raise _Stop

    with pytest.raises(_Stop):
        engine.connect()
    return captured["args"], captured["kwargs"]


def test_postgresql_gets_connect_and_tcp_user_timeouts_unless_the_url_sets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    url = "postgresql+psycopg://app@db.example:5432/attrition"
    engine = create_db_engine(url, connect_timeout=5)
    _, kwargs = _connect_params(engine)
    assert kwargs["connect_timeout"] == 5 and kwargs["tcp_user_timeout"] == 10_000
    assert engine.pool.timeout() == 5  # type: ignore[attr-defined]

    _, kwargs = _connect_params(create_db_engine(url, connect_timeout=0.5))
    assert kwargs["connect_timeout"] == 2  # libpq's minimum; 1 would mean 2 anyway

    _, kwargs = _connect_params(create_db_engine(f"{url}?connect_timeout=17&tcp_user_timeout=60000"))
    assert kwargs["connect_timeout"] == "17" and kwargs["tcp_user_timeout"] == "60000"

    monkeypatch.setenv("PGCONNECT_TIMEOUT", "12")  # libpq reads it: not overridden
    _, kwargs = _connect_params(create_db_engine(url, connect_timeout=5))
    assert "connect_timeout" not in kwargs


def test_mysql_over_odbc_gets_conn_timeout_in_the_connection_string() -> None:
    url = "mysql+pyodbc://root:@db.example:3306/test?driver=MariaDB+Unicode&charset=utf8mb4"
    engine = create_db_engine(url, connect_timeout=4)
    [connection_string], kwargs = _connect_params(engine)
    assert "CONN_TIMEOUT=4" in connection_string and "charset=utf8mb4" in connection_string
    # The port as PORT=: the MariaDB driver ignores "Server=host,port" (and would connect to 3306).
    assert "Server=db.example;" in connection_string and "port=3306" in connection_string
    assert "timeout" not in kwargs and engine.pool.timeout() == 4  # type: ignore[attr-defined]

    [connection_string], _ = _connect_params(create_db_engine(f"{url}&CONN_TIMEOUT=9", connect_timeout=4))
    assert "CONN_TIMEOUT=9" in connection_string and "CONN_TIMEOUT=4" not in connection_string

    raw = (
        "mysql+pyodbc:///?odbc_connect=DRIVER%3D%7BMariaDB+Unicode%7D%3BSERVER%3Ddb.example%3BDATABASE%3Dtest"
    )
    [connection_string], _ = _connect_params(create_db_engine(raw, connect_timeout=4))
    assert connection_string == "DRIVER={MariaDB Unicode};SERVER=db.example;DATABASE=test;CONN_TIMEOUT=4"


def test_sql_server_over_odbc_gets_a_login_timeout_unless_the_url_sets_one() -> None:
    url = "mssql+pyodbc://app:secret@db.example:1433/attrition?driver=ODBC+Driver+18+for+SQL+Server"
    [connection_string], kwargs = _connect_params(create_db_engine(url, connect_timeout=6))
    assert kwargs["timeout"] == 6 and "CONN_TIMEOUT" not in connection_string

    _, kwargs = _connect_params(create_db_engine(f"{url}&LoginTimeout=30", connect_timeout=6))
    assert "timeout" not in kwargs


def test_the_timeout_comes_from_the_settings_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ATTRITION_CONFIG_DIR", str(tmp_path / "no-configs"))
    monkeypatch.setenv("ATTRITION_DATABASE_CONNECT_TIMEOUT_SECONDS", "3")
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    reset_settings()
    try:
        engine = create_db_engine("postgresql+psycopg://app@db.example:5432/attrition")
        _, kwargs = _connect_params(engine)
        assert kwargs["connect_timeout"] == 3 and engine.pool.timeout() == 3  # type: ignore[attr-defined]
    finally:
        reset_settings()
    # SQLite is unchanged: a local file, its own 30 s busy timeout.
    sqlite = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}", connect_timeout=3)
    _, kwargs = _connect_params(sqlite)
    assert kwargs == {"check_same_thread": False, "timeout": 30}


# --- API keys while the database is silent --------------------------------------------------


def test_a_stale_api_key_is_served_within_the_timeout_while_the_database_is_silent(
    champion_env: ModelEnv, silent_port: int
) -> None:
    settings = champion_env.settings.model_copy(update={"database_connect_timeout_seconds": 1.0})
    with running_api(settings) as api:  # api_key_cache_seconds=0: every request asks the database
        never_used = create_key(api.engine, "never-used", "viewer")
        assert api.client.get("/v1/employees/sample", headers=api.headers("viewer")).status_code == 200
        keys = api.ctx.keys
        working = keys.engine
        # An engine with no timeout of its own: only the key check's own bound can stop the wait.
        keys.engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/test")
        try:
            for _ in range(3):
                start = time.monotonic()
                response = api.client.get("/v1/employees/sample", headers=api.headers("viewer"))
                assert response.status_code == 200, response.text  # the stale entry
                assert time.monotonic() - start < 3.0
            assert len(keys._inflight) == 1  # one lookup per key waits on the database, not one per request

            start = time.monotonic()
            unknown = api.client.get("/v1/employees/sample", headers={"X-API-Key": never_used})
            assert unknown.status_code == 503 and "database is unreachable" in unknown.json()["error"]
            assert time.monotonic() - start < 3.0
        finally:
            silent_engine, keys.engine = keys.engine, working
            silent_engine.dispose()
