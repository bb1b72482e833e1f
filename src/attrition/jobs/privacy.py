"""Data protection: the retention purge, and everything about one employee exported or forgotten.

``purge`` removes the prediction log, outcomes and drift runs (with their report files)
stored more than ``retention_days`` ago (``db/privacy.py`` says how, in short chunks).
``export_employee`` collects one employee's rows from every table and every file that
holds them: the app database, the score jobs' files under ``<data_dir>/score_jobs`` and
the drift reference data in ``reference_dir``. ``forget_employee`` deletes them all:
rows and file lines are removed, audit events that named the employee are pseudonymised
(the trail of who did what stays). Every purge, export and forget is an audit event with
actor, time and outcome; a forget's event holds a reference and counts, never the number.

Exit codes: 0 done; 1 nothing stored about the employee, a running score job holds
their row (retry when it ends), or an error (database, files) that the message names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from attrition.audit import AuditOutcome
from attrition.config import Settings
from attrition.db import privacy as db
from attrition.db.engine import get_engine
from attrition.db.models import utcnow
from attrition.db.repositories import record_audit
from attrition.jobs.base import Outcome
from attrition.jobs.privacy_files import active_jobs, forget_files, reference_lines, score_job_lines
from attrition.registry.privacy import forget_runs, run_lines
from attrition.registry.store import RegistryError

logger = logging.getLogger(__name__)

UNKNOWN_SUBJECT = "employee:unknown"
#: Bytes that are not UTF-8 pass through a rewrite unchanged.


# --- purge -----------------------------------------------------------------------------------


@dataclass
class PurgeRequest:
    """Remove what was stored more than ``older_than_days`` ago (None: ``settings.retention_days``)."""

    older_than_days: int | None = None
    dry_run: bool = False
    batch_size: int = db.BATCH_SIZE
    actor: str = "cli"


@dataclass(kw_only=True)
class PurgeOutcome(Outcome):
    """What was removed (or, dry run, would be) before ``cutoff``; ``report_files`` deleted from disk."""

    days: int
    cutoff: dt.datetime
    dry_run: bool
    counts: db.PurgeCounts = field(default_factory=db.PurgeCounts)
    report_files: int = 0


def purge(settings: Settings, request: PurgeRequest) -> PurgeOutcome:
    """The retention purge; a database error ends it with what the committed chunks removed."""
    days = request.older_than_days or settings.retention_days
    outcome = PurgeOutcome(days=days, cutoff=utcnow() - dt.timedelta(days=days), dry_run=request.dry_run)
    engine = get_engine(settings.db_url)
    if request.dry_run:
        try:
            outcome.counts = db.count_older(engine, outcome.cutoff)
        except sa.exc.SQLAlchemyError as exc:
            outcome.exit_code, outcome.error = 1, f"database error: {_short(exc)}"
        outcome.report_files = len(_removable_reports(settings, outcome.counts.report_paths))
        return outcome
    try:
        outcome.counts = db.purge_older(engine, outcome.cutoff, request.batch_size)
    except db.PurgeInterrupted as exc:
        outcome.counts, outcome.exit_code = exc.counts, 1
        outcome.error = f"database error, purge stopped (the removals listed are committed): {exc}"
    outcome.report_files = _remove_reports(settings, outcome.counts.report_paths)
    _audit_purge(engine, request.actor, outcome)
    return outcome


def _audit_purge(engine: sa.Engine, actor: str, outcome: PurgeOutcome) -> None:
    detail = {
        "outcome": "failed" if outcome.error else "purged",
        "cutoff": outcome.cutoff.isoformat(timespec="seconds"),
        "removed": outcome.counts.as_dict(),
        "report_files": outcome.report_files,
    }
    try:
        result = AuditOutcome.FAILED if outcome.error else AuditOutcome.OK
        record_audit(engine, actor, "retention.purge", f"older-than:{outcome.days}d", detail, result)
    except sa.exc.SQLAlchemyError as exc:
        outcome.exit_code = 1
        outcome.error = (outcome.error or "purged") + f"; the audit event was not recorded: {_short(exc)}"


def _removable_reports(settings: Settings, paths: list[str]) -> list[Path]:
    """The removed runs' report files that exist inside ``reports_dir`` (nothing outside it is touched)."""
    root = Path(settings.reports_dir).resolve()
    found = [Path(p).resolve() for p in paths]
    return [p for p in found if p.is_relative_to(root) and p.is_file()]


def _remove_reports(settings: Settings, paths: list[str]) -> int:
    removed = 0
    for path in _removable_reports(settings, paths):
        try:
            path.unlink()
            removed += 1
        except OSError as exc:
            logger.warning("drift report %s not removed: %s", path.name, exc.strerror)
    return removed


def purge_lines(outcome: PurgeOutcome) -> list[str]:
    """What the purge removed (or would), for a person."""
    c = outcome.counts
    verb = "would remove" if outcome.dry_run else "removed"
    return [
        f"{verb} what was stored before {outcome.cutoff:%Y-%m-%d %H:%M} UTC (older than {outcome.days} days):",
        f"  predictions    {c.predictions:>10,}",
        f"  latest scores  {c.latest_scores:>10,}  (employees' current scores among those predictions)",
        f"  outcomes       {c.outcomes:>10,}",
        f"  drift runs     {c.drift_runs:>10,}  (and {outcome.report_files:,} of their report files)",
    ]


