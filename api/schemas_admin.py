"""Request and response models of ``/v1/admin`` (users, keys, promotion) and ``GET /v1/model/versions``.

Request bodies forbid unknown fields. A password is checked in the handler, not by a
field constraint, so a refused password is never echoed back in the error's ``received``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from api.schemas import _examples

#: The roles of ``attrition.keys.ROLES`` (a test keeps the two equal).
Role = Literal["viewer", "predictor", "admin"]
#: How ``api.auth`` names a person calling (``user:ana``); key names never start with it.
USER_PREFIX = "user:"

_CREATED = "2026-03-01T09:00:00Z"
_USER = {
    "name": "ana",
    "role": "viewer",
    "active": True,
    "token_version": 0,
    "created_at": _CREATED,
    "disabled_at": None,
    "locked_until": None,
    "last_sign_in_at": None,
}
_KEY = {
    "name": "hris",
    "role": "predictor",
    "prefix": "3f9a01bc",
    "active": True,
    "created_at": _CREATED,
    "revoked_at": None,
}

_VERSION = {
    "version": "3",
    "aliases": ["champion"],
    "created_at": _CREATED,
    "run_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "metrics": {"roc_auc": 0.83, "pr_auc": 0.56, "recall": 0.71, "brier": 0.1},
    "fairness_passed": True,
    "status": "READY",
    "description": None,
    "tags": {"family": "logistic_regression", "trained_at": "2026-03-01T08:55:00+00:00"},
}


def _utc(value: dt.datetime) -> dt.datetime:
    """The database stores naive UTC; say so (RFC 3339 needs the offset)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


Utc = Annotated[dt.datetime, AfterValidator(_utc)]
UserName = Annotated[str, StringConstraints(pattern=r"^\S{1,128}$")]
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Password = Annotated[str | None, Field(description="Omit it to have one generated (returned once)")]
Reason = Annotated[
    str | None, Field(None, min_length=1, max_length=500, description="Why: kept in the audit log")
]


class UserOut(BaseModel):
    """A user account (never the password or its hash)."""

    model_config = _examples(_USER)

    name: str
    role: str
    active: bool
    token_version: int = Field(
        description="Goes up when disabled or reset: older sign-in tokens stop working"
    )
    created_at: Utc
    disabled_at: Utc | None = None
    locked_until: Utc | None = Field(None, description="Locked after repeated wrong passwords until then")
    last_sign_in_at: Utc | None = None


class UserList(BaseModel):
    model_config = _examples({"items": [_USER]})

    items: list[UserOut]


class CreateUserRequest(BaseModel):
    model_config = _examples({"name": "ana", "role": "viewer"}, forbid_extra=True)

    name: UserName = Field(description="1-128 characters without spaces")
    role: Role
    password: Password = None


class PasswordRequest(BaseModel):
    model_config = _examples({}, {"password": "correct horse battery"}, forbid_extra=True)

    password: Password = None


class UserWithPassword(BaseModel):
    """The user after the change; ``password`` only when it was generated (shown this once)."""

    model_config = _examples({"user": _USER, "password": "kq3V8mZc1xYb2Lr9TtWw0A"})

    user: UserOut
    password: str | None = Field(None, description="The generated password (null when you gave one)")


class KeyOut(BaseModel):
    """An API key's record (never the key or its hash)."""

    model_config = _examples(_KEY)

    name: str
    role: str
    prefix: str = Field(description="The key's first characters after atk_: how to recognise it")
    active: bool
    created_at: Utc
    revoked_at: Utc | None = None


class KeyList(BaseModel):
    model_config = _examples({"items": [_KEY]})

    items: list[KeyOut]


class CreateKeyRequest(BaseModel):
    model_config = _examples({"name": "hris", "role": "predictor"}, forbid_extra=True)

    name: KeyName = Field(description="1-128 characters, not starting with user: (that names people)")
    role: Role

    @field_validator("name")
    @classmethod
    def _not_a_person(cls, value: str) -> str:
        """Callers are named by key name or ``user:<name>``: a key must not pass for a person."""
        if value.startswith(USER_PREFIX):
            raise ValueError(f"a key name must not start with {USER_PREFIX!r} (that prefix names people)")
        return value


class CreatedKey(BaseModel):
    model_config = _examples({"key": _KEY, "secret": "atk_3f9a01bc_q0Zb..."})

    key: KeyOut
    secret: str = Field(description="The API key itself: shown this once, only its hash is stored")


class PromoteRequest(BaseModel):
    model_config = _examples({}, {"version": "3", "reason": "weekly retrain"}, forbid_extra=True)

    version: str | None = Field(None, pattern=r"^[0-9]{1,20}$", description="Default: the challenger")
    reason: Reason = None


class RollbackRequest(BaseModel):
    model_config = _examples({"reason": "complaints from HR"}, forbid_extra=True)

    reason: Reason = None


class PromotionResponse(BaseModel):
    """The gate's decision (``PromotionDecision``) and what this API process serves afterwards."""

    model_config = _examples(
        {
            "promoted": False,
            "version": "4",
            "previous_champion": "3",
            "message": "version 4 NOT promoted\n  - holdout ROC-AUC 0.6512 is below the floor 0.7000",
            "reasons": ["holdout ROC-AUC 0.6512 is below the floor 0.7000"],
            "checks": {"fairness_passed": True, "roc_auc": 0.6512, "min_roc_auc": 0.7},
            "serving_version": "3",
            "reload_error": None,
        }
    )

    promoted: bool = Field(description="False: no alias moved; the reasons say why")
    version: str = Field(description="The version promoted (or refused), or rolled back to")
    previous_champion: str | None = None
    message: str
    reasons: list[str] = Field(description="The gates that failed, or why the alias moved")
    checks: dict[str, Any] = Field(description="The values the gates compared")
    serving_version: str | None = Field(None, description="The version this API serves after the call")
    reload_error: str | None = Field(
        None, description="Why the new champion could not be loaded (null: it was)"
    )


class VersionInfo(BaseModel):
    """A registered version with what a reviewer compares."""

    model_config = _examples(_VERSION)

    version: str
    aliases: list[str]
    created_at: dt.datetime | None = None
    run_id: str | None = None
    metrics: dict[str, float] = Field(description="Holdout metrics the training run logged")
    fairness_passed: bool | None = Field(None, description="The fairness gate's result (null: not recorded)")
    status: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(description="Registry tags: training facts and the alias history")


class VersionList(BaseModel):
    model_config = _examples({"model_name": "attrition-classifier", "items": [_VERSION]})

    model_name: str
    items: list[VersionInfo] = Field(description="Newest first")


AuditOutcomeName = Literal["ok", "refused", "failed", "not_found"]


_AUDIT_EVENT = {
    "at": "2026-03-01T09:00:00Z",
    "actor": "user:ana",
    "action": "promote",
    "subject": "attrition-classifier@champion",
    "outcome": "ok",
    "detail": {"from_version": "3", "to_version": "4", "reason": "monthly retrain"},
}


class AuditEventOut(BaseModel):
    """One audited action: who, when, what, how it ended."""

    model_config = _examples(_AUDIT_EVENT)

    at: Utc
    actor: str
    action: str
    subject: str
    outcome: AuditOutcomeName
    detail: dict[str, Any] | None = None


class AuditList(BaseModel):
    """Audit events, newest first."""

    model_config = _examples({"items": [_AUDIT_EVENT]})

    items: list[AuditEventOut]
