"""Stream an HRIS CSV export into the ``employees`` table, validating every row.

The file is read in chunks (``dtype=str``: nothing is coerced before
validation), so memory stays flat however large it is. Good rows are stored
(idempotently: a re-ingest reports identical rows as already present, and rows
whose values differ from the stored ones as warnings, keeping the stored values
unless ``replace`` is given), bad rows are rejected with line, column and
reason, and every issue goes to
``<input stem>.rejects.csv`` beside the input (or under ``settings.reports_dir``
when that folder is not writable). Whole-file problems (unreadable, empty, no
header, missing or repeated columns) stop the run before anything is stored.
A malformed CSV line (a stray quote, more fields than the header) is rejected like
a bad row and reading resumes on the next line, however many there are (see
``csv_chunks``). Report values are cut to a plausible length and neutralised for
spreadsheets (``csv_safety``).

Line numbers are physical file lines (header = 1) across chunks; blank lines are
skipped but counted; a record whose value spans lines has the number of its first.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import sqlalchemy as sa

from attrition.data.csv_chunks import MAX_SHOWN_CHARS, ChunkReader
from attrition.data.csv_safety import neutralise_cell
from attrition.data.validation import (
    KNOWN_EXTRA_COLUMNS,
    Issue,
    SeenKeys,
    check_columns,
    validate_frame,
)
from attrition.db.engine import refresh_statistics
from attrition.db.models import employees
from attrition.db.repositories import RowDifference, insert_employees
from attrition.errors import short_error
from attrition.schema import ALL_COLUMNS, ID_COLUMN, SNAPSHOT_DATE

logger = logging.getLogger(__name__)

#: Progress callback: rows processed so far, bytes of the file read so far.
Progress = Callable[[int, int], None]

REPORT_COLUMNS: tuple[str, ...] = ("row", "column", "severity", "reason", "value")
#: Issues kept in the report object for the terminal (all of them go to the CSV).
SAMPLE_ISSUES = 20
#: Columns named per row that differs from the stored snapshot (the rest are counted).
MAX_DIFFERENCES_NAMED = 3
_MAX_HEADER_BYTES = 1 << 20
#: Longest reason written to the report (a reason may quote a value).
_MAX_REASON_CHARS = 600
#: File signatures of binary formats people export by mistake instead of CSV.
_BINARY_KINDS = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)


class IngestError(Exception):
    """The file as a whole could not be ingested; nothing was stored."""

    def __init__(self, message: str, issues_path: Path | None = None) -> None:
        super().__init__(message)
        self.issues_path = issues_path


@dataclass
class IngestReport:
    """What an ingest did: counts, where the issues went, which snapshot."""

    rows_read: int = 0
    stored: int = 0
    already_present: int = 0
    #: Rows whose values differ from the stored row of the same employee and snapshot,
    #: left as stored (``differing``) or overwritten with ``replace`` (``replaced``).
    differing: int = 0
    replaced: int = 0
    rejected_rows: int = 0
    warning_rows: int = 0
    issues_path: Path | None = None
    snapshot_date: dt.date | None = None
    snapshot_dates: tuple[dt.date, ...] = ()
    error_count: int = 0
    warning_count: int = 0
    sample_issues: list[Issue] = field(default_factory=list)


def ingest_csv(
    path: str | Path,
    engine: sa.Engine,
    snapshot_date: dt.date | None = None,
    chunk_rows: int = 50_000,
    progress: Progress | None = None,
    *,
    reports_dir: Path | None = None,
    replace: bool = False,
) -> IngestReport:
    """Validate ``path`` row by row and store the good rows in ``employees``.

    Snapshot date: ``snapshot_date`` if given (a ``snapshot_date`` column in the
    file is then ignored), else that column per row, else today. Rows already
    stored for the same employee and snapshot are left alone when identical; when
    their values differ they are reported (a warning on their line) and kept as
    stored, or overwritten with ``replace``. Raises :class:`IngestError` for
    whole-file problems, before anything is stored.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"cannot read {path}: no such file")
    _require_employees_table(engine)
    report = IngestReport()
    with _IssueWriter(path, reports_dir, report) as writer:
        try:
            header = _read_header(path)
        except IngestError as exc:
            writer.write([Issue(None, None, "error", str(exc))])
            exc.issues_path = writer.path
            raise
        file_issues = check_columns(header)
        from_file = snapshot_date is None and SNAPSHOT_DATE in header
        if SNAPSHOT_DATE in header and not from_file:
            reason = f"{SNAPSHOT_DATE} column ignored: a snapshot date was given"
            file_issues.append(Issue(None, SNAPSHOT_DATE, "warning", reason))
        writer.write(file_issues)
        errors = [i.reason for i in file_issues if i.severity == "error"]
        if errors:
            raise IngestError(f"{path}: " + "; ".join(errors), writer.path)
        fixed_date = None if from_file else (snapshot_date or dt.date.today())
        _stream(path, header, engine, fixed_date, chunk_rows, progress, writer, replace)
        if report.stored or report.replaced:
            refresh_statistics(engine, employees.name)
        if report.rows_read == 0:
            writer.write([Issue(None, None, "warning", "the file has a header but no data rows")])
    logger.info(
        "ingested %s: %d read, %d stored, %d already present, %d differing, %d replaced, %d rejected",
        path.name,
        report.rows_read,
        report.stored,
        report.already_present,
        report.differing,
        report.replaced,
        report.rejected_rows,
    )
    return report


