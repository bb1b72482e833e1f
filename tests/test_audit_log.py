"""The audit log: every write and admin action with actor, time and outcome, readable by admins.

Migration 0006 on every backend (old rows get the outcome they already said), the outcome of
refused and failed actions (reload, sign-in, key changes), ``GET /v1/admin/audit`` with its
filters, and ``attrition audit`` as an operator reads it. Training's ``model.train`` event is
tested with the train job (tests/test_jobs_train.py), purge/export/forget in tests/test_privacy.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import get_args

import pytest
import sqlalchemy as sa
from api_support import Api, running_api
from typer.testing import CliRunner

from api.schemas_admin import AuditOutcomeName
from attrition.audit import AuditOutcome
from attrition.cli import app
from attrition.config import Settings
from attrition.db.engine import create_db_engine
from attrition.db.migrate import downgrade, upgrade
from attrition.db.repositories import AuditFilter, list_audit, record_audit
from attrition.users import create_user

OLD_ROWS = [
    ("promotion_refused", None, "refused"),
    ("user.sign_in_failed", {"reason": "wrong password"}, "refused"),
    ("retention.purge", {"outcome": "failed"}, "failed"),
    ("employee.export", {"outcome": "not_found"}, "not_found"),
    ("employee.forget", {"outcome": "forgotten"}, "ok"),
    ("promote", {"from_version": "1", "to_version": "2"}, "ok"),
]


def test_the_schema_offers_the_packages_outcomes() -> None:
    assert get_args(AuditOutcomeName) == tuple(o.value for o in AuditOutcome)


def test_migration_0006_gives_old_rows_the_outcome_they_said(db_url: str) -> None:
    downgrade(db_url, "0005")
    engine = create_db_engine(db_url)
    table = sa.table(
        "audit_log",
        sa.column("at", sa.DateTime),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("subject", sa.String),
        sa.column("detail", sa.JSON),
    )
    at = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"at": at, "actor": "ana", "action": a, "subject": "s", "detail": d} for a, d, _ in OLD_ROWS],
        )
    upgrade(db_url)
    events = {e["action"]: e for e in list_audit(engine)}
    assert {action: events[action]["outcome"] for action, _, _ in OLD_ROWS} == {a: o for a, _, o in OLD_ROWS}
    record_audit(engine, "ana", "api_key.create", "k")  # a new row without an outcome given: ok
    assert list_audit(engine, action="api_key.create")[0]["outcome"] == "ok"
    downgrade(db_url, "0005")  # and down again, keeping the rows
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM audit_log")).scalar_one() == len(OLD_ROWS) + 1
    upgrade(db_url)
    engine.dispose()


def test_filters_combine_and_the_newest_comes_first(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    record_audit(engine, "ana", "promote", "m@champion", {"to_version": "2"})
    record_audit(engine, "ben", "promotion_refused", "m@champion", None, AuditOutcome.REFUSED)
    record_audit(engine, "ana", "promotion_refused", "m@champion", None, AuditOutcome.REFUSED)
    refused = list_audit(engine, where=AuditFilter(outcome=AuditOutcome.REFUSED))
    assert [e["actor"] for e in refused] == ["ana", "ben"]
    assert [e["action"] for e in list_audit(engine, where=AuditFilter(actor="ana"))] == [
        "promotion_refused",
        "promote",
    ]
    assert list_audit(engine, where=AuditFilter(since=dt.datetime.now(dt.UTC).replace(tzinfo=None))) == []
    assert len(list_audit(engine, where=AuditFilter(limit=1))) == 1


@pytest.fixture
def api(empty_env: Settings) -> Iterator[Api]:
    """The API on an empty MLflow store (no champion: a reload fails) and a user ``ana``."""
    engine = create_db_engine(empty_env.db_url)
    create_user(engine, "ana", "viewer", "correct horse battery")
    engine.dispose()
    with running_api(empty_env, token_secret="s" * 40) as running:
        yield running


def test_a_failed_reload_and_refused_sign_ins_are_audited_with_their_outcome(api: Api) -> None:
    reload = api.client.post("/v1/admin/reload", headers=api.headers("admin"))
    assert reload.status_code == 503
    (event,) = list_audit(api.engine, action="model.reload")
    assert (event["actor"], event["outcome"]) == ("test-admin", "failed")
    assert event["detail"]["serving_version"] is None and event["detail"]["error"]
    wrong = api.client.post("/v1/auth/token", data={"username": "ana", "password": "wrong password!"})
    unknown = api.client.post("/v1/auth/token", data={"username": "zoe", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    failed = list_audit(api.engine, action="user.sign_in_failed")
    assert [(e["subject"], e["outcome"]) for e in failed] == [("zoe", "refused"), ("ana", "refused")]
    assert all("wrong password!" not in json.dumps(e["detail"]) for e in failed)  # never the password


def test_admins_read_the_audit_log_over_http_with_filters(api: Api) -> None:
    created = api.client.post(
        "/v1/admin/keys", headers=api.headers("admin"), json={"name": "hris", "role": "predictor"}
    )
    assert created.status_code == 201
    api.client.post("/v1/admin/reload", headers=api.headers("admin"))
    everything = api.client.get("/v1/admin/audit", headers=api.headers("admin"))
    assert everything.status_code == 200
    items = everything.json()["items"]
    assert [(e["action"], e["outcome"]) for e in items[:2]] == [
        ("model.reload", "failed"),
        ("api_key.create", "ok"),
    ]
    assert items[1]["actor"] == "test-admin" and items[1]["subject"] == "hris"
    assert items[1]["at"].endswith("Z") and "secret" not in json.dumps(items)
    failed = api.client.get("/v1/admin/audit", headers=api.headers("admin"), params={"outcome": "failed"})
    assert [e["action"] for e in failed.json()["items"]] == ["model.reload"]
    keys = api.client.get(
        "/v1/admin/audit", headers=api.headers("admin"), params={"action": "api_key.create", "limit": 1}
    )
    assert [e["subject"] for e in keys.json()["items"]] == ["hris"]
    later = api.client.get(
        "/v1/admin/audit", headers=api.headers("admin"), params={"since": "2999-01-01T00:00:00Z"}
    )
    assert later.status_code == 200 and later.json()["items"] == []


def test_the_audit_log_is_for_admins_and_bad_filters_are_named(api: Api) -> None:
    for role in ("viewer", "predictor"):
        assert api.client.get("/v1/admin/audit", headers=api.headers(role)).status_code == 403
    bad = api.client.get(
        "/v1/admin/audit", headers=api.headers("admin"), params={"outcome": "maybe", "limit": 0}
    )
    assert bad.status_code == 422
    assert {issue["field"] for issue in bad.json()["detail"]} >= {"outcome", "limit"}


def test_cli_lists_the_audit_log_as_a_table_or_json(settings: Settings) -> None:
    engine = create_db_engine(settings.db_url)
    record_audit(engine, "cli:ana", "retention.purge", "older-than:365d", {"outcome": "purged"})
    record_audit(
        engine, "user:ben", "promotion_refused", "m@champion", {"reasons": ["gate"]}, AuditOutcome.REFUSED
    )
    engine.dispose()
    runner = CliRunner()
    table = runner.invoke(app, ["audit"])
    assert table.exit_code == 0, table.output
    header, first, second = table.output.splitlines()
    assert header.split() == ["at", "actor", "action", "subject", "outcome"]
    assert first.split()[2:] == ["user:ben", "promotion_refused", "m@champion", "refused"]
    assert second.split()[2:] == ["cli:ana", "retention.purge", "older-than:365d", "ok"]
    lines = runner.invoke(app, ["audit", "--json", "--outcome", "refused"]).output.splitlines()
    assert [json.loads(line)["detail"] for line in lines] == [{"reasons": ["gate"]}]
    none = runner.invoke(app, ["audit", "--actor", "nobody"])
    assert none.exit_code == 0 and none.output.strip() == "no audit events match"
    bad = runner.invoke(app, ["audit", "--outcome", "maybe"])
    assert bad.exit_code == 2 and "maybe" in bad.output


def test_cli_says_when_the_audit_log_cannot_be_read(settings: Settings) -> None:
    engine = create_db_engine(settings.db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_log"))
    engine.dispose()
    result = CliRunner().invoke(app, ["audit"])
    assert result.exit_code == 1
    assert result.output.startswith("error: could not read the audit log: ") and "SELECT" not in result.output
