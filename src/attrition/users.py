"""User accounts: people who sign in with a name and password (the API keys are for programs).

Passwords are stored as argon2id hashes (``argon2-cffi``, its default parameters; a
hash made with older parameters is upgraded at the next sign-in). A password is at
least ``MIN_PASSWORD_LENGTH`` characters. Roles are the keys' (``attrition.keys.ROLES``).

Sign-in (``sign_in``) answers the same for an unknown name, a wrong password and a
disabled user, and takes the same time (an unknown name is checked against a dummy
hash). After ``policy.max_failures`` wrong passwords within ``policy.window_minutes``
the account is locked for ``policy.lock_minutes``: while locked, every attempt is
refused without checking the password. At most four passwords are checked at a
time per process (``_VERIFY_SLOTS``). Every sign-in, failure and refusal is in the
audit log (never the password).

``token_version`` goes up when a user is disabled or their password is reset: a token
carries the version it was issued with, so older tokens stop being accepted.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from attrition.audit import AuditOutcome
from attrition.db.models import User, utcnow
from attrition.db.repositories import record_audit
from attrition.keys import ROLES

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_TABLE = cast(sa.Table, User.__table__)
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
#: At most this many password checks at once (each takes ~64 MiB and tens of ms of CPU), so a
#: burst of sign-ins queues instead of exhausting the API's memory and threads.
_VERIFY_SLOTS = threading.BoundedSemaphore(4)


class UserError(ValueError):
    """A user operation that cannot be done (unknown role or name, duplicate name, weak password)."""


@dataclass(frozen=True)
class UserInfo:
    """What the service knows about a user (never the password or its hash)."""

    name: str
    role: str
    token_version: int
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    locked_until: dt.datetime | None
    last_sign_in_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_failures`` wrong passwords within ``window_minutes`` lock the account for ``lock_minutes``."""

    max_failures: int = 5
    window_minutes: float = 15.0
    lock_minutes: float = 15.0


@dataclass(frozen=True)
class SignIn:
    """A sign-in's answer: the user when it succeeded, ``locked_until`` (UTC) when the account is locked."""

    user: UserInfo | None = None
    locked_until: dt.datetime | None = None


def check_password(password: str) -> str:
    """``password`` when it is acceptable; ``UserError`` saying the rule otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def generate_password() -> str:
    """A random password (about 128 bits) for ``users create --generate``."""
    return secrets.token_urlsafe(16)


def create_user(engine: sa.Engine, name: str, role: str, password: str, actor: str = "cli") -> UserInfo:
    """Store a new user; the password is kept only as an argon2 hash."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 128 or any(c.isspace() for c in name):
        raise UserError("the name must be 1-128 characters without spaces")
    digest = _HASHER.hash(check_password(password))
    now = utcnow()
    with engine.begin() as conn:
        if conn.execute(sa.select(_TABLE.c.id).where(_TABLE.c.name == name)).first():
            raise UserError(
                f"a user named {name!r} exists already; reset their password or choose another name"
            )
        conn.execute(
            _TABLE.insert().values(
                name=name,
                role=role,
                password_hash=digest,
                token_version=0,
                created_at=now,
                password_changed_at=now,
                failed_sign_ins=0,
            )
        )
    record_audit(engine, actor, "user.create", name, {"role": role})
    return get_user(engine, name)


