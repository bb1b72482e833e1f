"""The Alembic migrations build exactly the tables the models describe, on every backend; ``db upgrade REV``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import reset_settings
from attrition.db.engine import create_db_engine, get_engine
from attrition.db.migrate import MigrationError, current, downgrade, migrate, upgrade
from attrition.db.models import Base

HEAD = "0008"


def test_migrated_schema_matches_models(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
    assert current(db_url) is not None


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    downgrade(db_url, "base")
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) is not None


def test_users_migration_goes_down_to_0001_and_up_again(db_url: str) -> None:
    """0002 adds only the users table: down to 0001 drops it (api_keys kept), up creates it again."""
    assert current(db_url) == HEAD and "users" in _tables(db_url)
    downgrade(db_url, "0001")
    assert current(db_url) == "0001"
    assert _tables(db_url) == set(Base.metadata.tables) - {"users", "latest_scores", "data_versions"}
    upgrade(db_url, "0002")
    assert current(db_url) == "0002" and _tables(db_url) == set(Base.metadata.tables) - {
        "latest_scores",
        "data_versions",
    }
    engine = create_db_engine(db_url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("users")}
    engine.dispose()
    assert {"name", "role", "password_hash", "token_version", "locked_until"} <= columns
    upgrade(db_url)
    assert current(db_url) == HEAD and _tables(db_url) == set(Base.metadata.tables)


def test_latest_scores_migration_goes_down_to_0002_and_up_again(db_url: str) -> None:
    """0003 adds only latest_scores, keyed by (snapshot_date, employee_number)."""
    downgrade(db_url, "0002")
    assert current(db_url) == "0002"
    assert _tables(db_url) == set(Base.metadata.tables) - {"latest_scores", "data_versions"}
    upgrade(db_url)
    assert current(db_url) == HEAD and _tables(db_url) == set(Base.metadata.tables)
    engine = create_db_engine(db_url)
    key = sa.inspect(engine).get_pk_constraint("latest_scores")["constrained_columns"]
    engine.dispose()
    assert key == ["snapshot_date", "employee_number"]


def test_tables_compile_for_sql_server() -> None:
    """SQL Server / Azure SQL (mssql+pyodbc) gets the same tables: every string has a length."""
    from sqlalchemy.dialects import mssql
    from sqlalchemy.schema import CreateTable

    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=mssql.dialect()))
        assert "VARCHAR(max)" not in ddl.replace("NVARCHAR(max)", ""), table.name
        assert "VARCHAR," not in ddl and "VARCHAR\n" not in ddl, table.name


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``db_url`` as the database the CLI's settings point at."""
    monkeypatch.setenv("ATTRITION_DATABASE_URL", db_url)
    reset_settings()
    get_engine.cache_clear()
    yield db_url
    reset_settings()
    get_engine.cache_clear()


def _tables(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_cli_db_upgrade_goes_down_and_up_to_the_revision_asked(cli_db: str) -> None:
    runner = CliRunner()
    head = current(cli_db)
    assert head is not None and _tables(cli_db) == set(Base.metadata.tables)

    down = runner.invoke(app, ["db", "upgrade", "base"])
    assert down.exit_code == 0, down.output
    assert down.output.strip().endswith("is at revision base")
    assert current(cli_db) is None and _tables(cli_db) == set()

    again = runner.invoke(app, ["db", "upgrade", "base"])  # already there: nothing to do
    assert again.exit_code == 0 and current(cli_db) is None

    by_id = runner.invoke(app, ["db", "upgrade", head])
    assert by_id.exit_code == 0, by_id.output
    assert by_id.output.strip().endswith(f"is at revision {head}")
    assert current(cli_db) == head and _tables(cli_db) == set(Base.metadata.tables)

    default = runner.invoke(app, ["db", "upgrade"])
    assert default.exit_code == 0 and default.output.strip().endswith(f"is at revision {head}")


@pytest.mark.parametrize("revision", ["0999", "nope", " "])
def test_cli_db_upgrade_to_an_unknown_revision_is_a_clear_error(cli_db: str, revision: str) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", revision])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert (
        f"error: unknown revision {revision!r}: expected head, base or one of 0008, 0007, 0006, 0005, 0004, 0003, 0002, 0001"
        in result.output
    )
    assert current(cli_db) == HEAD  # untouched


def test_a_database_at_a_revision_the_migrations_do_not_know_is_left_alone(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    with pytest.raises(MigrationError, match="revision 'f00d', which these migrations do not know"):
        migrate(sqlite_url, "base")
    assert current(sqlite_url) == "f00d"


def test_cli_db_upgrade_prints_one_line_without_alembic_chatter(tmp_path: Path) -> None:
    env = {**os.environ, "ATTRITION_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "attrition.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip().endswith(f"is at revision {HEAD}")
    assert "alembic" not in done.stderr, done.stderr


def test_data_versions_migration_starts_the_workforce_counter(db_url: str) -> None:
    """0004 adds data_versions with the workforce row; down to 0003 drops only that table."""
    from attrition.db import data_versions

    engine = create_db_engine(db_url)
    assert data_versions.read(engine) >= 1
    downgrade(db_url, "0003")
    assert _tables(db_url) == set(Base.metadata.tables) - {"data_versions"}
    upgrade(db_url)
    assert data_versions.read(engine) == 1
    engine.dispose()
