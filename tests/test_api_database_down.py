"""App database down (a PostgreSQL database renamed away): predictions go on, and are logged when it returns."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from api_support import running_api, wait_for
from conftest_model import ModelEnv
from fault_support import fresh_database

from api.schemas import EXAMPLE_REQUEST
from attrition.db.repositories import query_predictions
from attrition.schema import ID_COLUMN

POSTGRES = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not POSTGRES, reason="needs ATTRITION_TEST_POSTGRES_URL")


@pytest.fixture
def pg_database() -> Iterator[tuple[sa.Engine, str, str]]:
    """(admin engine, database name, URL) of a fresh migrated PostgreSQL database."""
    assert POSTGRES
    with fresh_database(POSTGRES, "attrition_down") as database:
        yield database


def _rename(admin: sa.Engine, old: str, new: str) -> None:
    """Rename a database, kicking its sessions (the app reconnects at once, so retry)."""
    for _ in range(50):
        with admin.connect() as conn:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                {"db": old},
            )
            try:
                conn.execute(sa.text(f"ALTER DATABASE {old} RENAME TO {new}"))
                return
            except sa.exc.OperationalError:
                time.sleep(0.05)
    raise AssertionError(f"could not rename database {old}")


def test_predictions_continue_while_the_database_is_down_and_are_logged_after(
    champion_env: ModelEnv, pg_database: tuple[sa.Engine, str, str]
) -> None:
    admin, name, url = pg_database
    settings = champion_env.settings.model_copy(update={"database_url": url})
    with running_api(settings, api_key_cache_seconds=0.3) as api:
        headers = api.headers()
        first = api.client.post("/v1/predict", json=EXAMPLE_REQUEST, headers=headers)
        assert first.status_code == 200
        assert api.ctx.log.flush()

        _rename(admin, name, f"{name}_away")
        try:
            time.sleep(0.4)  # past the key cache: the key is verified from the stale entry now
            during = [
                api.client.post("/v1/predict", json={**EXAMPLE_REQUEST, ID_COLUMN: 100 + n}, headers=headers)
                for n in range(5)
            ]
            assert [r.status_code for r in during] == [200] * 5
            assert wait_for(lambda: not api.ctx.log.stats.db_available)
            assert api.ctx.log.depth == 5

            ready = api.client.get("/ready")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert (
                checks["model"]["ok"] and not checks["database"]["ok"] and not checks["prediction_log"]["ok"]
            )
            assert "unreachable" in checks["database"]["detail"]
            listing = api.client.get("/v1/predictions", headers=api.headers("viewer"))
            assert listing.status_code == 503 and "database is unreachable" in listing.json()["error"]
            assert "attrition_api_prediction_log_db_up 0.0" in api.client.get("/metrics").text
        finally:
            _rename(admin, f"{name}_away", name)

        assert api.ctx.log.flush(timeout=30)
        rows, total = query_predictions(api.engine, limit=100)
        assert total == 6
        assert {r["prediction_id"] for r in rows} == {first.json()["prediction_id"]} | {
            r.json()["prediction_id"] for r in during
        }
        assert {r["model_version"] for r in rows} == {"1"}
        assert api.client.get("/ready").status_code == 200
