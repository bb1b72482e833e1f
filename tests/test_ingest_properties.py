"""Property tests: the record validator and CSV ingest on hostile input.

Ingest: a file of valid rows, some of them damaged (stray quotes, random bytes, huge
fields, NUL bytes, embedded newlines, confusable categories, NaN/inf/negative zero),
with or without a BOM and CRLF. Every undamaged row must be stored exactly once with
its values, every damaged one stored or reported on one of its lines, and the report
must hold no implausibly long or formula-like cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attrition.data.csv_safety import FORMULA_STARTS
from attrition.data.ingest import ingest_csv
from attrition.data.validation import validate_frame
from attrition.db.engine import create_db_engine
from attrition.db.migrate import upgrade
from attrition.db.repositories import load_employees
from attrition.schema import ALL_COLUMNS, EXAMPLE_RECORD, SPECS

ID_AT = ALL_COLUMNS.index("EmployeeNumber")
#: Homoglyphs a copy-paste can slip into a category (Cyrillic, Greek, fullwidth, zero width).
CONFUSABLES = {"a": "\u0430", "e": "\u0435", "o": "\u03bf", "S": "\uff33", "l": "l\u200b"}
ODD_NUMBERS = ("NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-0", "-0.0", "0x10", "٤١")
_COUNTER = itertools.count()


def _fields(number: int) -> list[str]:
    return [str(number) if c == "EmployeeNumber" else str(EXAMPLE_RECORD[c]) for c in ALL_COLUMNS]


def _confusable(value: str, data: st.DataObject) -> str:
    spots = [i for i, ch in enumerate(value) if ch in CONFUSABLES]
    if not spots:
        return value + "\u200b"
    i = data.draw(st.sampled_from(spots))
    return value[:i] + CONFUSABLES[value[i]] + value[i + 1 :]


def _damage(fields: list[str], kind: str, data: st.DataObject) -> str:
    """One CSV line (maybe spanning lines) from ``fields``, damaged by ``kind``; the id stays intact."""
    column = data.draw(st.integers(0, len(fields) - 1).filter(lambda k: k != ID_AT))
    if kind == "confusable":
        categorical = [k for k, c in enumerate(ALL_COLUMNS) if SPECS[c].categories and k != ID_AT]
        column = data.draw(st.sampled_from(categorical))
        fields[column] = _confusable(fields[column], data)
    elif kind == "odd_number":
        integers = [k for k, c in enumerate(ALL_COLUMNS) if SPECS[c].kind == "integer"]
        fields[data.draw(st.sampled_from(integers))] = data.draw(st.sampled_from(ODD_NUMBERS))
    elif kind == "huge":
        size = data.draw(st.sampled_from([300, 5_000, 140_000]))
        fields[column] = data.draw(st.sampled_from(['"{}"', "{}"])).format("x" * size)
    elif kind == "newline":
        fields[column] = '"' + fields[column][:1] + "\n" + fields[column][1:] + '"'
    line = ",".join(fields)
    start = line.index(",", line.index(fields[ID_AT])) + 1  # after the id's field
    if kind in ("quote", "bytes", "nul"):
        at = data.draw(st.integers(start, len(line)))
        junk = {
            "quote": '"',
            "nul": "\x00",
            "bytes": data.draw(st.binary(min_size=1, max_size=12)).decode("utf-8", "surrogateescape"),
        }[kind]
        line = line[:at] + junk + line[at:]
    return line


KINDS = ("quote", "bytes", "nul", "huge", "newline", "confusable", "odd_number")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    url = f"sqlite:///{tmp_path_factory.mktemp('props') / 'app.db'}"
    upgrade(url)
    return create_db_engine(url)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_ingest_stores_every_readable_row_once_and_reports_the_rest(
    engine: sa.Engine, tmp_path: Path, data: st.DataObject
) -> None:
    rows = data.draw(st.integers(1, 40))
    damaged = data.draw(st.dictionaries(st.integers(0, rows - 1), st.sampled_from(KINDS), max_size=rows))
    crlf, bom = data.draw(st.booleans()), data.draw(st.booleans())
    chunk_rows = data.draw(st.sampled_from([1, 3, 7, 50_000]))
    numbers = [1000 + 7 * i for i in range(rows)]
    texts = [
        _damage(_fields(n), damaged[i], data) if i in damaged else ",".join(_fields(n))
        for i, n in enumerate(numbers)
    ]
    spans, line = [], 2  # each row's physical lines
    for text in texts:
        spans.append((line, line + text.count("\n")))
        line += 1 + text.count("\n")
    newline = "\r\n" if crlf else "\n"
    body = newline.join([",".join(ALL_COLUMNS), *texts]) + newline
    path = tmp_path / f"prop_{next(_COUNTER)}.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8", errors="surrogateescape"))
    day = dt.date(2000, 1, 1) + dt.timedelta(days=next(_COUNTER))

    report = ingest_csv(path, engine, day, chunk_rows=chunk_rows)

    stored = load_employees(engine, day)
    ids = stored["EmployeeNumber"].tolist()
    assert len(ids) == len(set(ids)) == report.stored
    assert report.stored + report.rejected_rows == report.rows_read
    issues = _read_report(report.issues_path)
    errors = [_issue_lines(i) for i in issues if i["severity"] == "error"]
    by_id = stored.set_index("EmployeeNumber")
    for i, number in enumerate(numbers):
        first, last = spans[i]
        reported = any(a <= last and first <= b for a, b in errors)
        if i not in damaged:
            assert number in by_id.index, f"undamaged line {first} lost"
            assert not reported, f"undamaged line {first} reported"
            assert by_id.loc[number, "MaritalStatus"] == EXAMPLE_RECORD["MaritalStatus"]
        else:
            assert (number in by_id.index) or reported, f"damaged line {first} neither stored nor reported"
    for issue in issues:
        for cell in issue.values():
            assert len(cell) < 1_000
            assert not cell.startswith(FORMULA_STARTS) or _is_number(cell)


def _read_report(path: Path | None) -> list[dict[str, str]]:
    assert path is not None
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _issue_lines(issue: dict[str, str]) -> tuple[int, int]:
    row = int(issue["row"])
    reason = issue["reason"]
    if "; lines " in reason:
        start, end = reason.split("; lines ", 1)[1].split(" ", 1)[0].split("-")
        return int(start), int(end)
    return row, row


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# --- the record validator --------------------------------------------------------------------

_VALUES = st.one_of(
    st.sampled_from(["", " ", "NaN", "inf", "-inf", "-0", "0", "1", "41", " 41 ", "41.0", "4.1e1", "3.5"]),
    st.sampled_from(["Sales", "S\u0430les", "Yes", "No", "Male", "Female", "Single", "\ufeffSales", "\x00"]),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rows=st.integers(1, 12))
def test_validator_keeps_a_row_exactly_when_it_has_no_error(data: st.DataObject, rows: int) -> None:
    """Each row is kept (typed, in range, an exact category) or rejected with an error on its line."""
    records = []
    for n in range(rows):
        record = {c: str(v) for c, v in EXAMPLE_RECORD.items()} | {"EmployeeNumber": str(n + 1)}
        for column in data.draw(st.lists(st.sampled_from(ALL_COLUMNS[1:]), max_size=3)):
            record[column] = data.draw(_VALUES)
        records.append(record)
    frame = pd.DataFrame(records, dtype=object)

    result = validate_frame(frame)

    error_lines = {i.row for i in result.issues if i.severity == "error"}
    kept = np.flatnonzero(result.kept)
    assert len(result.valid) == len(kept) == rows - len(error_lines)
    assert not error_lines & {int(k) + 2 for k in kept}
    for name, spec in SPECS.items():
        column = result.valid[name]
        if spec.kind in ("integer", "id") and spec.hard_min is not None and spec.hard_max is not None:
            assert column.between(spec.hard_min, spec.hard_max).all()
            assert all(math.isfinite(v) for v in column)
        elif spec.kind == "categorical":
            assert column.isin(spec.categories).all()
    untouched = [
        k for k, r in enumerate(records) if all(r[c] == str(EXAMPLE_RECORD[c]) for c in ALL_COLUMNS[1:])
    ]
    assert set(untouched) <= set(kept.tolist())
