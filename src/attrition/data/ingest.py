"""Stream an HRIS CSV export into the ``employees`` table, validating every row.

The file is read in chunks (``dtype=str``: nothing is coerced before
validation), so memory stays flat however large it is. Good rows are stored
(idempotently: a re-ingest reports them as already present), bad rows are
rejected with line, column and reason, and every issue goes to
``<input stem>.rejects.csv`` beside the input (or under ``settings.reports_dir``
when that folder is not writable). Whole-file problems (unreadable, empty, no
header, missing or repeated columns) stop the run before anything is stored.

Line numbers are physical file lines (header = 1) across chunks; blank lines are
skipped but counted. A value spanning lines inside quotes shifts later numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import sqlalchemy as sa

from attrition.data.validation import (
    KNOWN_EXTRA_COLUMNS,
    Issue,
    SeenKeys,
    check_columns,
    validate_frame,
)
from attrition.db.repositories import insert_employees
from attrition.schema import ALL_COLUMNS, SNAPSHOT_DATE

logger = logging.getLogger(__name__)

#: Progress callback: rows processed so far, bytes of the file read so far.
Progress = Callable[[int, int], None]

REPORT_COLUMNS: tuple[str, ...] = ("row", "column", "severity", "reason", "value")
#: Issues kept in the report object for the terminal (all of them go to the CSV).
SAMPLE_ISSUES = 20
#: Spare columns that catch lines with more fields than the header (see ``_read_chunks``).
_OVERFLOW = tuple(f"__overflow_{i}__" for i in range(8))
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_MAX_HEADER_BYTES = 1 << 20


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
) -> IngestReport:
    """Validate ``path`` row by row and store the good rows in ``employees``.

    Snapshot date: ``snapshot_date`` if given (a ``snapshot_date`` column in the
    file is then ignored), else that column per row, else today. Raises
    :class:`IngestError` for whole-file problems, before anything is stored.
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
        _stream(path, header, engine, fixed_date, chunk_rows, progress, writer)
        if report.rows_read == 0:
            writer.write([Issue(None, None, "warning", "the file has a header but no data rows")])
    logger.info(
        "ingested %s: %d read, %d stored, %d already present, %d rejected",
        path.name,
        report.rows_read,
        report.stored,
        report.already_present,
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
) -> None:
    report = writer.report
    seen = SeenKeys()
    dates: set[dt.date] = set()
    keep = [c for c in header if c in ALL_COLUMNS or (c in KNOWN_EXTRA_COLUMNS and fixed_date is None)]
    with path.open("rb") as handle:
        for chunk, lines, malformed in _read_chunks(handle, header, chunk_rows):
            report.rows_read += len(malformed)
            report.rejected_rows += len(malformed)
            blank = chunk[keep].isna().all(axis=1).to_numpy()
            if blank.any():
                chunk, lines = chunk[~blank].reset_index(drop=True), lines[~blank]
            report.rows_read += len(chunk)
            result = validate_frame(chunk[keep], row_numbers=lines, seen=seen)
            writer.write(sorted([*malformed, *result.issues], key=lambda i: i.row or 0))
            report.rejected_rows += result.rejected_rows
            report.warning_rows += result.warning_rows
            valid = result.valid
            if fixed_date is not None:
                valid[SNAPSHOT_DATE] = fixed_date
            else:
                dates.update(valid[SNAPSHOT_DATE].unique())
            stats = insert_employees(engine, valid, source=path.name)
            report.stored += stats.inserted
            report.already_present += stats.skipped
            if progress is not None:
                progress(report.rows_read, handle.tell())
    report.snapshot_dates = (fixed_date,) if fixed_date else tuple(sorted(dates))
    report.snapshot_date = report.snapshot_dates[-1] if report.snapshot_dates else None


