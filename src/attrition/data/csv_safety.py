"""CSV injection ("formula injection") neutralisation for files people open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be run
as a formula by Excel, LibreOffice or Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``).
Following OWASP, such a cell gets a leading single quote, which spreadsheets show as
text. Cells that are plain numbers (``-0.5``, ``+3``, ``-1e-3``) are left alone: they are
harmless and quoting them would turn numbers into text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: The first characters that make a spreadsheet treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_RISKY = re.compile(r"[=+\-@\t\r]")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is a string a spreadsheet would run as a formula."""
    if isinstance(value, str) and _RISKY.match(value) and not _NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every risky string cell neutralised (vectorised per column).

    Only text columns (object or string dtype) are looked at: numeric, boolean and date
    columns cannot hold a formula. Non-string cells in a text column are left as they are.
    """
    out = frame.copy()
    for position in range(out.shape[1]):  # by position: labels may repeat
        series = out.iloc[:, position]
        if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
            continue
        try:  # the first character only (non-string cells give NaN, never in FORMULA_STARTS)
            starts = np.flatnonzero(series.str[:1].isin(FORMULA_STARTS).to_numpy())
        except AttributeError:  # an object column without any string (all ints, dates, ...)
            continue
        candidates = series.iloc[starts].astype(str)
        risky = starts[~candidates.str.fullmatch(_NUMBER).to_numpy(dtype=bool)]
        if len(risky):
            out.iloc[risky, position] = ("'" + series.iloc[risky].astype(str)).to_numpy()
    return out
