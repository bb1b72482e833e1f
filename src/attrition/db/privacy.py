"""Data protection in the app database: the retention purge, and one employee's rows exported or forgotten.

**Purge.** Rows older than a cutoff go, each table by the time its row was stored:
``predictions.created_at``, ``outcomes.recorded_at``, ``drift_runs.started_at`` (the whole
run: its results are statistics of a window that is itself past retention). Each table is
deleted in chunks of ``batch_size`` rows, one short transaction per chunk, so a long purge
never holds locks for minutes and an interrupted one keeps what it did. Predictions go
oldest first (``created_at``, ``id``: the order ``latest_scores`` ranks by), so the chunk
that deletes an employee's latest score also deletes its ``latest_scores`` copy and bumps
the workforce data version in that transaction: the views never show a purged score.

**One employee.** Their rows are in ``employees`` (every snapshot), ``predictions``,
``latest_scores`` and ``outcomes``; audit events refer to them by ``employee:<number>``
subjects, by their outcome ids (``feedback``) or by their prediction ids / employee number
in ``detail``. Forgetting deletes the rows and pseudonymises those audit events (the trail
of who did what stays, without the link to the person), in one transaction that also
writes the forget's own audit event and bumps the workforce version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from attrition.db import data_versions
from attrition.db.latest_scores import writer
from attrition.db.models import AuditEvent, DriftRun, Outcome, Prediction, employees, latest_scores
from attrition.db.repositories import insert_audit
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SNAPSHOT_DATE

_PREDICTIONS = cast(sa.Table, Prediction.__table__)
_OUTCOMES = cast(sa.Table, Outcome.__table__)
_AUDIT = cast(sa.Table, AuditEvent.__table__)
_DRIFT_RUNS = cast(sa.Table, DriftRun.__table__)
#: Rows per purge transaction (and per IN list: under every driver's parameter limit).
BATCH_SIZE = 1000
_AUDIT_PAGE = 2000
#: What replaces a forgotten employee's identifiers in the audit log.
FORGOTTEN = "forgotten"
#: The tables holding one employee's rows, in export order.
EMPLOYEE_TABLES = ("employees", "predictions", "latest_scores", "outcomes", "audit_log")


@dataclass
class PurgeCounts:
    """Rows removed (or, in a dry run, that would be) per table, and the removed runs' report files."""

    predictions: int = 0
    latest_scores: int = 0
    outcomes: int = 0
    drift_runs: int = 0
    report_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "predictions": self.predictions,
            "latest_scores": self.latest_scores,
            "outcomes": self.outcomes,
            "drift_runs": self.drift_runs,
        }


# --- purge -----------------------------------------------------------------------------------


def count_older(engine: sa.Engine, cutoff: dt.datetime) -> PurgeCounts:
    """What :func:`purge_older` would remove, without removing it (the dry run)."""
    counts = PurgeCounts()
    with engine.connect() as conn:
        for name, column in (
            ("predictions", _PREDICTIONS.c.created_at),
            ("latest_scores", latest_scores.c.scored_at),  # a latest score goes with its prediction
            ("outcomes", _OUTCOMES.c.recorded_at),
            ("drift_runs", _DRIFT_RUNS.c.started_at),
        ):
            query = sa.select(sa.func.count()).select_from(column.table).where(column < cutoff)
            setattr(counts, name, int(conn.execute(query).scalar_one()))
        runs = conn.execute(
            sa.select(_DRIFT_RUNS.c.report_path, _DRIFT_RUNS.c.results).where(
                _DRIFT_RUNS.c.started_at < cutoff
            )
        )
        counts.report_paths = [p for row in runs for p in report_files(row.report_path, row.results)]
    return counts


