"""The two windows a drift check compares, read from where they live and scored by the champion.

Reference: the champion's reference sample (``reference_data/``, written on
promotion, already scored) or any contract CSV (``--reference-csv``).
Current, one of: an employees snapshot (default: the latest), a contract CSV,
or the predictions logged in the last N days (scored when they were served).

Feature drift sees every row as it came (so out-of-contract values are counted,
not hidden); the champion scores the rows that pass the contract, and rows it
cannot score carry NaN. Outcomes: a complete ``Attrition`` column with both
classes (a labelled export), else the ``outcomes`` table (feedback) by employee.

At 1M rows a window is read in columns by Arrow's CSV reader: a whole-number
column whose every value is plain digits becomes int64 (8 bytes a row instead of
a Python string), any other column stays text exactly as pandas would read it.
Validation and scoring go ``SCORE_CHUNK_ROWS`` rows at a time, so their copies and
the model's feature matrix stay small (and in cache).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

from attrition.config import Settings
from attrition.data.validation import SchemaError, SeenKeys, validate_frame
from attrition.db.repositories import load_employees, outcomes_frame, predictions_frame
from attrition.reference import read_reference
from attrition.schema import ATTRITION_NO, ATTRITION_YES, ID_COLUMN, SNAPSHOT_DATE, SPECS, TARGET
from attrition.serving.loader import ModelNotAvailable, Predictor

logger = logging.getLogger(__name__)

#: Rows validated and scored at a time (50k-100k rows is fastest; memory stays bounded).
SCORE_CHUNK_ROWS = 100_000

#: Contract columns that hold whole numbers: read as int64 when every value is plain digits.
_WHOLE_NUMBER_COLUMNS = frozenset(
    name
    for name, spec in SPECS.items()
    if spec.kind in ("integer", "id") or (spec.kind == "constant" and isinstance(spec.constant, int))
)


class DriftInputError(Exception):
    """A window cannot be read; the message says which and what to do."""


@dataclass
class Window:
    """One side of the comparison."""

    frame: pd.DataFrame
    description: str
    probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None  # 0/1 floats, NaN where the outcome is unknown
    snapshot: dt.date | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Reference(Window):
    """The reference window and what the champion was when it was written."""

    meta: dict[str, Any] = field(default_factory=dict)


def read_csv_window(path: Path, which: str) -> pd.DataFrame:
    """A contract CSV as raw values (validation and drift decide what they mean).

    Arrow reads it in columns; a file Arrow's strict reader refuses (invalid UTF-8,
    a line break inside a quoted value, duplicate header names...) goes through
    pandas, which replaces bad bytes and names the problem when it cannot read it.
    """
    if not path.is_file():
        raise DriftInputError(f"{which} CSV not found: {path}")
    try:
        return _read_columns(path)
    except (pa.ArrowException, UnicodeError, csv.Error, _NotForArrow) as exc:
        logger.debug("%s CSV read by pandas instead of Arrow: %s", which, type(exc).__name__)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, OSError) as exc:
        raise DriftInputError(f"{which} CSV {path}: cannot read ({exc})") from exc


class _NotForArrow(Exception):
    """The header is one Arrow would read differently from pandas."""


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        names = next(csv.reader(handle), None)
    if not names or len(set(names)) != len(names) or any(not n for n in names):
        raise _NotForArrow
    return names


def _read_columns(path: Path) -> pd.DataFrame:
    """Every column as text (blanks stay ""), plain-digit whole-number columns as int64.

    First with the whole-number columns typed (no text copy of them is ever made);
    when one holds anything else (" 41", "41.0", "", "abc"), all as text and then
    each such column cast alone, so only the offending ones stay text.
    """
    names = _header(path)
    typed = {n: pa.int64() if n in _WHOLE_NUMBER_COLUMNS else pa.string() for n in names}
    try:
        table = _arrow_table(path, typed)
    except pa.ArrowInvalid:
        table = _arrow_table(path, dict.fromkeys(names, pa.string()))
        for position, name in enumerate(names):
            if name in _WHOLE_NUMBER_COLUMNS:
                try:
                    table = table.set_column(position, name, pc.cast(table.column(position), pa.int64()))
                except pa.ArrowInvalid:
                    continue
    if table.column_names != names:
        raise _NotForArrow
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    pa.default_memory_pool().release_unused()  # the parse buffers, before the next window is read
    return frame


def _arrow_table(path: Path, types: dict[str, pa.DataType]) -> pa.Table:
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[]
        ),
    )


def load_reference(settings: Settings, csv: Path | None, predictor: Predictor | None) -> Reference:
    """The champion's reference sample, or a contract CSV scored by the champion."""
    if csv is not None:
        frame = read_csv_window(csv, "reference")
        ref = Reference(frame, f"csv:{csv.name}")
        _score(ref, predictor)
        ref.labels = labels_from_target(frame)
        return ref
    try:
        frame, meta = read_reference(settings)
    except FileNotFoundError as exc:
        raise DriftInputError(f"{exc}; or compare against a CSV with --reference-csv FILE") from exc
    ref = Reference(
        frame,
        f"reference_data (champion v{meta.get('model_version')})",
        frame["probability"].to_numpy(),
        meta=meta,
    )
    if predictor is not None and str(meta.get("model_version")) != predictor.model_version:
        ref.notes.append(
            f"reference data is from version {meta.get('model_version')} but the champion is "
            f"{predictor.model_version}: refresh it with `attrition drift set-reference`"
        )
    return ref