def get_user(engine: sa.Engine, name: str) -> UserInfo:
    """The user called ``name``; ``UserError`` when there is none."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(_TABLE).where(_TABLE.c.name == name)).first()
    if row is None:
        raise UserError(f"no user named {name!r}")
    return _info(row)


def find_user(engine: sa.Engine, name: str) -> UserInfo | None:
    """The user called ``name``, or ``None`` (the token check's lookup)."""
    try:
        return get_user(engine, name)
    except UserError:
        return None


def list_users(engine: sa.Engine) -> list[UserInfo]:
    """Every user, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_TABLE).order_by(_TABLE.c.created_at, _TABLE.c.id)).all()
    return [_info(row) for row in rows]


def disable_user(engine: sa.Engine, name: str, actor: str = "cli") -> UserInfo:
    """Disable ``name`` (idempotent): no more sign-ins, and the tokens issued stop working."""
    _update(engine, name, {"disabled_at": sa.func.coalesce(_TABLE.c.disabled_at, utcnow())})
    record_audit(engine, actor, "user.disable", name)
    return get_user(engine, name)


def reset_password(engine: sa.Engine, name: str, password: str, actor: str = "cli") -> UserInfo:
    """Set a new password, lift a lockout and end the tokens issued with the old one."""
    digest = _HASHER.hash(check_password(password))
    values = {"password_hash": digest, "password_changed_at": utcnow(), **_CLEARED}
    _update(engine, name, values)
    record_audit(engine, actor, "user.reset_password", name)
    return get_user(engine, name)


_CLEARED: dict[str, Any] = {"failed_sign_ins": 0, "first_failed_at": None, "locked_until": None}


def _update(engine: sa.Engine, name: str, values: dict[str, Any]) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            _TABLE.update()
            .where(_TABLE.c.name == name)
            .values(token_version=_TABLE.c.token_version + 1, **values)
        )
        if done.rowcount == 0:
            raise UserError(f"no user named {name!r}")


def sign_in(
    engine: sa.Engine,
    name: str,
    password: str,
    policy: LockoutPolicy,
    source: str = "api",
    client: str | None = None,
) -> SignIn:
    """Check ``name``/``password`` under the lockout ``policy``; audits the answer (never the password).

    ``source`` is the audit actor (``api``), ``client`` the caller's address, kept in the audit detail.
    """
    now = utcnow()
    seen = {"client": client} if client else {}
    with engine.connect() as conn:
        row = conn.execute(sa.select(_TABLE).where(_TABLE.c.name == name)).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        record_audit(
            engine,
            source,
            "user.sign_in_locked",
            name,
            {"locked_until": row.locked_until.isoformat(), **seen},
            AuditOutcome.REFUSED,
        )
        return SignIn(locked_until=row.locked_until)
    matches = _verify(row.password_hash if row is not None else _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    if row is None or row.disabled_at is not None:
        reason = "unknown user" if row is None else "disabled user"
        record_audit(
            engine, source, "user.sign_in_failed", name, {"reason": reason, **seen}, AuditOutcome.REFUSED
        )
        return SignIn()
    if not matches:
        return _failed(engine, name, policy, source, seen)
    values: dict[str, Any] = {"last_sign_in_at": now, **_CLEARED}
    if _HASHER.check_needs_rehash(row.password_hash):
        values["password_hash"] = _HASHER.hash(password)
    with engine.begin() as conn:
        conn.execute(_TABLE.update().where(_TABLE.c.id == row.id).values(**values))
    record_audit(engine, source, "user.sign_in", name, {"role": row.role, **seen})
    return SignIn(user=get_user(engine, name))


def _verify(digest: str, password: str) -> bool:
    try:
        with _VERIFY_SLOTS:
            return _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed(engine: sa.Engine, name: str, policy: LockoutPolicy, source: str, seen: dict[str, str]) -> SignIn:
    """Count a wrong password (the row locked while counting); lock the account at the limit."""
    now = utcnow()
    window = dt.timedelta(minutes=policy.window_minutes)
    with engine.begin() as conn:
        row = conn.execute(sa.select(_TABLE).where(_TABLE.c.name == name).with_for_update()).one()
        fresh = row.first_failed_at is None or now - row.first_failed_at > window
        failures = 1 if fresh else row.failed_sign_ins + 1
        values: dict[str, Any] = {
            "failed_sign_ins": failures,
            "first_failed_at": now if fresh else row.first_failed_at,
        }
        locked_until = None
        if failures >= policy.max_failures:
            locked_until = _whole_second_after(now + dt.timedelta(minutes=policy.lock_minutes))
            values = {**_CLEARED, "locked_until": locked_until}
        conn.execute(_TABLE.update().where(_TABLE.c.id == row.id).values(**values))
    detail: dict[str, Any] = {"reason": "wrong password", "failures": failures, **seen}
    if locked_until is not None:
        detail["locked_until"] = locked_until.isoformat()
    record_audit(engine, source, "user.sign_in_failed", name, detail, AuditOutcome.REFUSED)
    return SignIn(locked_until=locked_until)


def _whole_second_after(moment: dt.datetime) -> dt.datetime:
    """``moment`` rounded up to a whole second: what every backend stores (MariaDB keeps no fraction)."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(seconds=1)


def _info(row: Any) -> UserInfo:
    return UserInfo(
        name=row.name,
        role=row.role,
        token_version=row.token_version,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        locked_until=row.locked_until,
        last_sign_in_at=row.last_sign_in_at,
    )
