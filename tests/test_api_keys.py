"""API keys: stored hashed, verified, revoked, on every backend; the CLI shows the key once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from attrition.cli import app as cli
from attrition.db.engine import create_db_engine
from attrition.db.repositories import list_audit
from attrition.keys import ApiKeyError, create_key, hash_key, list_keys, revoke_key, role_allows, verify_key


def test_create_verify_revoke_round_trip(db_url: str) -> None:
    engine = create_db_engine(db_url)
    key = create_key(engine, "hris", "predictor")
    other = create_key(engine, "dashboard", "viewer")

    info = verify_key(engine, key)
    assert info is not None and (info.name, info.role) == ("hris", "predictor")
    assert verify_key(engine, other).role == "viewer"  # type: ignore[union-attr]
    # Only the hash is stored, never the key.
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash, prefix FROM api_keys WHERE name = 'hris'")).one()
    assert stored.key_hash == hash_key(key) and key not in stored
    assert key.startswith(f"atk_{stored.prefix}_")

    # A wrong secret with the right prefix, a malformed key and an empty one are all unknown.
    assert verify_key(engine, key[:-4] + "AAAA") is None
    assert verify_key(engine, "not-a-key") is None
    assert verify_key(engine, "") is None

    revoked = revoke_key(engine, "hris")
    assert not revoked.active
    assert verify_key(engine, key) is None
    assert verify_key(engine, other) is not None
    assert [k.active for k in list_keys(engine)] == [False, True]
    actions = [e["action"] for e in list_audit(engine)]
    assert actions.count("api_key.create") == 2 and "api_key.revoke" in actions
    engine.dispose()


def test_create_refuses_bad_role_and_duplicate_name(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    create_key(engine, "svc", "admin")
    with pytest.raises(ApiKeyError, match="role 'root' is not one of viewer, predictor, admin"):
        create_key(engine, "other", "root")
    with pytest.raises(ApiKeyError, match="exists already"):
        create_key(engine, "svc", "viewer")
    with pytest.raises(ApiKeyError, match="no key named 'ghost'"):
        revoke_key(engine, "ghost")


def test_roles_are_ordered() -> None:
    assert role_allows("admin", "predictor") and role_allows("predictor", "viewer")
    assert not role_allows("viewer", "predictor") and not role_allows("predictor", "admin")
    assert not role_allows("root", "viewer")


def test_cli_create_prints_key_alone_on_last_line_then_list_and_revoke(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attrition.config import reset_settings
    from attrition.db.engine import get_engine

    monkeypatch.setenv("ATTRITION_DATABASE_URL", sqlite_url)
    reset_settings()
    get_engine.cache_clear()
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--name", "ui", "--role", "viewer"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    engine = create_db_engine(sqlite_url)
    assert verify_key(engine, key) is not None

    listed = runner.invoke(cli, ["keys", "list"])
    assert "ui" in listed.output and "viewer" in listed.output and "active" in listed.output
    assert key not in listed.output

    bad = runner.invoke(cli, ["keys", "create", "--name", "x", "--role", "superuser"])
    assert bad.exit_code == 1 and "superuser" in bad.output

    revoked = runner.invoke(cli, ["keys", "revoke", "--name", "ui"])
    assert revoked.exit_code == 0 and verify_key(engine, key) is None
    assert "revoked" in runner.invoke(cli, ["keys", "list"]).output
    reset_settings()
    get_engine.cache_clear()