def _stream(
    path: Path,
    header: list[str],
    engine: sa.Engine,
    fixed_date: dt.date | None,
    chunk_rows: int,
    progress: Progress | None,
    writer: _IssueWriter,
    replace: bool,
) -> None:
    report = writer.report
    seen = SeenKeys()
    dates: set[dt.date] = set()
    keep = [c for c in header if c in ALL_COLUMNS or (c in KNOWN_EXTRA_COLUMNS and fixed_date is None)]
    with path.open("rb") as handle:
        reader = ChunkReader(handle, header, chunk_rows)
        for chunk, lines, malformed, unreadable in reader:
            report.rows_read += unreadable
            report.rejected_rows += unreadable
            blank = chunk[keep].isna().all(axis=1).to_numpy()
            if blank.any():
                chunk, lines = chunk[~blank].reset_index(drop=True), lines[~blank]
            report.rows_read += len(chunk)
            result = validate_frame(chunk[keep], row_numbers=lines, seen=seen)
            report.rejected_rows += result.rejected_rows
            report.warning_rows += result.warning_rows
            valid = result.valid
            if fixed_date is not None:
                valid[SNAPSHOT_DATE] = fixed_date
            else:
                dates.update(valid[SNAPSHOT_DATE].unique())
            stats = insert_employees(engine, valid, source=path.name, replace=replace)
            kept_lines = lines if result.kept is None else lines[result.kept]
            differing = _difference_issues(valid, kept_lines, stats.differing, replace)
            writer.write(sorted([*malformed, *result.issues, *differing], key=lambda i: i.row or 0))
            report.stored += stats.inserted
            report.already_present += stats.skipped
            report.differing += len(stats.differing) - stats.replaced
            report.replaced += stats.replaced
            if progress is not None:
                progress(report.rows_read, handle.tell())
    report.snapshot_dates = (fixed_date,) if fixed_date else tuple(sorted(dates))
    report.snapshot_date = report.snapshot_dates[-1] if report.snapshot_dates else None


def _difference_issues(
    valid: pd.DataFrame, lines: np.ndarray, differing: tuple[RowDifference, ...], replaced: bool
) -> list[Issue]:
    """One warning per row whose values differ from the stored row, on its file line."""
    if not differing:
        return []
    snapshots = pd.to_datetime(valid[SNAPSHOT_DATE]).dt.date.tolist()
    line_of = dict(zip(zip(valid[ID_COLUMN].tolist(), snapshots, strict=True), lines.tolist(), strict=True))
    action = (
        "the stored row was replaced"
        if replaced
        else "stored values kept; re-ingest with --replace to overwrite"
    )
    issues = []
    for diff in differing:
        names = list(diff.changes)
        shown = ", ".join(
            f"{c} (stored {_show(diff.changes[c][0])}, file {_show(diff.changes[c][1])})"
            for c in names[:MAX_DIFFERENCES_NAMED]
        )
        more = f" and {len(names) - MAX_DIFFERENCES_NAMED} more" if len(names) > MAX_DIFFERENCES_NAMED else ""
        first = diff.changes[names[0]][1]
        issues.append(
            Issue(
                line_of.get((diff.employee_number, diff.snapshot_date)),
                names[0],
                "warning",
                f"differs from the stored snapshot {diff.snapshot_date.isoformat()} in {shown}{more}: {action}",
                None if first is None else str(first),
            )
        )
    return issues


def _show(value: object) -> str:
    return "empty" if value is None else str(value)


