"""``attrition bootstrap``: a fresh stack's one-shot brings an empty system to a scored champion,
and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest_model import make_settings
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import CHAMPION, Settings, reset_settings
from attrition.db.engine import get_engine
from attrition.jobs.bootstrap import ADMIN_PASSWORD_ENV, BootstrapRequest, bootstrap
from attrition.registry.store import alias_version, configure
from attrition.users import list_users

PASSWORD = "bootstrap-admin-pw-1"


def _counts(settings: Settings) -> dict[str, int]:
    engine = get_engine(settings.db_url)
    with engine.connect() as conn:
        counts = {
            table: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in ("users", "employees", "predictions")
        }
    client = configure(settings)
    counts["versions"] = len(client.search_model_versions(f"name='{settings.model_name}'"))
    return counts


@pytest.mark.slow
def test_bootstrap_builds_a_scored_champion_once_and_then_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    request = BootstrapRequest(admin_password=PASSWORD, rows=800, trials=3)

    first = bootstrap(settings, request)

    assert first.exit_code == 0 and first.error is None, first.error
    assert [line.split(":")[0] for line in first.lines] == [
        "database",
        "admin",
        "employees",
        "champion",
        "scores",
    ]
    assert not any("skipped" in line for line in first.lines[1:]), first.lines
    [admin] = list_users(get_engine(settings.db_url))
    assert (admin.name, admin.role, admin.active) == ("admin", "admin", True)
    champion = alias_version(configure(settings), settings.model_name, CHAMPION)
    assert champion == "1"
    after_first = _counts(settings)
    assert after_first == {"users": 1, "employees": 800, "predictions": 800, "versions": 1}

    second = bootstrap(settings, BootstrapRequest(admin_password=None, rows=800, trials=3))

    assert second.exit_code == 0 and second.error is None, second.error
    assert all("skipped" in line for line in second.lines[1:]), second.lines
    assert _counts(settings) == after_first
    assert alias_version(configure(settings), settings.model_name, CHAMPION) == champion


def test_bootstrap_without_an_admin_or_password_names_the_variable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    outcome = bootstrap(settings, BootstrapRequest(admin_password=None))
    assert outcome.exit_code == 2
    assert ADMIN_PASSWORD_ENV in (outcome.error or "")
    assert [line.split(":")[0] for line in outcome.lines] == ["database"]  # stopped before any data
    with get_engine(settings.db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM employees")).scalar_one() == 0


def test_the_cli_reports_the_missing_password_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTRITION_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ATTRITION_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delenv("ATTRITION_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    reset_settings()
    get_engine.cache_clear()
    try:
        result = CliRunner().invoke(app, ["bootstrap", "--admin-name", "ops"])
    finally:
        reset_settings()
        get_engine.cache_clear()
    assert result.exit_code == 2, result.output
    assert "database:" in result.stdout
    assert ADMIN_PASSWORD_ENV in result.stderr and PASSWORD not in result.output