def _read_chunks(
    handle: IO[bytes], header: list[str], chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, np.ndarray, list[Issue]]]:
    """Chunks of raw text with their file line numbers, plus malformed lines as issues.

    Spare trailing columns catch lines with more fields than the header (pandas
    would otherwise truncate such a line silently at a chunk start); lines longer
    still are skipped by pandas with a warning that names the line, which keeps
    the numbering right.
    """
    names = [*_unique(header), *_OVERFLOW]
    reader = pd.read_csv(
        handle,
        header=None,
        skiprows=1,
        names=names,
        dtype=str,
        chunksize=chunk_rows,
        skip_blank_lines=False,
        on_bad_lines="warn",
        encoding="utf-8",
        encoding_errors="replace",
    )
    skipped: list[int] = []
    position = 0
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            chunk = next(reader, None)
        malformed = []
        for warning in caught:
            for match in _SKIPPED_LINE.finditer(str(warning.message)):
                line, expected, saw = (int(g) for g in match.groups())
                skipped.append(line)
                malformed.append(_malformed(line, expected - len(_OVERFLOW), saw))
        skipped.sort()
        if chunk is None:
            if malformed:
                yield pd.DataFrame(columns=names), np.empty(0, dtype=np.int64), malformed
            return
        lines = _line_numbers(position, len(chunk), skipped)
        position += len(chunk)
        overflow = chunk[list(_OVERFLOW)].notna()
        too_long = overflow.any(axis=1).to_numpy()
        if too_long.any():
            malformed += [_malformed(int(line), len(header)) for line in lines[too_long]]
            chunk, lines = chunk[~too_long].reset_index(drop=True), lines[~too_long]
        yield chunk.drop(columns=list(_OVERFLOW)), lines, malformed


def _line_numbers(start: int, count: int, skipped: list[int]) -> np.ndarray:
    """File lines of data rows ``start .. start+count`` (header is line 1, skipped lines excluded).

    The k-th kept line is ``k + 2`` plus the skipped lines at or before it: with
    ``skipped`` sorted, ``skipped[i] - i`` is the kept-line index each one precedes.
    """
    lines = np.arange(start, start + count, dtype=np.int64) + 2
    shifted = np.asarray(skipped, dtype=np.int64) - np.arange(len(skipped), dtype=np.int64)
    return lines + np.searchsorted(shifted, lines, side="right")


def _malformed(line: int, expected: int, saw: int | None = None) -> Issue:
    count = f" ({saw})" if saw is not None else ""
    return Issue(
        line,
        None,
        "error",
        f"malformed line: more fields{count} than the header's {expected} columns "
        "(an unquoted comma in a value?)",
    )


def _unique(names: list[str]) -> list[str]:
    """Header names made unique for pandas (repeated contract columns are already an error)."""
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in out:
            n += 1
            candidate = f"{name}#{n}"
        out.append(candidate)
    return out


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
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    return [name.strip() for name in next(csv.reader([text]))]


def _require_employees_table(engine: sa.Engine) -> None:
    try:
        present = sa.inspect(engine).has_table("employees")
    except sa.exc.SQLAlchemyError as exc:
        raise IngestError(f"cannot reach the app database: {exc}") from exc
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
                i.column or "",
                i.severity,
                i.reason,
                "" if i.value is None else i.value,
            )
            for i in issues
        )
        errors = sum(i.severity == "error" for i in issues)
        self.report.error_count += errors
        self.report.warning_count += len(issues) - errors
        room = SAMPLE_ISSUES - len(self.report.sample_issues)
        if room > 0:
            self.report.sample_issues.extend(issues[:room])


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
        lines.append(f"{issue.severity:<7} {where}{column}: {issue.reason}")
    more = report.error_count + report.warning_count - len(report.sample_issues)
    if more > 0:
        lines.append(f"... and {more:,} more issues in the report")
    dates = ", ".join(d.isoformat() for d in report.snapshot_dates) or "none"
    counts = (
        ("rows read", f"{report.rows_read:,}"),
        ("stored", f"{report.stored:,}"),
        ("already present", f"{report.already_present:,}"),
        ("rejected", f"{report.rejected_rows:,}"),
        ("with warnings", f"{report.warning_rows:,} (kept)"),
        ("snapshot date", dates),
        ("issues report", str(report.issues_path)),
    )
    return lines + [f"{label:<16} {value}" for label, value in counts]
