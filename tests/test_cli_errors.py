"""A database error reaches the user as one line: the database and the driver's error, never a row's values.

Real failures on real databases: a trigger (SQLite) or a CHECK constraint (PostgreSQL,
MariaDB) refuses every insert, and the ``attrition`` console script runs in a subprocess.
SQLAlchemy's own message carries the statement and its parameters (employee attributes,
the predictions' inputs JSON); none of it may reach stdout or stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv

from attrition.data.generator import generate_workforce
from attrition.data.ingest import ingest_csv
from attrition.db.engine import create_db_engine, get_engine
from attrition.errors import database_error, short_error

ATTRITION = str(Path(sys.executable).with_name("attrition"))
ROWS = 50


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATTRITION, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env, check=False
    )


def _env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATTRITION_")}
    return (
        base
        | {
            "ATTRITION_DATA_DIR": str(tmp_path / "var"),
            "ATTRITION_DATABASE_URL": db_url,
            "ATTRITION_REPORTS_DIR": str(tmp_path / "reports"),
            "ATTRITION_REFERENCE_DIR": str(tmp_path / "reference_data"),
            "ATTRITION_CONFIG_DIR": str(tmp_path / "no-configs"),
        }
        | extra
    )


def _block_inserts(engine: sa.Engine, table: str) -> None:
    """Make the database refuse every new row of ``table`` (a real driver error on insert)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER block_{table} BEFORE INSERT ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            column = '"MonthlyIncome"' if engine.dialect.name == "postgresql" else "MonthlyIncome"
            check = f"{column} < 0" if table == "employees" else "probability > 2"
            conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT ck_block_{table} CHECK ({check})"))


def _values(frame: pd.DataFrame) -> set[str]:
    """Distinctive attribute values of the file: text categories and four-digit-plus numbers."""
    values = {str(v) for c in frame.select_dtypes(exclude="number").columns for v in frame[c].unique()}
    values |= {str(v) for v in frame["MonthlyIncome"].unique()}
    return {v for v in values if len(v) >= 4 and v not in {"Yes", "No"}}


def _assert_private(done: subprocess.CompletedProcess[str], values: set[str]) -> None:
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "[parameters" not in output and "INSERT INTO" not in output.upper()
    leaked = sorted(v for v in values if v in output)
    assert not leaked, f"employee attributes in the output: {leaked[:5]}\n{output}"


@pytest.fixture
def workforce_csv(tmp_path: Path) -> Iterator[tuple[Path, pd.DataFrame]]:
    frame = generate_workforce(ROWS, seed=21)
    path = tmp_path / "workforce.csv"
    frame.to_csv(path, index=False)
    yield path, frame


def test_the_shared_helper_names_the_driver_error_without_the_rows(
    db_url: str, workforce_csv: tuple[Path, pd.DataFrame]
) -> None:
    path, frame = workforce_csv
    engine = create_db_engine(db_url)
    _block_inserts(engine, "employees")
    with pytest.raises(sa.exc.SQLAlchemyError) as caught:
        ingest_csv(path, engine)
    engine.dispose()
    assert "[parameters" in str(caught.value)  # what SQLAlchemy would have shown
    line = database_error(caught.value, db_url, "storing the rows")
    assert "\n" not in line and line.startswith("storing the rows failed on ")
    assert ("IntegrityError" in line or "CheckViolation" in line) and "[SQL" not in line
    assert not {v for v in _values(frame) if v in line}, line
    assert short_error(caught.value) in line


def test_a_password_in_the_database_url_is_hidden() -> None:
    error = sa.exc.OperationalError("SELECT 1", {"x": "Sales Executive"}, Exception("connection refused"))
    line = database_error(error, "postgresql+psycopg://app:s3cret@db:5432/app", "reading")
    assert "s3cret" not in line and "app:***@db:5432/app" in line and "Sales Executive" not in line
    assert line.endswith("builtins.Exception: connection refused") or "Exception: connection refused" in line


@pytest.mark.parametrize(
    ("message", "hidden"),
    [
        ("Duplicate entry '1042-2026-10-31' for key 'uq_employees_number_snapshot'", "1042-2026-10-31"),
        ('invalid input syntax for type integer: "Sales Executive"', "Sales Executive"),
        ("Key (EmployeeNumber, snapshot_date)=(1042, 2026-10-31) already exists.", "1042"),
        ("Incorrect integer value: 'Travel_Rarely' for column 'Age' at row 1", "Travel_Rarely"),
    ],
)
def test_values_a_driver_quotes_in_its_message_are_blanked(message: str, hidden: str) -> None:
    error = sa.exc.DataError("INSERT ...", {"v": hidden}, Exception(message))
    line = short_error(error)
    assert hidden not in line and line.startswith("Exception: ")


def test_ingest_reports_a_database_error_in_one_line_without_the_rows(
    db_url: str, workforce_csv: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    path, frame = workforce_csv
    engine = create_db_engine(db_url)
    _block_inserts(engine, "employees")
    engine.dispose()
    done = _run("ingest", str(path), env=_env(tmp_path, db_url), cwd=tmp_path)
    assert done.returncode == 2, done.stderr  # "2: nothing ingested"
    _assert_private(done, _values(frame))
    assert "database error" in done.stderr and "failed on" in done.stderr


def test_score_reports_a_database_error_in_one_line_without_the_inputs(
    champion_env: ModelEnv, tmp_path: Path
) -> None:
    settings = champion_env.settings
    engine = create_db_engine(settings.db_url)
    _block_inserts(engine, "predictions")
    engine.dispose()
    env = _env(
        tmp_path,
        settings.db_url,
        ATTRITION_MLFLOW_TRACKING_URI=settings.tracking_uri,
        ATTRITION_MLFLOW_ARTIFACT_ROOT=settings.artifact_root,
    )
    done = _run("score", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr  # "2 when nothing could be scored"
    _assert_private(done, _values(champion_env.employees))
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "scoring failed on sqlite:///" in errors[0] and "sqlite3.IntegrityError" in errors[0]
    get_engine.cache_clear()


def test_a_database_error_no_job_reports_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`train` on a database without the schema: the console script's last net, not a traceback."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    done = _run("train", "--trials", "1", env=_env(tmp_path, url), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("database error: the command failed on sqlite:///"), done.stderr
    assert "no such table: employees" in lines[-1] and "Traceback" not in done.stderr
    assert "[SQL" not in done.stderr
