"""The compose deployment's least-privilege database user, on the local PostgreSQL server.

``deploy/postgres/init-databases.sh`` creates the app database with its owner (the bootstrap
runs the migrations as it) and a runtime role the API and the drift service use: it may
read and write rows, and may not create, alter or drop anything. This runs the script with
this test's names, migrates as the owner, then does as the runtime role what the services
and the maintenance commands do at run time: if a run-time path needed DDL (a table created
on the fly, a migration run at start-up), it would fail here instead of in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from api_support import running_api
from conftest_model import SNAPSHOT, ModelEnv
from sqlalchemy.engine import make_url
from stack_support import RUNTIME_SUFFIX, database_names, drop_databases, init_databases

from api.schemas import EXAMPLE_REQUEST
from attrition.db.engine import get_engine
from attrition.db.migrate import upgrade
from attrition.db.repositories import insert_employees
from attrition.jobs.privacy import PurgeRequest, forget_employee, purge
from attrition.schema import ID_COLUMN

POSTGRES = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not POSTGRES, reason="needs ATTRITION_TEST_POSTGRES_URL"),
]
PASSWORDS = {"APP_DB_PASSWORD": "owner-pw-1", "APP_RUNTIME_DB_PASSWORD": "runtime-pw-1"}


@pytest.fixture
def app_urls() -> Iterator[tuple[str, str]]:
    """(owner URL, runtime URL) of a fresh app database made by init-databases.sh, migrated by its owner."""
    assert POSTGRES
    suffix = uuid.uuid4().hex[:8]
    names = {var: f"{default}_role_{suffix}" for default, (var, _) in database_names().items()}
    name = names["APP_DB_NAME"]
    env = {"POSTGRES_USER": make_url(POSTGRES).username or "postgres", **PASSWORDS}
    env |= {"MLFLOW_DB_PASSWORD": "m", "OPTUNA_DB_PASSWORD": "o"}
    created = [*names.values(), f"{name}{RUNTIME_SUFFIX}"]
    try:
        init_databases(env, POSTGRES, names)
        server = make_url(POSTGRES)
        owner = server.set(username=name, password=PASSWORDS["APP_DB_PASSWORD"], database=name)
        runtime = owner.set(username=f"{name}{RUNTIME_SUFFIX}", password=PASSWORDS["APP_RUNTIME_DB_PASSWORD"])
        owner_url = owner.render_as_string(hide_password=False)
        upgrade(owner_url)
        yield owner_url, runtime.render_as_string(hide_password=False)
    finally:
        get_engine.cache_clear()
        drop_databases(POSTGRES, created)


def test_the_runtime_role_cannot_change_the_schema(app_urls: tuple[str, str]) -> None:
    engine = sa.create_engine(app_urls[1])
    try:
        with engine.connect() as conn:
            for ddl in (
                "CREATE TABLE intruder (x int)",
                "DROP TABLE predictions",
                "ALTER TABLE audit_log DROP COLUMN actor",
                "TRUNCATE audit_log",
            ):
                with pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"):
                    conn.execute(sa.text(ddl))
                conn.rollback()
            assert conn.execute(sa.text("SELECT COUNT(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.slow
def test_what_the_services_do_at_run_time_needs_rows_only(
    champion_env: ModelEnv, app_urls: tuple[str, str]
) -> None:
    """Predictions (logged in bulk), feedback, keys, readiness, purge and forget, all as the runtime role."""
    runtime = app_urls[1]
    settings = champion_env.settings.model_copy(update={"database_url": runtime})
    insert_employees(get_engine(runtime), champion_env.employees, "test")
    employee = int(champion_env.employees[ID_COLUMN].iloc[0])
    with running_api(settings) as api:
        assert api.client.get("/ready").status_code == 200  # the write probe passes
        answered = [
            api.client.post(
                "/v1/predict", json={**EXAMPLE_REQUEST, ID_COLUMN: employee}, headers=api.headers()
            )
            for _ in range(3)
        ]
        assert [r.status_code for r in answered] == [200] * 3
        batch = {"records": [{**EXAMPLE_REQUEST, ID_COLUMN: 5000 + n} for n in range(50)]}
        assert api.client.post("/v1/predict/batch", json=batch, headers=api.headers()).status_code == 200
        assert api.ctx.log.flush(timeout=30)
        feedback = {"employee_number": employee, "left": True, "outcome_date": str(SNAPSHOT)}
        assert api.client.post("/v1/feedback", json=feedback, headers=api.headers()).status_code == 201
        key = api.client.post(
            "/v1/admin/keys", headers=api.headers("admin"), json={"name": "hris", "role": "viewer"}
        )
        assert key.status_code == 201
    engine = get_engine(runtime)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one() == 53
    assert purge(settings, PurgeRequest(older_than_days=1, actor="test")).exit_code == 0
    forgotten = forget_employee(settings, employee, actor="test")
    assert forgotten.exit_code == 0, forgotten.error
    with engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT COUNT(*) FROM predictions WHERE employee_number = :n"), {"n": employee}
        )
        assert left.scalar_one() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one() == 50
