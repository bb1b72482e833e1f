"""Write a synthetic IBM-HR-like workforce as CSV (the embedded default data, and drift rehearsals)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from attrition.data.generator import generate_workforce, write_csv
from attrition.jobs.base import Outcome, Progress
from attrition.schema import ATTRITION_YES, TARGET


@dataclass(frozen=True)
class GenerateRequest:
    """Where, how many, which seed (same seed, same bytes), snapshot date, drift scenario."""

    out: Path
    rows: int = 10_000
    seed: int = 42
    snapshot_date: dt.date | None = None
    drift: str | None = None


@dataclass(kw_only=True)
class GenerateOutcome(Outcome):
    """How many employees were written and their attrition rate."""

    rows: int = 0
    attrition_rate: float = 0.0


def generate(request: GenerateRequest, progress: Progress | None = None) -> GenerateOutcome:
    """Generate the frame, then write it; ``progress(rows_written, rows)`` while writing."""
    frame = generate_workforce(
        request.rows, request.seed, snapshot_date=request.snapshot_date, drift=request.drift
    )
    write_csv(frame, request.out, progress=progress)
    return GenerateOutcome(rows=len(frame), attrition_rate=float((frame[TARGET] == ATTRITION_YES).mean()))
