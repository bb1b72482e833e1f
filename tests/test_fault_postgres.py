"""PostgreSQL stopped and restarted under load: the live API loses no answered prediction.

The API process (real uvicorn) reaches the shared server through a loopback proxy
(tests/tcp_proxy.py); cutting the proxy is, for the API, the server stopping (every open
connection reset, new ones refused), restoring it the server coming back. The shared
server itself is never touched but for this test's own database.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest_model import ModelEnv
from fault_support import Load, fresh_database, live_api, time_bound, wait_stored
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from attrition.db.engine import create_db_engine
from attrition.keys import create_key

POSTGRES = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES, reason="needs ATTRITION_TEST_POSTGRES_URL"),
]
CUT_SECONDS = 4.0


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(150):
        yield


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh migrated PostgreSQL database of this test's own (dropped after)."""
    assert POSTGRES
    with fresh_database(POSTGRES, "attrition_fault") as (_, _, url):
        yield url


def _ready(base: str) -> tuple[int, str, bool]:
    """(/ready status code, its status, database check ok)."""
    body = httpx.get(f"{base}/ready", timeout=10)
    data = body.json()
    return body.status_code, data["status"], bool(data["checks"]["database"]["ok"])


def test_postgresql_stopped_mid_load_loses_no_answered_prediction(
    champion_env: ModelEnv, pg_url: str, tmp_path: Path
) -> None:
    """Lost if it failed: the predictions answered while PostgreSQL was away (or in flight when it
    went), or some stored twice after a retry; /ready saying ready while no write could succeed."""
    direct = create_db_engine(pg_url)
    key = create_key(direct, "fault-load", "predictor")
    target = make_url(pg_url)
    with TcpProxy((target.host or "127.0.0.1", target.port or 5432)) as proxy:
        through = target.set(port=proxy.port).render_as_string(hide_password=False)
        settings = champion_env.settings.model_copy(update={"database_url": through})
        with live_api(settings, tmp_path) as api:
            assert _ready(api.base) == (200, "ready", True), api.tail()
            load = Load(api.base, key).start()
            try:
                load.wait_answered(30)
                proxy.cut()  # "PostgreSQL stopped"
                cut_at, during = time.monotonic(), []
                while time.monotonic() - cut_at < CUT_SECONDS:
                    during.append(_ready(api.base))
                    time.sleep(0.3)
                answered_while_cut = len(load.answered)
                proxy.restore()  # "PostgreSQL restarted"
                deadline, after = time.monotonic() + 30, _ready(api.base)
                while after != (200, "ready", True) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    after = _ready(api.base)
                load.wait_answered(len(load.answered) + 30)
            finally:
                load.stop()
            answered = load.answered
            stored = wait_stored(direct, len(answered))
            assert after == (200, "ready", True), api.tail()
    statuses = Counter(status for status, _, _ in load.answers)
    assert statuses == {200: len(load.answers)}, [a for a in load.answers if a[0] != 200][:5]
    # /ready said not ready (503, the database check failing) from the first probe after the cut on.
    assert during and all(probe == (503, "not_ready", False) for probe in during[1:]), during
    assert answered_while_cut > 30  # predictions went on while the database was away
    assert len(stored) == len(answered) and set(stored) == set(answered)  # each one exactly once
    direct.dispose()