def purge_older(engine: sa.Engine, cutoff: dt.datetime, batch_size: int = BATCH_SIZE) -> PurgeCounts:
    """Delete predictions, outcomes and drift runs stored before ``cutoff``, chunk by chunk.

    ``counts`` is filled as chunks commit, so on an error the caller can still say what was removed:
    the exception carries it as ``counts`` (see :class:`PurgeInterrupted`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    counts = PurgeCounts()
    try:
        _purge_predictions(engine, cutoff, batch_size, counts)
        for _conn, rows in _chunks(engine, _OUTCOMES.c.recorded_at, cutoff, batch_size):
            counts.outcomes += len(rows)
        for _conn, rows in _chunks(
            engine,
            _DRIFT_RUNS.c.started_at,
            cutoff,
            batch_size,
            _DRIFT_RUNS.c.report_path,
            _DRIFT_RUNS.c.results,
        ):
            counts.drift_runs += len(rows)
            counts.report_paths += [p for row in rows for p in report_files(row.report_path, row.results)]
    except sa.exc.SQLAlchemyError as exc:
        raise PurgeInterrupted(counts, exc) from exc
    return counts


class PurgeInterrupted(Exception):
    """A database error stopped the purge; ``counts`` is what the committed chunks removed."""

    def __init__(self, counts: PurgeCounts, error: sa.exc.SQLAlchemyError) -> None:
        super().__init__(str(error).splitlines()[0][:300])
        self.counts = counts
        self.error = error


def _purge_predictions(engine: sa.Engine, cutoff: dt.datetime, batch_size: int, counts: PurgeCounts) -> None:
    p = _PREDICTIONS.c
    for conn, rows in _chunks(engine, p.created_at, cutoff, batch_size, p.prediction_id):
        counts.predictions += len(rows)
        ids = [row.prediction_id for row in rows]
        removed = conn.execute(latest_scores.delete().where(latest_scores.c.prediction_id.in_(ids))).rowcount
        if removed:  # a latest score went: what the workforce views count changed
            counts.latest_scores += removed
            data_versions.bump(conn)


def _chunks(
    engine: sa.Engine, stored_at: sa.Column[Any], cutoff: dt.datetime, size: int, *extra: sa.Column[Any]
) -> Iterator[tuple[sa.Connection, list[sa.Row[Any]]]]:
    """Delete the oldest ``size`` rows of ``stored_at``'s table before ``cutoff``, one transaction each.

    Yields each chunk's connection (inside its transaction, after the DELETE) and its rows,
    so the caller can do more in the same transaction; the chunk commits when the caller
    asks for the next one. SELECT then DELETE by id: MySQL has no LIMIT in a DELETE's subquery.
    """
    table = stored_at.table
    key = table.c.id
    query = sa.select(key, *extra).where(stored_at < cutoff).order_by(stored_at, key).limit(size)
    while True:
        with writer(engine) as conn:
            rows = list(conn.execute(query))
            if not rows:
                return
            conn.execute(table.delete().where(key.in_([row.id for row in rows])))
            yield conn, rows
        if len(rows) < size:
            return


def report_files(report_path: str | None, results: Any) -> list[str]:
    """The report files a drift run wrote (its JSON, Markdown and HTML), as its row names them."""
    paths = [report_path] if report_path else []
    reports = results.get("reports") if isinstance(results, dict) else None
    if isinstance(reports, dict):
        paths += [str(p) for p in reports.values() if isinstance(p, str)]
    return sorted(set(paths))


# --- one employee ----------------------------------------------------------------------------


def employee_rows(engine: sa.Engine, number: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about employee ``number``, per table (``EMPLOYEE_TABLES``); empty lists when none."""
    with engine.connect() as conn:
        return _employee_rows(conn, number)


