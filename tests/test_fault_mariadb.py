"""MariaDB killing the API's connections under load: the live API loses no answered prediction.

``KILL <id>`` of every connection to this test's own database (information_schema.processlist),
repeatedly while a client thread posts predictions: what a server restart, a fail-over or an
operator's kill does to the pool. The shared server's other sessions are never touched.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv
from fault_support import Load, fresh_database, live_api, time_bound, wait_stored

from attrition.db.engine import create_db_engine
from attrition.keys import create_key

MARIADB = os.environ.get("ATTRITION_TEST_MARIADB_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not MARIADB, reason="needs ATTRITION_TEST_MARIADB_URL"),
]
KILL_ROUNDS = 12


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(150):
        yield


@pytest.fixture
def maria_url() -> Iterator[tuple[sa.Engine, str, str]]:
    """(admin engine, database name, URL) of a fresh migrated MariaDB database (dropped after)."""
    assert MARIADB
    with fresh_database(MARIADB, "attrition_fault") as database:
        yield database


def _kill_connections(admin: sa.Engine, database: str) -> int:
    """KILL every connection using ``database`` but this one; how many were killed."""
    killed = 0
    with admin.connect() as conn:
        ids = conn.execute(
            sa.text("SELECT id FROM information_schema.processlist WHERE db = :db AND id <> CONNECTION_ID()"),
            {"db": database},
        ).scalars()
        for connection_id in list(ids):
            try:
                conn.execute(sa.text(f"KILL {int(connection_id)}"))
                killed += 1
            except sa.exc.DBAPIError:  # it ended on its own meanwhile
                pass
    return killed


def test_a_killed_pooled_connection_is_replaced_at_checkout(maria_url: tuple[sa.Engine, str, str]) -> None:
    """Lost if it failed: the first operation on each pooled connection MariaDB killed (a key
    lookup, a log write, a /ready probe) fails instead of reconnecting: SQLAlchemy's mysql+pyodbc
    dialect does not take "Lost connection to server (2013)" for a disconnect."""
    admin, database, url = maria_url
    engine = create_db_engine(url)
    with engine.connect() as conn:  # one connection in the pool
        conn.execute(sa.text("SELECT 1"))
    assert _kill_connections(admin, database) >= 1
    with engine.connect() as conn:  # the pre-ping finds it dead and connects afresh
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_mariadb_connections_killed_mid_load_lose_no_answered_prediction(
    champion_env: ModelEnv,
    maria_url: tuple[sa.Engine, str, str],
    tmp_path: Path,
) -> None:
    """Lost if it failed: predictions whose batch was being written when its connection was
    killed (or that were stored twice by the retry), and any prediction answered 5xx."""
    admin, database, url = maria_url
    direct = create_db_engine(url)
    key = create_key(direct, "fault-load", "predictor")
    settings = champion_env.settings.model_copy(update={"database_url": url})
    with live_api(settings, tmp_path) as api:
        assert httpx.get(f"{api.base}/ready", timeout=10).status_code == 200, api.tail()
        load = Load(api.base, key).start()
        killed = 0
        try:
            load.wait_answered(20)
            for _ in range(KILL_ROUNDS):
                killed += _kill_connections(admin, database)
                time.sleep(0.25)
            load.wait_answered(len(load.answered) + 30)
        finally:
            load.stop()
        answered = load.answered
        stored = wait_stored(direct, len(answered))
        ready = httpx.get(f"{api.base}/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    assert killed >= KILL_ROUNDS // 2  # the app's connections, round after round
    statuses = Counter(status for status, _, _ in load.answers)
    assert statuses == {200: len(load.answers)}, [a for a in load.answers if a[0] != 200][:5]
    assert len(stored) == len(answered) and set(stored) == set(answered)  # each one exactly once
    direct.dispose()