def _read_header(path: Path) -> list[str]:
    """The header's column names (stripped), or IngestError for an unreadable/empty file."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(_MAX_HEADER_BYTES)
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not first.strip():
        what = "is empty" if not first else "starts with a blank line"
        raise IngestError(f"{path} {what}: expected a CSV header line, then data rows")
    _require_text(path, first)
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    try:
        return [name.strip() for name in next(csv.reader([text]))]
    except csv.Error as exc:
        raise IngestError(f"{path}: cannot read the header line as CSV ({exc})") from exc


def _require_text(path: Path, first: bytes) -> None:
    """IngestError when the first line is binary data rather than UTF-8 CSV text."""
    kind = next((name for magic, name in _BINARY_KINDS if first.startswith(magic)), None)
    sample = first[:4096]
    if kind is None and b"\x00" in sample:
        kind = "binary data (NUL bytes)"
    if kind is None:
        text = sample.decode("utf-8", errors="replace")
        odd = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\r\n") for ch in text)
        if odd > max(8, len(text) // 20):
            kind = "binary data (bytes that are neither UTF-8 text nor CSV)"
    if kind is not None:
        raise IngestError(
            f"{path} is not a CSV text file: it looks like {kind}; expected UTF-8 comma-separated "
            "text whose first line is a header naming the contract columns"
        )


def _require_employees_table(engine: sa.Engine) -> None:
    try:
        present = sa.inspect(engine).has_table("employees")
    except sa.exc.SQLAlchemyError as exc:
        raise IngestError(f"cannot reach the app database: {short_error(exc)}") from exc
    if not present:
        url = engine.url.render_as_string(hide_password=True)
        raise IngestError(f"the employees table does not exist in {url}: run `attrition db upgrade` first")


class _IssueWriter:
    """Appends issues to the rejects CSV and keeps counts and a sample for the report."""

    def __init__(self, source: Path, reports_dir: Path | None, report: IngestReport) -> None:
        self.report = report
        self._handle, self.path = _open_report(source, reports_dir)
        self._csv = csv.writer(self._handle)
        self._csv.writerow(REPORT_COLUMNS)
        report.issues_path = self.path

    def __enter__(self) -> _IssueWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def write(self, issues: list[Issue]) -> None:
        if not issues:
            return
        self._csv.writerows(
            (
                "" if i.row is None else i.row,
                neutralise_cell(i.column or ""),
                i.severity,
                neutralise_cell(_clip(i.reason, _MAX_REASON_CHARS)),
                "" if i.value is None else neutralise_cell(_clip(i.value, MAX_SHOWN_CHARS)),
            )
            for i in issues
        )
        errors = sum(i.severity == "error" for i in issues)
        self.report.error_count += errors
        self.report.warning_count += len(issues) - errors
        room = SAMPLE_ISSUES - len(self.report.sample_issues)
        if room > 0:
            self.report.sample_issues.extend(issues[:room])


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was (a stray quote's huge field)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _open_report(source: Path, reports_dir: Path | None) -> tuple[IO[str], Path]:
    name = f"{source.stem}.rejects.csv"
    beside = source.parent / name
    try:
        return beside.open("w", newline="", encoding="utf-8"), beside
    except OSError:
        if reports_dir is None:
            from attrition.config import get_settings

            reports_dir = get_settings().reports_dir
        fallback = Path(reports_dir) / name
        logger.warning("cannot write %s; writing the issues report to %s", beside, fallback)
        fallback.parent.mkdir(parents=True, exist_ok=True)
        return fallback.open("w", newline="", encoding="utf-8"), fallback


def summary_lines(report: IngestReport) -> list[str]:
    """The report as lines for a terminal: the first issues, then the counts."""
    lines = []
    for issue in report.sample_issues:
        where = "file" if issue.row is None else f"line {issue.row}"
        column = f", {issue.column}" if issue.column else ""
        lines.append(f"{issue.severity:<7} {where}{column}: {_clip(issue.reason, _MAX_REASON_CHARS)}")
    more = report.error_count + report.warning_count - len(report.sample_issues)
    if more > 0:
        lines.append(f"... and {more:,} more issues in the report")
    dates = ", ".join(d.isoformat() for d in report.snapshot_dates) or "none"
    counts = (
        ("rows read", f"{report.rows_read:,}"),
        ("stored", f"{report.stored:,}"),
        ("already present", f"{report.already_present:,}"),
        *((("replaced", f"{report.replaced:,}"),) if report.replaced else ()),
        *((("differing", f"{report.differing:,} (stored values kept)"),) if report.differing else ()),
        ("rejected", f"{report.rejected_rows:,}"),
        ("with warnings", f"{report.warning_rows:,} (kept)"),
        ("snapshot date", dates),
        ("issues report", str(report.issues_path)),
    )
    lines += [f"{label:<16} {value}" for label, value in counts]
    if report.differing:
        rows = "1 row differs" if report.differing == 1 else f"{report.differing:,} rows differ"
        lines.append(
            f"{rows} from the stored snapshot; stored values kept — re-ingest with --replace to overwrite"
        )
    if report.replaced:
        rows = "1 row" if report.replaced == 1 else f"{report.replaced:,} rows"
        lines.append(f"{rows} differing from the stored snapshot replaced with the file's values")
    return lines
