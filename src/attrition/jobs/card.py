"""The champion's model card: data, metrics with intervals, threshold, fairness, factors, limitations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attrition.config import Settings
from attrition.jobs.base import Outcome
from attrition.model_card import build_card, to_json, write_card
from attrition.registry.store import RegistryError
from attrition.serving.loader import ModelNotAvailable


@dataclass(kw_only=True)
class CardOutcome(Outcome):
    """The card as Markdown (written to ``path``) and as JSON; exit 2 without a champion."""

    card: dict[str, Any] | None = None
    path: Path | None = None
    markdown: str = ""
    json: str = ""


def model_card(settings: Settings) -> CardOutcome:
    """Build the champion's card and write its Markdown to the reports folder."""
    try:
        card = build_card(settings)
    except (ModelNotAvailable, RegistryError) as exc:
        return CardOutcome(exit_code=2, error=str(exc))
    path = write_card(settings, card)
    return CardOutcome(card=card, path=path, markdown=path.read_text(encoding="utf-8"), json=to_json(card))
