"""Raw column values -> typed values, vectorised: the parsers behind ``validation.validate_frame``.

Each parser returns the typed values and two masks, ``missing`` (empty or blank)
and ``bad`` (present but not a value of the type); validation turns the masks into
issues. Surrounding whitespace is stripped and nothing else is coerced: whole
numbers may be written ``41``, `` 41 ``, ``41.0`` or ``4.1e1``; ``3.5`` is bad.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The dates a ``snapshot_date`` may take.
SNAPSHOT_RANGE = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))


@dataclass
class Parsed:
    """Typed values (NaN / None where missing or bad) and which rows were missing or bad."""

    values: pd.Series
    missing: np.ndarray
    bad: np.ndarray


def _is_text(raw: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_datetime64_any_dtype(raw))


def _stripped(raw: pd.Series, mask: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """The masked values as stripped text, and which of them are blank."""
    text = raw[mask].astype(str).str.strip()
    return text, (text == "").to_numpy()


def parse_integers(raw: pd.Series) -> Parsed:
    """Whole numbers as float64 (NaN where missing or bad)."""
    if pd.api.types.is_bool_dtype(raw):
        values = pd.Series(np.nan, index=raw.index)
        return Parsed(values, np.zeros(len(raw), bool), np.ones(len(raw), bool))
    fast = _arrow_integers(raw) if _is_text(raw) else None
    if fast is not None:
        return Parsed(pd.Series(fast, index=raw.index), np.isnan(fast), np.zeros(len(raw), bool))
    missing = raw.isna().to_numpy()
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    failed = numbers.isna().to_numpy() & ~missing
    if failed.any() and _is_text(raw):
        text, blank = _stripped(raw, failed)
        missing[np.flatnonzero(failed)[blank]] = True
        retry = pd.to_numeric(text[~blank], errors="coerce").astype("float64")
        numbers.loc[retry.index] = retry
    array = numbers.to_numpy()
    whole = np.isfinite(array) & (array == np.floor(array))
    bad = ~missing & ~whole
    numbers[bad] = np.nan
    return Parsed(numbers, missing, bad)


def _arrow_integers(raw: pd.Series) -> np.ndarray | None:
    """Fast path for a clean text column (plain digits): float64 with NaN for missing.

    Arrow's cast is strict, so any other spelling (`` 41``, ``41.0``, ``abc``)
    returns None and the caller takes the careful path.
    """
    try:
        array = pa.array(raw.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        ints = pc.cast(array, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    result: np.ndarray = ints.to_numpy(zero_copy_only=False).astype("float64")
    return result


def parse_text(raw: pd.Series, allowed: Sequence[str]) -> Parsed:
    """Values of ``allowed`` (after stripping whitespace); anything else is bad."""
    ok = raw.isin(allowed).to_numpy()
    missing = raw.isna().to_numpy()
    values = raw.where(ok, None).astype(object)
    rest = ~ok & ~missing
    bad = np.zeros(len(raw), dtype=bool)
    if rest.any():
        text, blank = _stripped(raw, rest)
        positions = np.flatnonzero(rest)
        missing[positions[blank]] = True
        good = text.isin(allowed).to_numpy()
        values.iloc[positions[good]] = text[good].to_numpy()
        bad[positions[~good & ~blank]] = True
    return Parsed(values, missing, bad)


def parse_dates(raw: pd.Series) -> Parsed:
    """``YYYY-MM-DD`` dates (or datetimes) within ``SNAPSHOT_RANGE`` as naive timestamps."""
    missing = raw.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(raw):
        stamps = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
    else:
        stamps = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        failed = stamps.isna().to_numpy() & ~missing
        if failed.any():
            text, blank = _stripped(raw, failed)
            missing[np.flatnonzero(failed)[blank]] = True
            stamps.loc[text.index] = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    low, high = (pd.Timestamp(d) for d in SNAPSHOT_RANGE)
    in_range = (stamps >= low) & (stamps <= high)
    bad = ~missing & ~in_range.to_numpy()
    return Parsed(stamps.where(in_range), missing, bad)