def load_current(
    settings: Settings,
    engine: sa.Engine,
    predictor: Predictor | None,
    *,
    snapshot: dt.date | None = None,
    csv: Path | None = None,
    window_days: int | None = None,
) -> Window:
    """The current window: a CSV, the logged predictions of the last days, or a snapshot."""
    if sum(x is not None for x in (snapshot, csv, window_days)) > 1:
        raise DriftInputError("give one current window: a snapshot, a CSV or a number of days")
    if csv is not None:
        window = Window(read_csv_window(csv, "current"), f"csv:{csv.name}")
        _score(window, predictor)
    elif window_days is not None:
        window = _logged_predictions(engine, window_days)
    else:
        window = _snapshot(engine, snapshot)
        _score(window, predictor)
    window.labels = labels_from_target(window.frame)
    if window.labels is None:
        window.labels = labels_from_outcomes(engine, window.frame, window.snapshot)
    return window


def _snapshot(engine: sa.Engine, snapshot: dt.date | None) -> Window:
    frame = load_employees(engine, snapshot)
    if frame.empty:
        which = f"snapshot {snapshot}" if snapshot else "the employees table"
        raise DriftInputError(
            f"no employees in {which}: ingest the current HRIS export (`attrition ingest FILE`), "
            "or pass --current-csv FILE or --window 30d"
        )
    day = frame[SNAPSHOT_DATE].iloc[0]
    return Window(frame.drop(columns=SNAPSHOT_DATE), f"employees@{day}", snapshot=day)


def _logged_predictions(engine: sa.Engine, days: int) -> Window:
    """Predictions served in the last ``days`` (their probabilities are the model's at the time)."""
    until = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = predictions_frame(engine, since=until - dt.timedelta(days=days))
    window = Window(frame, f"predictions, last {days} days", frame["probability"].to_numpy(dtype=float))
    versions = sorted(set(frame["model_version"].astype(str)))
    if len(versions) > 1:
        window.notes.append(f"the window holds predictions of model versions {', '.join(versions)}")
    return window


def _score(window: Window, predictor: Predictor | None, chunk_rows: int = SCORE_CHUNK_ROWS) -> None:
    """Champion probabilities for the rows that pass the contract; NaN for the others."""
    if predictor is None:
        return
    frame = window.frame  # dropping snapshot_date here would copy the window: done per chunk
    probabilities = np.full(len(frame), np.nan)
    seen, rejected = SeenKeys(), 0  # duplicates are found across chunks
    for start in range(0, max(len(frame), 1), chunk_rows):
        chunk = frame.iloc[start : start + chunk_rows].drop(columns=SNAPSHOT_DATE, errors="ignore")
        chunk.index = pd.RangeIndex(len(chunk))  # numbered from 0, so validation need not copy it
        try:
            checked = validate_frame(chunk, start + 2, seen=seen)
        except SchemaError as exc:
            window.notes.append(f"not scored ({exc}): prediction drift and performance skipped")
            return
        rejected += checked.rejected_rows
        if checked.kept is not None and checked.kept.any():
            rows = start + np.flatnonzero(checked.kept)
            probabilities[rows] = predictor.model.predict_proba(checked.valid)
    window.probabilities = probabilities
    if rejected:
        window.notes.append(
            f"{rejected:,} of {len(window.frame):,} rows break the record contract and were "
            "not scored (they still count in the feature drift and data-quality checks)"
        )


def labels_from_target(frame: pd.DataFrame) -> np.ndarray | None:
    """0/1 outcomes from a complete Attrition column holding both classes, else None.

    A column of "No" only is an export of current staff, not outcomes, and would
    read as "the model flags people who never leave". Only the distinct spellings
    are stripped and compared, not every row.
    """
    if TARGET not in frame.columns:
        return None
    codes, spellings = pd.factorize(frame[TARGET])
    if (codes < 0).any():
        return None
    words = pd.Index(spellings).astype(str).str.strip()
    if not words.isin([ATTRITION_YES, ATTRITION_NO]).all() or words.nunique() < 2:
        return None
    return np.asarray(words == ATTRITION_YES, dtype=float)[codes]


def labels_from_outcomes(engine: sa.Engine, frame: pd.DataFrame, since: dt.date | None) -> np.ndarray | None:
    """Recorded outcomes (feedback) of the window's employees after ``since``; NaN where none."""
    if ID_COLUMN not in frame.columns or frame.empty:
        return None
    outcomes = outcomes_frame(engine, since)
    if outcomes.empty:
        return None
    latest = outcomes.drop_duplicates("employee_number", keep="last").set_index("employee_number")["left"]
    numbers = pd.to_numeric(frame[ID_COLUMN], errors="coerce")
    labels = numbers.map(latest.astype(float)).to_numpy(dtype=float)
    return None if np.isnan(labels).all() else labels


def load_predictor(settings: Settings) -> tuple[Predictor | None, str | None]:
    """The champion, or None and why (the check then compares features only)."""
    try:
        return Predictor.load(settings), None
    except ModelNotAvailable as exc:
        logger.warning("drift check without a champion: %s", exc)
        return None, str(exc)