# --- one employee ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class ExportOutcome(Outcome):
    """Everything stored about one employee: ``data`` is what ``to_json`` writes."""

    number: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class ForgetOutcome(Outcome):
    """Rows deleted per table (``audit_log``: events pseudonymised) and lines per file kind."""

    reference: str
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)


def export_employee(settings: Settings, number: int, actor: str) -> ExportOutcome:
    """Collect employee ``number``'s rows and file lines; exit 1 when nothing is stored about them."""
    engine = get_engine(settings.db_url)
    try:
        data = _collect(settings, engine, number)
        found = _found(data)
        counts = {name: len(rows) for name, rows in data["tables"].items()}
        if found:
            detail = {"outcome": "exported", "rows": counts}
            record_audit(engine, actor, "employee.export", db.employee_subject(number), detail)
        else:  # a number nothing is stored about is not written down either (nor is a forgotten one)
            record_audit(
                engine,
                actor,
                "employee.export",
                UNKNOWN_SUBJECT,
                {"outcome": "not_found"},
                AuditOutcome.NOT_FOUND,
            )
    except (sa.exc.SQLAlchemyError, RegistryError, OSError, ValueError) as exc:
        return ExportOutcome(number=number, exit_code=1, error=f"export failed: {_short(exc)}")
    if not found:
        return ExportOutcome(number=number, exit_code=1, error=_nothing_stored(number))
    return ExportOutcome(number=number, data=data)


def forget_employee(
    settings: Settings, number: int, actor: str, reference: str | None = None
) -> ForgetOutcome:
    """Delete everything about employee ``number``; the audit event names ``reference``, not them.

    Files first, then the database in one transaction with the audit event: a failure
    leaves the rest for a re-run (which finds only what is left).
    """
    outcome = ForgetOutcome(reference=reference or uuid.uuid4().hex)
    engine = get_engine(settings.db_url)
    audit = {"actor": actor, "reference": outcome.reference}
    try:
        data = _collect(settings, engine, number)
        if not _found(data):
            _audit_forget(engine, audit, AuditOutcome.NOT_FOUND)
            outcome.exit_code, outcome.error = 1, _nothing_stored(number)
            return outcome
        busy = active_jobs(settings, data["files"]["score_jobs"])
        if busy:
            _audit_forget(engine, audit, AuditOutcome.REFUSED)
            outcome.exit_code = 1
            outcome.error = f"score job {busy[0]} is running and holds the employee's row: retry when it ends"
            return outcome
        outcome.files = forget_files(settings, number) | {"mlflow_runs": forget_runs(settings, number)}
        detail = {"reference": outcome.reference, "files": outcome.files}
        outcome.rows = db.forget_employee(
            engine, number, actor=actor, reference=outcome.reference, detail=detail
        )
    except (sa.exc.SQLAlchemyError, RegistryError, OSError, ValueError) as exc:
        _audit_forget(engine, audit, AuditOutcome.FAILED, files=outcome.files)
        outcome.exit_code = 1
        outcome.error = f"forget failed, re-run it to finish: {_short(exc)}"
    return outcome


def _audit_forget(engine: sa.Engine, audit: dict[str, str], result: AuditOutcome, **extra: Any) -> None:
    """A forget that did not complete, in the audit log (a completed one is written with its deletions)."""
    try:
        detail = {"outcome": result.value, "reference": audit["reference"], **extra}
        subject = f"forget:{audit['reference']}"
        record_audit(engine, audit["actor"], "employee.forget", subject, detail, result)
    except sa.exc.SQLAlchemyError as exc:
        logger.error("forget %s: audit event not recorded: %s", audit["reference"], _short(exc))


def _nothing_stored(number: int) -> str:
    return f"nothing is stored about employee {number} (no table or file holds that EmployeeNumber)"


def _collect(settings: Settings, engine: sa.Engine, number: int) -> dict[str, Any]:
    return {
        "employee_number": number,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tables": db.employee_rows(engine, number),
        "files": {
            "score_jobs": list(score_job_lines(settings, number)),
            "reference_data": list(reference_lines(settings, number)),
            "mlflow_runs": run_lines(settings, number),
        },
    }


def _found(data: dict[str, Any]) -> bool:
    """Data about the employee: rows or file lines (audit events naming them alone are not)."""
    tables = data["tables"]
    return any(tables[t] for t in tables if t != "audit_log") or any(data["files"].values())


def to_json(data: dict[str, Any]) -> str:
    """The export as JSON (dates ISO 8601, numpy scalars as plain numbers)."""
    return json.dumps(data, indent=2, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def forget_lines(outcome: ForgetOutcome) -> list[str]:
    lines = [f"forgotten; audit reference {outcome.reference} (keep it with the request):"]
    lines += [f"  {name:<15} {count:>6}" for name, count in outcome.rows.items()]
    lines += [f"  {name:<15} {count:>6}  (lines in files)" for name, count in outcome.files.items()]
    return lines


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
