"""Rewrite the drift reference data (``reference_data/``) from the current champion."""

from __future__ import annotations

from dataclasses import dataclass

from attrition.config import Settings
from attrition.jobs.base import Outcome
from attrition.registry.aliases import refresh_reference
from attrition.registry.store import RegistryError


@dataclass(kw_only=True)
class ReferenceOutcome(Outcome):
    """The champion version the reference now describes; exit 2 when there is none (``error``)."""

    version: str | None = None


def set_reference(settings: Settings) -> ReferenceOutcome:
    """The reference the drift check compares against, written again from the champion."""
    try:
        return ReferenceOutcome(version=refresh_reference(settings))
    except RegistryError as exc:
        return ReferenceOutcome(exit_code=2, error=str(exc))
