"""Shared fixtures: real databases, an isolated data directory per test.

PostgreSQL and MariaDB (over pyodbc) join the ``db_url`` fixture when
``ATTRITION_TEST_POSTGRES_URL`` / ``ATTRITION_TEST_MARIADB_URL`` are set
(``.ci/run`` and ``make test`` set them when the servers answer). Each gets a
database of its own for the test session, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from attrition.config import Settings, get_settings, reset_settings
from attrition.db.engine import create_db_engine, get_engine
from attrition.db.migrate import upgrade
from attrition.db.models import Base

#: A trained champion per session and private copies of it (tests/conftest_model.py).
pytest_plugins = ("conftest_model", "conftest_ui")

SERVER_URL_VARS = {"postgresql": "ATTRITION_TEST_POSTGRES_URL", "mariadb": "ATTRITION_TEST_MARIADB_URL"}


def _server_params() -> list[str]:
    return ["sqlite"] + [name for name, var in SERVER_URL_VARS.items() if os.environ.get(var)]


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, str]]:
    """A throw-away database on each configured server, dropped at the end."""
    created: dict[str, str] = {}
    admins: list[tuple[sa.Engine, str]] = []
    for name, var in SERVER_URL_VARS.items():
        url = os.environ.get(var)
        if not url:
            continue
        db_name = f"attrition_t_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {db_name}"))
        admins.append((admin, db_name))
        created[name] = make_url(url).set(database=db_name).render_as_string(hide_password=False)
    yield created
    get_engine.cache_clear()
    for admin, db_name in admins:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db_name}"))
        admin.dispose()


@pytest.fixture(params=_server_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path, server_databases: dict[str, str]) -> Iterator[str]:
    """A migrated, empty app database: SQLite always, servers when configured."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = server_databases[request.param]
    upgrade(url)
    yield url
    get_engine.cache_clear()
    if request.param != "sqlite":
        engine = create_db_engine(url)
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database only (for tests that are not about the backend)."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[Settings]:
    """Settings pointing the whole system at a temp dir (SQLite app DB, local MLflow)."""
    monkeypatch.setenv("ATTRITION_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ATTRITION_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ATTRITION_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("ATTRITION_REFERENCE_DIR", str(tmp_path / "reference_data"))
    monkeypatch.delenv("ATTRITION_MLFLOW_TRACKING_URI", raising=False)
    reset_settings()
    get_engine.cache_clear()
    yield get_settings()
    reset_settings()
    get_engine.cache_clear()
