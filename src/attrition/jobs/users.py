"""User accounts of the API (people who sign in): create, disable, reset the password, list."""

from __future__ import annotations

from dataclasses import dataclass

from attrition.config import Settings
from attrition.db.engine import get_engine
from attrition.jobs.base import Outcome
from attrition.users import (
    UserError,
    UserInfo,
    create_user,
    disable_user,
    generate_password,
    list_users,
    reset_password,
)

__all__ = ["UserOutcome", "create", "disable", "generate_password", "listing", "reset", "table_lines"]


@dataclass(kw_only=True)
class UserOutcome(Outcome):
    """The user's info after the change; exit 1 on a bad request (unknown name or role, weak password)."""

    info: UserInfo | None = None


def create(settings: Settings, name: str, role: str, password: str, actor: str) -> UserOutcome:
    """A new user ``name`` with ``role``; only the password's argon2 hash is stored."""
    try:
        return UserOutcome(info=create_user(get_engine(settings.db_url), name, role, password, actor=actor))
    except UserError as exc:
        return UserOutcome(exit_code=1, error=str(exc))


def disable(settings: Settings, name: str, actor: str) -> UserOutcome:
    """Disable ``name``: no sign-in, and the tokens issued stop working."""
    try:
        return UserOutcome(info=disable_user(get_engine(settings.db_url), name, actor=actor))
    except UserError as exc:
        return UserOutcome(exit_code=1, error=str(exc))


def reset(settings: Settings, name: str, password: str, actor: str) -> UserOutcome:
    """A new password for ``name`` (lifts a lockout, ends older tokens)."""
    try:
        return UserOutcome(info=reset_password(get_engine(settings.db_url), name, password, actor=actor))
    except UserError as exc:
        return UserOutcome(exit_code=1, error=str(exc))


def listing(settings: Settings) -> list[UserInfo]:
    """Every user, active and disabled."""
    return list_users(get_engine(settings.db_url))


def table_lines(users: list[UserInfo]) -> list[str]:
    """The users as a table for a person: name, role, created, last sign-in, status."""
    if not users:
        return ["no users; create one with `attrition users create --name N --role R`"]
    lines = [f"{'name':<24} {'role':<10} {'created (UTC)':<20} {'last sign-in':<17} status"]
    for u in users:
        status = "active" if u.active else f"disabled {u.disabled_at:%Y-%m-%d %H:%M}"
        last = f"{u.last_sign_in_at:%Y-%m-%d %H:%M}" if u.last_sign_in_at else "never"
        lines.append(f"{u.name:<24} {u.role:<10} {u.created_at:%Y-%m-%d %H:%M:%S}  {last:<17} {status}")
    return lines
