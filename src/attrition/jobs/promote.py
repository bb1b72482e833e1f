"""Promote a version to champion through the gates, or roll the champion back."""

from __future__ import annotations

from dataclasses import dataclass

from attrition.config import Settings
from attrition.jobs.base import Outcome
from attrition.registry.aliases import PromotionDecision, promote, rollback
from attrition.registry.store import RegistryError


@dataclass(frozen=True)
class PromoteRequest:
    """Which version (None: the challenger), who asks and why (for the audit trail)."""

    version: str | None = None
    actor: str | None = None
    reason: str | None = None


@dataclass(kw_only=True)
class PromoteOutcome(Outcome):
    """The decision; exit 1 when refused (its reasons say why) or the registry failed (``error``)."""

    decision: PromotionDecision | None = None


def promote_version(settings: Settings, request: PromoteRequest | None = None) -> PromoteOutcome:
    """Make the version champion if it passes the fairness, floor and champion gates."""
    request = request or PromoteRequest()
    try:
        decision = promote(settings, request.version, actor=request.actor, reason=request.reason)
    except RegistryError as exc:
        return PromoteOutcome(exit_code=1, error=str(exc))
    return PromoteOutcome(exit_code=0 if decision.promoted else 1, decision=decision)


def rollback_champion(
    settings: Settings, actor: str | None = None, reason: str | None = None
) -> PromoteOutcome:
    """Point champion back at the version it replaced (recorded in the audit trail, with the reason)."""
    try:
        return PromoteOutcome(decision=rollback(settings, actor=actor, reason=reason))
    except RegistryError as exc:
        return PromoteOutcome(exit_code=1, error=str(exc))
