"""One employee's lines in the files the platform keeps: score-job files and the drift reference data.

Read for ``attrition export-employee``, removed (atomically, files rewritten 0600) for
``attrition forget-employee``; ``jobs/privacy.py`` does the database side and the audit.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from attrition.config import Settings
from attrition.reference import REFERENCE_DATA, REFERENCE_META, REFERENCE_PROVENANCE, render_provenance
from attrition.schema import ID_COLUMN

#: The score jobs' folder names and files (``api/score_jobs.py``; the package never imports api/).
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_JOB_DATA = ("input.csv", "result.csv")
_JOB_ISSUES, _JOB_STATUS = "issues.csv", "status.json"
#: A queued/running job whose heartbeat is older than this is dead (``api.score_jobs.STALE_SECONDS``).
_JOB_STALE_SECONDS = 120.0
#: The audit subject of an export that found nothing.
_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


# --- score job files -------------------------------------------------------------------------


def _job_folders(settings: Settings) -> Iterator[Path]:
    root = settings.data_dir / "score_jobs"
    if root.is_dir():
        yield from sorted(p for p in root.iterdir() if p.is_dir() and _JOB_ID.fullmatch(p.name))


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", **_ENCODING) as handle:  # type: ignore[call-overload]
        rows = list(csv.reader(handle))
    return (rows[0], rows[1:]) if rows else ([], [])


def _matches(header: list[str], rows: list[list[str]], number: int, column: str = ID_COLUMN) -> list[int]:
    """Indexes of the rows whose ``column`` is ``number``."""
    if column not in header:
        return []
    at, text = header.index(column), str(number)
    return [i for i, row in enumerate(rows) if len(row) > at and row[at].strip() == text]


def score_job_lines(settings: Settings, number: int) -> Iterator[dict[str, Any]]:
    """Per job: the employee's lines of its upload and results, and the issues found on them."""
    for folder in _job_folders(settings):
        found: dict[str, Any] = {}
        lines: set[str] = set()
        for name in _JOB_DATA:
            if (folder / name).is_file():
                header, rows = _read_csv(folder / name)
                hits = _matches(header, rows, number)
                if hits:
                    found[name] = [dict(zip(header, rows[i], strict=False)) for i in hits]
                if name == "input.csv":
                    lines = {str(i + 2) for i in hits}  # line numbers as validation counts them
        if found and (folder / _JOB_ISSUES).is_file():
            header, rows = _read_csv(folder / _JOB_ISSUES)
            issues = [dict(zip(header, row, strict=False)) for row in rows]
            found[_JOB_ISSUES] = [i for i in issues if i.get("line") in lines]
        if found:
            yield {"job_id": folder.name, **found}


def active_jobs(settings: Settings, jobs: list[dict[str, Any]]) -> list[str]:
    """Of the jobs holding the employee, those still queued or running (their files are in use)."""
    busy = []
    for job in jobs:
        try:
            status = json.loads(
                (settings.data_dir / "score_jobs" / job["job_id"] / _JOB_STATUS).read_text("utf-8")
            )
        except (OSError, json.JSONDecodeError):
            continue
        if (
            status.get("status") in ("queued", "running")
            and _age(status.get("updated_at")) < _JOB_STALE_SECONDS
        ):
            busy.append(str(job["job_id"]))
    return busy


def _age(moment: Any) -> float:
    try:
        return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(str(moment))).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def _forget_job_files(folder: Path, number: int) -> int:
    """Remove the employee's lines from one job's files (and their issues); returns data lines removed."""
    removed, lines = 0, set[str]()
    for name in _JOB_DATA:
        path = folder / name
        if not path.is_file():
            continue
        header, rows = _read_csv(path)
        hits = set(_matches(header, rows, number))
        if name == "input.csv":
            lines = {str(i + 2) for i in hits}
        if hits:
            _write_csv(path, header, [r for i, r in enumerate(rows) if i not in hits])
            removed += len(hits)
    if lines:
        _forget_issues(folder, lines)
    return removed


def _forget_issues(folder: Path, lines: set[str]) -> None:
    path = folder / _JOB_ISSUES
    if path.is_file():
        header, rows = _read_csv(path)
        at = header.index("line") if "line" in header else None
        if at is not None:
            _write_csv(path, header, [r for r in rows if len(r) <= at or r[at] not in lines])
    status_path = folder / _JOB_STATUS
    if status_path.is_file():
        status = json.loads(status_path.read_text("utf-8"))
        status["issues"] = [i for i in status.get("issues", []) if str(i.get("line")) not in lines]
        _atomic(status_path, lambda p: p.write_text(json.dumps(status), encoding="utf-8"))


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", **_ENCODING) as handle:  # type: ignore[call-overload]
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)

    _atomic(path, write)


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write to a 0600 temp file beside ``path`` and rename it over: readers see old or new, whole."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- reference data --------------------------------------------------------------------------


def _reference_files(settings: Settings) -> list[Path]:
    folder = Path(settings.reference_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".parquet", ".csv") and p.is_file())


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _rows_of(frame: pd.DataFrame, number: int) -> pd.Series:
    if ID_COLUMN not in frame:
        return pd.Series(False, index=frame.index)
    return frame[ID_COLUMN].astype(str).str.strip() == str(number)


def _write_table(frame: pd.DataFrame, suffix: str, path: Path) -> None:
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def reference_lines(settings: Settings, number: int) -> Iterator[dict[str, Any]]:
    for path in _reference_files(settings):
        frame = _read_table(path)
        hits = frame[_rows_of(frame, number)]
        if len(hits):
            yield {"file": path.name, "rows": hits.to_dict("records")}


def _forget_reference(settings: Settings, number: int) -> int:
    """Drop the employee's rows from the reference files (a one-row-smaller sample serves drift as well)."""
    removed = 0
    for path in _reference_files(settings):
        frame = _read_table(path)
        hits = _rows_of(frame, number)
        if not hits.any():
            continue
        kept = frame[~hits].reset_index(drop=True)
        _atomic(path, partial(_write_table, kept, path.suffix))
        removed += int(hits.sum())
        if path.name == REFERENCE_DATA:
            _recount_reference_meta(Path(settings.reference_dir), kept)
    return removed


def _recount_reference_meta(folder: Path, frame: pd.DataFrame) -> None:
    """``reference.json`` and ``PROVENANCE.md`` count the rows: recount them after a removal."""
    meta_path = folder / REFERENCE_META
    if not meta_path.is_file():
        return
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["rows"] = len(frame)
    if "split" in frame:
        meta["rows_by_split"] = {str(k): int(v) for k, v in frame["split"].value_counts().items()}
    if "risk_band" in frame:
        meta["risk_band_counts"] = {str(k): int(v) for k, v in frame["risk_band"].value_counts().items()}
    if "probability" in frame:
        meta["mean_probability"] = float(frame["probability"].mean()) if len(frame) else None
    _atomic(meta_path, lambda p: p.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8"))
    if (folder / REFERENCE_PROVENANCE).is_file():
        text = render_provenance(meta)
        _atomic(folder / REFERENCE_PROVENANCE, lambda p: p.write_text(text, encoding="utf-8"))


def forget_files(settings: Settings, number: int) -> dict[str, int]:
    return {
        "score_jobs": sum(_forget_job_files(folder, number) for folder in _job_folders(settings)),
        "reference_data": _forget_reference(settings, number),
    }
