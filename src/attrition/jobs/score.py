"""Score employees with the champion: every prediction logged, high-risk ones flagged.

Exit codes: 0 every row scored; 1 some rows rejected (the good ones scored); 2 nothing
could be scored (no champion, no data, unreadable file) or the database failed (one line:
the driver's error, never the statement's values, which are employee attributes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from attrition.config import Settings
from attrition.errors import database_error
from attrition.jobs.base import Outcome, Progress
from attrition.serving.loader import ModelNotAvailable
from attrition.serving.scoring import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_FACTORS,
    ScoreReport,
    ScoringError,
    score_batch,
)


@dataclass(frozen=True)
class ScoreRequest:
    """An employees snapshot (default: the latest) or a contract CSV; ``out``: predictions file;
    ``factors``: top factors per prediction (0: none, the fastest)."""

    snapshot_date: dt.date | None = None
    csv: Path | None = None
    out: Path | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    factors: int = DEFAULT_FACTORS


@dataclass(kw_only=True)
class ScoreOutcome(Outcome):
    """The batch report (None when nothing could be scored)."""

    report: ScoreReport | None = None


def score(
    settings: Settings, request: ScoreRequest | None = None, progress: Progress | None = None
) -> ScoreOutcome:
    """Score the batch; ``progress(rows_read, None)`` after each chunk."""
    request = request or ScoreRequest()
    try:
        report = score_batch(
            settings,
            snapshot_date=request.snapshot_date,
            csv=request.csv,
            out=request.out,
            chunk_rows=request.chunk_rows,
            top_k=request.factors,
            progress=progress,
        )
    except (ScoringError, ModelNotAvailable) as exc:
        return ScoreOutcome(exit_code=2, error=str(exc))
    except SQLAlchemyError as exc:  # chunks logged before it stay logged; the batch is incomplete
        return ScoreOutcome(exit_code=2, error=database_error(exc, settings.db_url, "scoring"))
    return ScoreOutcome(exit_code=1 if report.rows_rejected else 0, report=report)


def summary_lines(report: ScoreReport) -> list[str]:
    """What the batch did, for a person: rows, model, speed, risk bands, where the output went."""
    bands = ", ".join(f"{band} {count:,}" for band, count in report.band_counts.items())
    lines = [
        f"scored {report.rows_scored:,} of {report.rows_read:,} rows with {report.model_name} version "
        f"{report.model_version} ({report.rows_per_second:,.0f} rows/s); {report.rows_logged:,} logged as batch "
        f"{report.batch_id}",
        f"risk bands: {bands}; HIGH RISK (high + critical): {report.high_risk:,}",
    ]
    return lines + ([f"predictions written to {report.out}"] if report.out is not None else [])


def rejection_lines(report: ScoreReport, shown: int = 20) -> list[str]:
    """The first ``shown`` issues and the count of rejected rows (none when every row was scored)."""
    lines = [f"  line {i.row}, {i.column}: {i.severity}: {i.reason}" for i in report.issues[:shown]]
    if report.rows_rejected:
        lines.append(f"{report.rows_rejected:,} row(s) rejected ({report.issue_count:,} issues)")
    return lines
