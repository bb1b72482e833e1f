"""The Alembic migrations build exactly the tables the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from attrition.db.engine import create_db_engine
from attrition.db.migrate import current, downgrade, upgrade
from attrition.db.models import Base


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


def test_tables_compile_for_sql_server() -> None:
    """SQL Server / Azure SQL (mssql+pyodbc) gets the same tables: every string has a length."""
    from sqlalchemy.dialects import mssql
    from sqlalchemy.schema import CreateTable

    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=mssql.dialect()))
        assert "VARCHAR(max)" not in ddl.replace("NVARCHAR(max)", ""), table.name
        assert "VARCHAR," not in ddl and "VARCHAR\n" not in ddl, table.name
