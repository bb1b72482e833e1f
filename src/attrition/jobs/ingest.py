"""Validate an HRIS export and store its good rows in the employees table.

Exit codes: 0 all rows stored or already present (warnings allowed); 1 some rows
rejected or lines unreadable (a stray quote), the good ones stored; 2 nothing ingested
(unreadable, empty or binary file, no header, database failure).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from attrition.config import Settings
from attrition.data.ingest import IngestError, IngestReport, ingest_csv, summary_lines
from attrition.db.engine import get_engine
from attrition.errors import database_error
from attrition.jobs.base import Outcome, Progress


@dataclass(frozen=True)
class IngestRequest:
    """The CSV, its snapshot date (None: its own column, else today) and how to treat changed rows."""

    file: Path
    snapshot_date: dt.date | None = None
    chunk_rows: int = 50_000
    replace: bool = False


@dataclass(kw_only=True)
class IngestOutcome(Outcome):
    """The report (and its ``summary`` for a person); on failure, ``error`` says where to look next."""

    report: IngestReport | None = None
    summary: list[str] = field(default_factory=list)
    issues_path: Path | None = None
    database_failed: bool = False  # rows stored before the failure are kept; re-running is safe


def ingest(settings: Settings, request: IngestRequest, progress: Progress | None = None) -> IngestOutcome:
    """Ingest the file; ``progress(rows, bytes_read)`` as it goes."""
    try:
        report = ingest_csv(
            request.file,
            get_engine(settings.db_url),
            request.snapshot_date,
            chunk_rows=request.chunk_rows,
            progress=progress,
            replace=request.replace,
        )
    except IngestError as exc:
        where = f"\nissues report: {exc.issues_path}" if exc.issues_path else ""
        return IngestOutcome(exit_code=2, error=f"{exc}{where}", issues_path=exc.issues_path)
    except SQLAlchemyError as exc:
        stored = database_error(exc, settings.db_url, "storing the rows")
        error = f"{stored}\nrows stored before it are kept; re-running is safe"
        return IngestOutcome(exit_code=2, error=error, database_failed=True)
    return IngestOutcome(
        exit_code=1 if report.rejected_rows else 0, report=report, summary=summary_lines(report)
    )
