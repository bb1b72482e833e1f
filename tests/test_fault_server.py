"""A server database that turns read-only (a fail-over to a standby) and back, on PostgreSQL.

``default_transaction_read_only`` on the test's own database plus pg_terminate_backend of its
own sessions: the API reconnects to a database that refuses writes, as after a fail-over to a
standby, and the sessions opened then stay read-only after the database is writable again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from api_support import Api, running_api
from fault_support import count, time_bound
from sqlalchemy.engine import make_url

from attrition.config import Settings

pytestmark = pytest.mark.integration
OUTCOME = {"left": False, "outcome_date": "2026-03-31"}


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(120):
        yield


def test_ready_probe_writes_on_every_backend(empty_env: Settings, db_url: str) -> None:
    with running_api(empty_env.model_copy(update={"database_url": db_url})) as api:
        check = api.client.get("/ready").json()["checks"]["database"]
        assert check == {"ok": True, "detail": "app database reachable and writable"}
        assert count(api.engine, "data_versions") == 1  # the probe row was rolled back


def _read_only(admin: sa.Engine, database: str, on: bool) -> None:
    with admin.connect() as conn:
        conn.execute(
            sa.text(f"ALTER DATABASE {database} SET default_transaction_read_only = {'on' if on else 'off'}")
        )


def _kick(admin: sa.Engine, database: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )


def _feedback(api: Api) -> int:
    body = {"employee_number": 7, **OUTCOME}
    return api.client.post("/v1/feedback", json=body, headers=api.headers()).status_code


def test_postgresql_read_only_spell_is_reported_and_heals(empty_env: Settings, db_url: str) -> None:
    """Lost if it failed: every write (feedback, the prediction log) after the database became
    writable again, on the sessions opened while it was read-only; /ready saying ready meanwhile."""
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("read-only sessions are set per database on PostgreSQL only")
    server = os.environ["ATTRITION_TEST_POSTGRES_URL"]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    database = str(make_url(db_url).database)
    with running_api(empty_env.model_copy(update={"database_url": db_url})) as api:
        with api.engine.begin() as conn:  # employee 7 is known: a logged prediction
            conn.execute(
                sa.text(
                    "INSERT INTO predictions (prediction_id, created_at, employee_number, model_name, "
                    "model_version, probability, threshold, label, risk_band, inputs, source) VALUES "
                    "('p7', now(), 7, 'm', '1', 0.5, 0.5, false, 'low', '{}', 'api')"
                )
            )
        _read_only(admin, database, True)
        try:
            _kick(admin, database)
            answers = [api.client.get("/ready") for _ in range(2)]  # no model either: 503 anyway
            check = answers[-1].json()["checks"]["database"]
            assert not check["ok"] and "refuses writes" in check["detail"]
            assert "read-only transaction" in check["detail"]
            assert [_feedback(api) for _ in range(3)] == [503] * 3
        finally:
            _read_only(admin, database, False)
        # The pooled sessions are still read-only: the first write on one drops the pool.
        ready = [api.client.get("/ready").json()["checks"]["database"]["ok"] for _ in range(3)]
        assert ready[1:] == [True, True]
        assert [_feedback(api) for _ in range(3)] == [201] * 3
        assert count(api.engine, "outcomes") == 3
        assert count(api.engine, "audit_log", "WHERE action = 'feedback'") == 3
    admin.dispose()
