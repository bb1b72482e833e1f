"""API keys of the prediction API: create (the key shown once), revoke, list (never the key)."""

from __future__ import annotations

from dataclasses import dataclass

from attrition.config import Settings
from attrition.db.engine import get_engine
from attrition.jobs.base import Outcome
from attrition.keys import ApiKeyError, KeyInfo, create_key, list_keys, revoke_key


@dataclass(kw_only=True)
class KeyOutcome(Outcome):
    """The new key (``create`` only, never stored) or the revoked key's info; exit 1 on a bad request."""

    key: str | None = None
    info: KeyInfo | None = None


def create(settings: Settings, name: str, role: str, actor: str) -> KeyOutcome:
    """A new key for ``name`` with ``role``; only its hash is stored."""
    try:
        return KeyOutcome(key=create_key(get_engine(settings.db_url), name, role, actor=actor))
    except ApiKeyError as exc:
        return KeyOutcome(exit_code=1, error=str(exc))


def revoke(settings: Settings, name: str, actor: str) -> KeyOutcome:
    """Revoke the key called ``name``."""
    try:
        return KeyOutcome(info=revoke_key(get_engine(settings.db_url), name, actor=actor))
    except ApiKeyError as exc:
        return KeyOutcome(exit_code=1, error=str(exc))


def listing(settings: Settings) -> list[KeyInfo]:
    """Every key, active and revoked."""
    return list_keys(get_engine(settings.db_url))


def table_lines(keys: list[KeyInfo]) -> list[str]:
    """The keys as a table for a person: name, role, prefix, created, status (never the key)."""
    if not keys:
        return ["no API keys; create one with `attrition keys create --name N --role R`"]
    lines = [f"{'name':<24} {'role':<10} {'prefix':<9} {'created (UTC)':<20} status"]
    for k in keys:
        status = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        lines.append(f"{k.name:<24} {k.role:<10} {k.prefix:<9} {k.created_at:%Y-%m-%d %H:%M:%S}  {status}")
    return lines