def _employee_rows(conn: sa.Connection, number: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {
        "employees": _rows(
            conn,
            sa.select(employees).where(employees.c[ID_COLUMN] == number).order_by(employees.c[SNAPSHOT_DATE]),
        ),
        "predictions": _rows(
            conn,
            sa.select(_PREDICTIONS)
            .where(_PREDICTIONS.c.employee_number == number)
            .order_by(_PREDICTIONS.c.created_at, _PREDICTIONS.c.id),
        ),
        "latest_scores": _rows(
            conn,
            sa.select(latest_scores)
            .where(latest_scores.c.employee_number == number)
            .order_by(latest_scores.c[SNAPSHOT_DATE]),
        ),
        "outcomes": _rows(
            conn,
            sa.select(_OUTCOMES).where(_OUTCOMES.c.employee_number == number).order_by(_OUTCOMES.c.id),
        ),
    }
    _fill_snapshot_inputs(found["predictions"], found["employees"])
    refs = _references(found, number)
    found["audit_log"] = [row for row in _audit_rows(conn) if refs.mentioned_in(row)]
    return found


def _fill_snapshot_inputs(predictions: list[dict[str, Any]], snapshots: list[dict[str, Any]]) -> None:
    """A snapshot score stores its key, not its inputs (0007): export them from the employee's row."""
    by_day = {row[SNAPSHOT_DATE]: row for row in snapshots}
    for row in predictions:
        if row["inputs"] is None:
            stored = by_day.get(row["snapshot_date"])
            row["inputs"] = {c: stored[c] for c in RECORD_COLUMNS} if stored is not None else {}


def _rows(conn: sa.Connection, query: sa.Select[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(query)]


def _audit_rows(conn: sa.Connection) -> Iterator[dict[str, Any]]:
    """The whole audit log, page by page (keyset on id): references hide in JSON, read portably here."""
    last = 0
    while True:
        query = sa.select(_AUDIT).where(_AUDIT.c.id > last).order_by(_AUDIT.c.id).limit(_AUDIT_PAGE)
        page = _rows(conn, query)
        yield from page
        if len(page) < _AUDIT_PAGE:
            return
        last = int(page[-1]["id"])


@dataclass(frozen=True)
class _References:
    """How audit events refer to one employee: the number, their prediction ids, their outcome ids."""

    number: int
    prediction_ids: set[str]
    outcome_ids: set[str]

    @property
    def subject(self) -> str:
        return employee_subject(self.number)

    def subject_matches(self, row: Mapping[str, Any]) -> bool:
        subject = row["subject"]
        return subject == self.subject or (row["action"] == "feedback" and subject in self.outcome_ids)

    def mentioned_in(self, row: Mapping[str, Any]) -> bool:
        return self.subject_matches(row) or self.scrub(row["detail"]) != row["detail"]

    def scrub(self, value: Any, key: str | None = None) -> Any:
        """``value`` with the employee's number and prediction ids replaced by ``FORGOTTEN``."""
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, key) for v in value]
        if isinstance(value, str) and value in self.prediction_ids:
            return FORGOTTEN
        if key == "employee_number" and str(value) == str(self.number):
            return FORGOTTEN
        return value


def _references(found: Mapping[str, list[dict[str, Any]]], number: int) -> _References:
    predictions = {str(r["prediction_id"]) for r in found["predictions"]}
    outcomes = found["outcomes"]
    predictions |= {str(r["prediction_id"]) for r in outcomes if r["prediction_id"]}
    return _References(number, predictions, {str(r["id"]) for r in outcomes})


def employee_subject(number: int) -> str:
    """The audit subject naming an employee (``employee.export`` events use it)."""
    return f"employee:{number}"


def forget_employee(
    engine: sa.Engine, number: int, *, actor: str, reference: str, detail: Mapping[str, Any]
) -> dict[str, int]:
    """Delete employee ``number``'s rows, pseudonymise the audit events naming them, record the forget.

    One transaction: the forget's audit event (subject ``forget:<reference>``, ``detail`` plus
    the counts; never the number) commits with the deletions or not at all. Returns rows
    removed per table (``audit_log``: events pseudonymised).
    """
    with writer(engine) as conn:
        found = _employee_rows(conn, number)
        counts = {
            "latest_scores": _delete(conn, latest_scores, latest_scores.c.employee_number == number),
            "predictions": _delete(conn, _PREDICTIONS, _PREDICTIONS.c.employee_number == number),
            "outcomes": _delete(
                conn, _OUTCOMES, _OUTCOMES.c.id.in_([r["id"] for r in found["outcomes"]] or [-1])
            ),
            "employees": _delete(conn, employees, employees.c[ID_COLUMN] == number),
        }
        counts["audit_log"] = _pseudonymise_audit(conn, found, number, reference)
        insert_audit(
            conn,
            actor,
            "employee.forget",
            f"forget:{reference}",
            {**detail, "outcome": "forgotten", "rows": counts},
        )
        if counts["employees"] or counts["latest_scores"]:
            data_versions.bump(conn)
    return counts


def _delete(conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    return int(conn.execute(table.delete().where(where)).rowcount)


def _pseudonymise_audit(
    conn: sa.Connection, found: Mapping[str, list[dict[str, Any]]], number: int, reference: str
) -> int:
    refs = _references(found, number)
    for row in found["audit_log"]:
        subject = f"{FORGOTTEN}:{reference}" if refs.subject_matches(row) else row["subject"]
        detail = refs.scrub(row["detail"])
        conn.execute(
            _AUDIT.update().where(_AUDIT.c.id == row["id"]).values(subject=subject[:255], detail=detail)
        )
    return len(found["audit_log"])
