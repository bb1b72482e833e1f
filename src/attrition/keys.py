"""API keys: created once, stored only as a hash, verified in constant time, revocable.

A key looks like ``atk_<prefix>_<secret>``: the 8-character prefix is stored in
clear so a key can be found (and named in logs) without its secret; the whole
key is stored as a SHA-256 hash. The secret has 256 bits of entropy, so a plain
hash (no salt, no slow KDF) is enough: nothing can be guessed from it.

Roles are ordered: ``viewer`` (read model info and the prediction log) <
``predictor`` (also predict and send feedback) < ``admin`` (also reload the
model; everything).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from attrition.db.models import ApiKey, utcnow
from attrition.db.repositories import record_audit

ROLES: tuple[str, ...] = ("viewer", "predictor", "admin")
KEY_PREFIX = "atk_"
_TABLE = cast(sa.Table, ApiKey.__table__)


class ApiKeyError(ValueError):
    """A key operation that cannot be done (unknown role, duplicate or unknown name)."""


@dataclass(frozen=True)
class KeyInfo:
    """What the service knows about a key (never the key itself)."""

    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def role_allows(role: str, required: str) -> bool:
    """True when ``role`` includes the rights of ``required`` (roles are ordered)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(required)


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key: what the database stores."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def prefix_of(key: str) -> str | None:
    """The stored prefix of a well-formed key, ``None`` for anything else."""
    if not key.startswith(KEY_PREFIX) or len(key) > 256:
        return None
    prefix, _, secret = key[len(KEY_PREFIX) :].partition("_")
    if len(prefix) != 8 or len(secret) < 32:
        return None
    return prefix


def create_key(engine: sa.Engine, name: str, role: str, actor: str = "cli") -> str:
    """Store a new key for ``name`` with ``role``; returns the key (the only time it is seen)."""
    if role not in ROLES:
        raise ApiKeyError(f"role {role!r} is not one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 128:
        raise ApiKeyError("name must be 1-128 characters")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        exists = conn.execute(sa.select(_TABLE.c.id).where(_TABLE.c.name == name)).first()
        if exists:
            raise ApiKeyError(f"a key named {name!r} exists already; revoke it or choose another name")
        conn.execute(
            _TABLE.insert().values(
                name=name, prefix=prefix, key_hash=hash_key(key), role=role, created_at=utcnow()
            )
        )
    record_audit(engine, actor, "api_key.create", name, {"role": role, "prefix": prefix})
    return key


def verify_key(engine: sa.Engine, key: str) -> KeyInfo | None:
    """The key's info if ``key`` is a stored, unrevoked key; ``None`` otherwise."""
    prefix = prefix_of(key)
    if prefix is None:
        return None
    digest = hash_key(key)
    query = sa.select(_TABLE).where(_TABLE.c.prefix == prefix)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest):
            info = _info(row)
            return info if info.active else None
    return None


def revoke_key(engine: sa.Engine, name: str, actor: str = "cli") -> KeyInfo:
    """Revoke the key called ``name`` (idempotent); raises ``ApiKeyError`` for an unknown name."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(_TABLE).where(_TABLE.c.name == name)).first()
        if row is None:
            raise ApiKeyError(f"no key named {name!r}")
        if row.revoked_at is None:
            conn.execute(_TABLE.update().where(_TABLE.c.id == row.id).values(revoked_at=utcnow()))
    record_audit(engine, actor, "api_key.revoke", name)
    info = _info(row)
    return info if info.revoked_at else dataclasses.replace(info, revoked_at=utcnow())


def list_keys(engine: sa.Engine) -> list[KeyInfo]:
    """Every key, oldest first (prefix, role, status; never the key)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_TABLE).order_by(_TABLE.c.created_at, _TABLE.c.id)).all()
    return [_info(row) for row in rows]


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
