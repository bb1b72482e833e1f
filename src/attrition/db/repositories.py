"""Reading and writing the app database: one function per question the services ask.

All functions take an ``Engine`` so the same code serves SQLite, PostgreSQL,
MariaDB/MySQL and SQL Server; bulk writes go through SQLAlchemy Core in chunks.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from attrition.audit import AuditOutcome
from attrition.db import data_versions
from attrition.db import latest_scores as latest
from attrition.db.models import AuditEvent, Outcome, Prediction, employees, pack_inputs, utcnow
from attrition.db.models import data_versions as data_versions_table
from attrition.schema import ALL_COLUMNS, ID_COLUMN, INTEGER_COLUMNS, RECORD_COLUMNS, SNAPSHOT_DATE

_PREDICTIONS = cast(sa.Table, Prediction.__table__)
_OUTCOMES = cast(sa.Table, Outcome.__table__)
_AUDIT = cast(sa.Table, AuditEvent.__table__)
_CHUNK = 1000
_INSERT_BATCH = 10_000
#: Transactions tried when the latest-score refresh collides with a concurrent writer.
_REFRESH_ATTEMPTS = 6


@dataclass(frozen=True)
class RowDifference:
    """A row whose stored values differ from the incoming ones: column -> (stored, incoming)."""

    employee_number: int
    snapshot_date: dt.date
    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class InsertStats:
    """``inserted`` new rows; ``skipped`` identical to the stored row; ``differing`` rows whose
    values differ from the stored row (kept as stored, or overwritten when ``replaced``)."""

    inserted: int
    skipped: int
    differing: tuple[RowDifference, ...] = ()
    replaced: int = 0


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _native(value: Any) -> Any:
    """numpy scalars and NaN to plain Python values the DB drivers accept."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


# --- employees -------------------------------------------------------------------------------


def insert_employees(
    engine: sa.Engine, frame: pd.DataFrame, source: str, *, replace: bool = False
) -> InsertStats:
    """Store validated records, one row per (EmployeeNumber, snapshot_date).

    A row already stored with the same values is skipped, so re-ingesting a file
    changes nothing. A row already stored with other values is reported in
    ``InsertStats.differing`` and left as stored, unless ``replace`` is set: then the
    stored row takes the incoming values (and ``source``, ``ingested_at``).
    """
    if frame.empty:
        return InsertStats(0, 0)
    columns = [c for c in ALL_COLUMNS if c in frame.columns]
    frame = frame.assign(**{SNAPSHOT_DATE: pd.to_datetime(frame[SNAPSHOT_DATE]).dt.date})
    inserted = skipped = replaced = 0
    differing: list[RowDifference] = []
    extra = {"source": source[:255], "ingested_at": utcnow()}
    with engine.begin() as conn:
        for snapshot, group in frame.groupby(SNAPSHOT_DATE, sort=True):
            day = cast(dt.date, snapshot)
            rows = _row_dicts(group, columns, {SNAPSHOT_DATE: day, **extra})
            stored = _stored_rows(conn, day, [int(r[ID_COLUMN]) for r in rows], columns)
            new = [r for r in rows if int(r[ID_COLUMN]) not in stored]
            changed = [
                (row, diff)
                for row in rows
                if (old := stored.get(int(row[ID_COLUMN]))) is not None
                and (diff := _differences(old, row, columns))
            ]
            skipped += len(rows) - len(new) - len(changed)
            differing += [RowDifference(int(row[ID_COLUMN]), day, diff) for row, diff in changed]
            # SQLAlchemy splits executemany batches to each driver's parameter limit itself.
            for chunk in _chunks(new, _INSERT_BATCH):
                conn.execute(employees.insert(), list(chunk))
            inserted += len(new)
            if replace and changed:
                replaced += _update_rows(conn, [row for row, _ in changed], [*columns, *extra])
        if inserted or replaced:
            data_versions.bump(conn)
    return InsertStats(inserted, skipped, tuple(differing), replaced)


def _row_dicts(frame: pd.DataFrame, columns: list[str], constant: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (None for missing), built column-wise for speed."""
    values = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) | constant for row in zip(*values, strict=True)]


def _stored_rows(
    conn: sa.Connection, snapshot: dt.date, numbers: list[int], columns: list[str]
) -> dict[int, tuple[Any, ...]]:
    """The stored values of ``columns`` (in that order) for those of ``numbers`` in ``snapshot``."""
    found: dict[int, tuple[Any, ...]] = {}
    key = columns.index(ID_COLUMN)
    for chunk in _chunks(numbers, _CHUNK):
        query = sa.select(*(employees.c[c] for c in columns)).where(
            employees.c[SNAPSHOT_DATE] == snapshot, employees.c[ID_COLUMN].in_(chunk)
        )
        for row in conn.execute(query):
            found[int(row[key])] = tuple(row)
    return found


def _differences(
    stored: tuple[Any, ...], row: Mapping[str, Any], columns: list[str]
) -> dict[str, tuple[Any, Any]]:
    """Columns (contract order) whose stored value differs from the incoming one.

    Both sides are plain Python values (driver rows; ``_row_dicts``), so ``!=`` is exact.
    """
    return {
        c: (old, row[c]) for c, old in zip(columns, stored, strict=True) if c != ID_COLUMN and old != row[c]
    }


def _update_rows(conn: sa.Connection, rows: list[dict[str, Any]], columns: list[str]) -> int:
    """Overwrite stored rows (matched on EmployeeNumber + snapshot_date) with ``rows``' values.

    Plain UPDATE ... WHERE with bound parameters, run as executemany in chunks:
    portable to every backend (no dialect-specific upsert).
    """
    targets = [c for c in columns if c != ID_COLUMN]
    statement = (
        employees.update()
        .where(
            employees.c[ID_COLUMN] == sa.bindparam("key_number"),
            employees.c[SNAPSHOT_DATE] == sa.bindparam("key_snapshot"),
        )
        .values({c: sa.bindparam(f"new_{c}") for c in targets})
    )
    params = [
        {"key_number": row[ID_COLUMN], "key_snapshot": row[SNAPSHOT_DATE]}
        | {f"new_{c}": row[c] for c in targets}
        for row in rows
    ]
    for chunk in _chunks(params, _CHUNK):
        conn.execute(statement, list(chunk))
    return len(params)


def snapshot_dates(engine: sa.Engine) -> list[dt.date]:
    """Every snapshot date stored, oldest first."""
    query = sa.select(employees.c[SNAPSHOT_DATE]).distinct().order_by(employees.c[SNAPSHOT_DATE])
    with engine.connect() as conn:
        return [_as_date(d) for d in conn.execute(query).scalars()]


def load_employees(engine: sa.Engine, snapshot_date: dt.date | None = None) -> pd.DataFrame:
    """Contract columns + snapshot_date of one snapshot (default: the latest)."""
    if snapshot_date is None:
        snapshot_date = _latest_snapshot(engine)
    query = _employees_query(snapshot_date).order_by(employees.c[ID_COLUMN])
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=[*ALL_COLUMNS, SNAPSHOT_DATE])
    return _typed(frame)


def iter_employees(
    engine: sa.Engine, snapshot_date: dt.date | None = None, chunk_rows: int = 50_000
) -> Iterator[pd.DataFrame]:
    """One snapshot (default: the latest) in pages of at most ``chunk_rows``, by EmployeeNumber.

    Keyset pagination (``EmployeeNumber > last seen``, ordered, limited), one short
    query per page, so memory stays flat and no connection is held between pages.
    Together the pages are exactly :func:`load_employees`; nothing is yielded for a
    snapshot with no rows.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if snapshot_date is None:
        snapshot_date = _latest_snapshot(engine)
        if snapshot_date is None:
            return
    number = employees.c[ID_COLUMN]
    last: int | None = None
    while True:
        query = _employees_query(snapshot_date).order_by(number).limit(chunk_rows)
        if last is not None:
            query = query.where(number > last)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        page = _typed(pd.DataFrame(rows, columns=[*ALL_COLUMNS, SNAPSHOT_DATE]))
        yield page
        if len(rows) < chunk_rows:
            return
        last = int(page[ID_COLUMN].iloc[-1])


def _latest_snapshot(engine: sa.Engine) -> dt.date | None:
    with engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(employees.c[SNAPSHOT_DATE]))).scalar()
    return None if latest is None else _as_date(latest)


def _employees_query(snapshot_date: dt.date | None) -> sa.Select[Any]:
    columns = [employees.c[c] for c in (*ALL_COLUMNS, SNAPSHOT_DATE)]
    return sa.select(*columns).where(employees.c[SNAPSHOT_DATE] == snapshot_date)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in (*INTEGER_COLUMNS, ID_COLUMN):
        if column in frame and frame[column].notna().all():
            frame[column] = frame[column].astype("int64")
    if SNAPSHOT_DATE in frame:
        frame[SNAPSHOT_DATE] = frame[SNAPSHOT_DATE].map(_as_date)
    return frame


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return cast(dt.date, value)


# --- predictions -----------------------------------------------------------------------------

_PREDICTION_FIELDS = tuple(c.name for c in _PREDICTIONS.columns if c.name != "id")
#: Fields written as given (already text): packed inputs and the factors' JSON.
_TEXT_FIELDS = ("inputs", "top_factors")
#: The employees columns a snapshot score's inputs are read from (labelled apart from the log's).
_STORED_INPUTS = tuple(employees.c[c].label(f"stored_{c}") for c in RECORD_COLUMNS)
#: Rows per COPY / executemany call inside one chunk's transaction.
_WRITE_BATCH = 50_000


@dataclass
class PredictionColumns:
    """Prediction log rows column by column, as ``insert_predictions`` writes them fastest.

    ``values`` has one list per field that differs between rows, ``constant`` the fields
    every row shares (model, time, source, run). ``inputs`` are packed texts
    (``models.pack_inputs``; None: the employees row of the key) and ``top_factors`` JSON
    texts (None: none computed), so nothing is serialised again on the way in.
    """

    values: dict[str, list[Any]]
    constant: dict[str, Any]
    size: int

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> PredictionColumns:
        """Log entries (dicts of ``Prediction`` fields) column-wise, serialised once here."""
        now = utcnow()
        values: dict[str, list[Any]] = {}
        for name in _PREDICTION_FIELDS:
            column = [row.get(name) for row in rows]
            if name == "inputs":
                values[name] = [pack_inputs(v) for v in column]
            elif name == "top_factors":
                values[name] = [v if v is None or isinstance(v, str) else _json(v) for v in column]
            elif name == "created_at":
                values[name] = [v or now for v in column]
            else:
                values[name] = [_native(v) for v in column]
        return cls(values, {}, len(rows))

    def column(self, name: str) -> Iterable[Any]:
        if name in self.constant:
            return itertools.repeat(self.constant[name], self.size)
        return self.values.get(name) or itertools.repeat(None, self.size)

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows ``start:stop`` as dicts of stored values (inputs packed, factors as JSON text)."""
        stop = self.size if stop is None else stop
        columns = [list(itertools.islice(self.column(f), start, stop)) for f in _PREDICTION_FIELDS]
        return [dict(zip(_PREDICTION_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]


def _json(value: Any) -> str:
    return json.dumps(value, default=_native, separators=(",", ":"))


def insert_predictions(engine: sa.Engine, rows: Sequence[Mapping[str, Any]] | PredictionColumns) -> int:
    """Write prediction log entries (dicts of ``Prediction`` fields, or columns); returns how many.

    One transaction for all of them, through each backend's fastest bulk path (COPY on
    PostgreSQL/psycopg, ``fast_executemany`` on MariaDB/pyodbc, executemany elsewhere). A
    ``prediction_id`` already stored fails the whole call with an IntegrityError and
    nothing is written, so a retry of a call whose commit went unacknowledged never
    doubles a row (the prediction log then writes row by row and skips the stored ones).
    The ``latest_scores`` of the (employee, snapshot) pairs they score are refreshed in the
    same transaction, so the workforce views never see a prediction without its effect.
    A refresh that collides with another writer's retries the whole transaction.
    """
    columns = rows if isinstance(rows, PredictionColumns) else PredictionColumns.from_rows(rows)
    if not columns.size:
        return 0
    keys = _score_keys(columns)
    for attempt in range(1, _REFRESH_ATTEMPTS + 1):
        try:
            with latest.writer(engine) as conn:
                _bulk_insert(conn, columns)
                latest.refresh(conn, keys)
                if keys:  # scores of stored snapshots changed: the workforce views' data did
                    data_versions.bump(conn)
        except latest.RefreshConflict as conflict:
            if attempt == _REFRESH_ATTEMPTS:
                raise conflict.error from None
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # de-synchronise the writers
            continue
        break
    return columns.size


def _score_keys(columns: PredictionColumns) -> latest.Keys:
    """``latest_scores.score_keys`` of the columns, without building a dict per row."""
    keys: dict[dt.date, set[int]] = {}
    days: dict[Any, dt.date] = {}
    for number, day in zip(columns.column("employee_number"), columns.column("snapshot_date"), strict=True):
        if number is not None and day is not None:
            key = days.get(day) or days.setdefault(day, _as_date(day))
            keys.setdefault(key, set()).add(int(number))
    return {day: sorted(numbers) for day, numbers in sorted(keys.items())}


def _bulk_insert(conn: sa.Connection, columns: PredictionColumns) -> None:
    """The rows through the backend's bulk path, inside the caller's transaction."""
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        writer = _copy_postgres
    elif dialect.name in ("sqlite", "mysql", "mariadb") and dialect.paramstyle == "qmark":
        writer = _executemany
    else:
        writer = _insert_core
    for start in range(0, columns.size, _WRITE_BATCH):
        writer(conn, columns, start, min(start + _WRITE_BATCH, columns.size))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk's rows are built: they hold no cycles, and each
    collection walks the whole heap (measured: building 50,000 row tuples took 5x as long with it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@gc_paused()
def _driver_rows(
    dialect: sa.Dialect, columns: PredictionColumns, start: int, stop: int
) -> list[tuple[Any, ...]]:
    """Rows ``start:stop`` as the driver takes them: each value through its column's bind processor once.

    A processor runs once per distinct value (times, dates, booleans, bands repeat), the
    packed texts pass as they are.
    """
    prepared: list[Iterable[Any]] = []
    for name in _PREDICTION_FIELDS:
        process = None if name in _TEXT_FIELDS else _PREDICTIONS.c[name].type._cached_bind_processor(dialect)
        if name in columns.constant:
            value = columns.constant[name]
            prepared.append(itertools.repeat(process(value) if process else value, stop - start))
            continue
        values = list(itertools.islice(columns.column(name), start, stop))
        if process is not None and name != "prediction_id":
            seen: dict[Any, Any] = {}
            values = [seen[v] if v in seen else seen.setdefault(v, process(v)) for v in values]
        prepared.append(values)
    return list(zip(*prepared, strict=True))


def _column_list(dialect: sa.Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    return ", ".join(quote(name) for name in _PREDICTION_FIELDS)


def _copy_postgres(conn: sa.Connection, columns: PredictionColumns, start: int, stop: int) -> None:
    """``COPY predictions FROM STDIN`` through psycopg, on the transaction's connection."""
    statement = f"COPY {_PREDICTIONS.name} ({_column_list(conn.dialect)}) FROM STDIN"
    try:
        payload: Any = _copy_text(columns, start, stop)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        payload = None  # values Arrow cannot type as one column: psycopg adapts them row by row
    rows = _driver_rows(conn.dialect, columns, start, stop) if payload is None else []
    raw: Any = conn.connection.dbapi_connection
    with _driver_errors(conn, statement), raw.cursor() as cursor, cursor.copy(statement) as copy:
        if payload is not None:
            copy.write(payload)
        for row in rows:
            copy.write_row(row)


def _copy_text(columns: PredictionColumns, start: int, stop: int) -> memoryview:
    """Rows ``start:stop`` as COPY's text format, each column converted and escaped in Arrow.

    The lines are joined in one Arrow string array, whose data buffer is the payload itself.
    """
    fields: list[Any] = []
    for name in _PREDICTION_FIELDS:
        if name in columns.constant:
            fields.append(_copy_constant(columns.constant[name]))
        else:
            fields.append(_copy_column(list(itertools.islice(columns.column(name), start, stop))))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, "\t"), "\n", "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_column(values: list[Any]) -> pa.Array:
    array = pa.array(values)
    kind = array.type
    if pa.types.is_null(kind):
        return pa.array(["\\N"] * len(values), type=pa.string())
    if pa.types.is_boolean(kind):
        text = pc.if_else(array, "t", "f")
    elif pa.types.is_string(kind):
        text = array
        if pc.any(pc.match_substring_regex(array, "[\\\\\t\n\r]")).as_py():  # one pass when none
            for plain, escaped in _COPY_ESCAPES:
                text = pc.replace_substring(text, plain, escaped)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_date(kind):
        text = pc.cast(array, pa.string())  # floats: the shortest text that reads back the same
    elif pa.types.is_timestamp(kind):
        text = pc.strftime(array, format="%Y-%m-%d %H:%M:%S")
    else:
        raise TypeError(f"no COPY text for {kind}")
    return pc.fill_null(text, "\\N")


def _copy_constant(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    for plain, escaped in _COPY_ESCAPES:
        text = text.replace(plain, escaped)
    return text


@contextmanager
def _driver_errors(conn: sa.Connection, statement: str) -> Iterator[None]:
    """A driver error raised as SQLAlchemy's (IntegrityError, OperationalError...), as ``execute`` would.

    Through the connection's own handler, so ``handle_error`` hooks and invalidation on a
    disconnect run too; the parameters (employee attributes) are left out of the error.
    """
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as error:
        conn._handle_dbapi_exception(error, statement, None, None, None)


def _executemany(conn: sa.Connection, columns: PredictionColumns, start: int, stop: int) -> None:
    """One prepared INSERT, executemany (pyodbc: ``fast_executemany``, parameters sent as arrays)."""
    marks = ", ".join("?" for _ in _PREDICTION_FIELDS)
    statement = f"INSERT INTO {_PREDICTIONS.name} ({_column_list(conn.dialect)}) VALUES ({marks})"
    rows = _driver_rows(conn.dialect, columns, start, stop)
    if conn.dialect.driver != "pyodbc":
        conn.exec_driver_sql(statement, rows)
        return
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    # The MariaDB driver reads arrays of UTF-8 (SQL_C_CHAR) text as UTF-16: send them wide
    # for this call, then put back the UTF-8 that SQLAlchemy's pyodbc dialect sets on connect.
    raw.setencoding(encoding="utf-16le", ctype=_SQL_WCHAR)
    try:
        with _driver_errors(conn, statement):
            cursor.fast_executemany = True
            cursor.setinputsizes(_odbc_sizes(rows))
            cursor.executemany(statement, rows)
            _raise_array_errors(cursor.messages, conn.dialect.loaded_dbapi)
    finally:
        with suppress(conn.dialect.loaded_dbapi.Error):  # a connection the error invalidated is gone
            cursor.close()
            raw.setencoding(encoding="utf-8")


def _raise_array_errors(messages: list[tuple[str, str]], dbapi: Any) -> None:
    """Raise a row the MariaDB driver refused during an array insert: it only lists it in ``messages``.

    Rows before it are in the transaction, which the raise rolls back, so the call writes all or nothing.
    """
    for state, text in messages:
        code = state[1:6]
        if not code.startswith("01"):  # class 01 is a warning
            kind = dbapi.IntegrityError if code.startswith("23") else dbapi.DatabaseError
            raise kind(code, text)


_SQL_WCHAR = -8  # pyodbc.SQL_WCHAR (pyodbc is an optional driver)
#: pyodbc parameter types (SQL type, size, decimal digits) of the non-text column types.
_ODBC_TYPES: dict[type[Any], tuple[int, int, int]] = {
    sa.BigInteger: (-5, 0, 0),
    sa.Integer: (-5, 0, 0),
    sa.Double: (8, 0, 0),
    sa.Boolean: (-7, 0, 0),
    sa.DateTime: (93, 26, 6),
    sa.Date: (91, 10, 0),
}


def _odbc_sizes(rows: list[tuple[Any, ...]]) -> list[tuple[int, int, int]]:
    """Every parameter's type and size, so the driver never sizes one from the column.

    Left to it, a LONGTEXT (or a column of NULLs) gets a 4 GB buffer per row: MemoryError.
    """
    sizes: list[tuple[int, int, int]] = []
    for at, name in enumerate(_PREDICTION_FIELDS):
        kind = _PREDICTIONS.c[name].type
        length = getattr(kind, "length", None)
        if name in _TEXT_FIELDS or (not length and isinstance(kind, sa.String)):
            length = max((len(row[at]) for row in rows if row[at] is not None), default=1)
        if length:
            sizes.append((-9, max(int(length), 1), 0))  # SQL_WVARCHAR
            continue
        sizes.append(next(spec for base, spec in _ODBC_TYPES.items() if isinstance(kind, base)))
    return sizes


def _insert_core(conn: sa.Connection, columns: PredictionColumns, start: int, stop: int) -> None:
    """Any other backend: a SQLAlchemy Core executemany (the factors' JSON back to objects)."""
    rows = columns.rows(start, stop)
    for row in rows:
        row["top_factors"] = None if row["top_factors"] is None else json.loads(row["top_factors"])
    conn.execute(_PREDICTIONS.insert(), rows)


def _prediction_filters(
    employee_number: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    risk_band: str | None,
    source: str | None,
    model_version: str | None = None,
) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if employee_number is not None:
        filters.append(Prediction.employee_number == employee_number)
    if since is not None:
        filters.append(Prediction.created_at >= since)
    if until is not None:
        filters.append(Prediction.created_at < until)
    if risk_band is not None:
        filters.append(Prediction.risk_band == risk_band)
    if source is not None:
        filters.append(Prediction.source == source)
    if model_version is not None:
        filters.append(Prediction.model_version == model_version)
    return filters


def _with_stored_inputs() -> sa.Join:
    """The log joined to the employees row a snapshot score's inputs are (NULL ``inputs`` only)."""
    p = _PREDICTIONS.c
    return _PREDICTIONS.outerjoin(
        employees,
        sa.and_(
            p.inputs.is_(None),
            employees.c[ID_COLUMN] == p.employee_number,
            employees.c[SNAPSHOT_DATE] == p.snapshot_date,
        ),
    )


def _logged_row(row: sa.Row[Any]) -> dict[str, Any]:
    """A log row as a dict, ``inputs`` filled from the employees row when it is a snapshot score's."""
    values = dict(row._mapping)
    stored = [values.pop(column.name) for column in _STORED_INPUTS]
    if values["inputs"] is None:
        values["inputs"] = (
            dict(zip(RECORD_COLUMNS, stored, strict=True)) if stored[_ID_AT] is not None else {}
        )
    return values


_ID_AT = RECORD_COLUMNS.index(ID_COLUMN)


def query_predictions(
    engine: sa.Engine,
    *,
    employee_number: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    risk_band: str | None = None,
    source: str | None = None,
    model_version: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the prediction log, newest first, and the total matching."""
    filters = _prediction_filters(employee_number, since, until, risk_band, source, model_version)
    table = _PREDICTIONS
    page = (
        sa.select(table, *_STORED_INPUTS)
        .select_from(_with_stored_inputs())
        .where(*filters)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
    )
    count = sa.select(sa.func.count()).select_from(table).where(*filters)
    with engine.connect() as conn:
        rows = [_logged_row(r) for r in conn.execute(page.limit(limit).offset(offset))]
        total = int(conn.execute(count).scalar_one())
    return rows, total


def get_prediction(engine: sa.Engine, prediction_id: str) -> dict[str, Any] | None:
    """One logged prediction by its public id."""
    query = (
        sa.select(_PREDICTIONS, *_STORED_INPUTS)
        .select_from(_with_stored_inputs())
        .where(_PREDICTIONS.c.prediction_id == prediction_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _logged_row(row) if row else None


def stored_prediction_ids(engine: sa.Engine, prediction_ids: Sequence[str]) -> set[str]:
    """Those of ``prediction_ids`` already in the log (a replay skips them)."""
    found: set[str] = set()
    column = _PREDICTIONS.c.prediction_id
    with engine.connect() as conn:
        for chunk in _chunks(list(prediction_ids), _CHUNK):
            found.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return found


def row_by_key(engine: sa.Engine, key: sa.Column[Any], value: Any) -> dict[str, Any] | None:
    """The row of ``key``'s table whose ``key`` is ``value``, as a dict, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(key.table).where(key == value)).first()
    return dict(row._mapping) if row else None


_FRAME_META = ("probability", "label", "risk_band", "model_version", "created_at", "prediction_id")


def predictions_frame(
    engine: sa.Engine,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Logged inputs (contract columns) with probability, label, risk band, model version, time."""
    filters = _prediction_filters(None, since, until, None, source)
    table = _PREDICTIONS
    packed = sa.type_coerce(table.c.inputs, sa.Text).label("packed")  # decoded here, all at once
    query = (
        sa.select(*(table.c[c] for c in _FRAME_META), packed, *_STORED_INPUTS)
        .select_from(_with_stored_inputs())
        .where(*filters)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return pd.DataFrame(columns=[*ALL_COLUMNS, *_FRAME_META])
    meta = pd.DataFrame([r[: len(_FRAME_META)] for r in rows], columns=list(_FRAME_META))
    inputs = _input_records(rows, len(_FRAME_META))
    return _typed(pd.concat([inputs, meta], axis=1))


def _input_records(rows: Sequence[Any], at: int) -> pd.DataFrame:
    """The inputs of ``rows`` (packed text at ``at``, the employees columns after it) as one frame.

    Packed arrays are decoded with one ``json.loads`` over all of them; a record stored as
    an object (older, partial rows) keeps only its own keys, as the log held it.
    """
    texts = [r[at] if not isinstance(r[at], dict) else _json(r[at]) for r in rows]  # dict: JSON before 0007
    arrays = [t for t in texts if t is not None and t.startswith("[")]
    decoded = iter(json.loads("[" + ",".join(arrays) + "]") if arrays else [])
    whole = bool(arrays) or None in texts  # some record has every contract column
    present: set[str] = set(RECORD_COLUMNS) if whole else set()
    records: list[Any] = []
    for text, row in zip(texts, rows, strict=True):
        if text is None:
            records.append(row[at + 1 :])
        elif text.startswith("["):
            records.append(next(decoded))
        else:
            partial = json.loads(text)
            records.append([partial.get(c) for c in RECORD_COLUMNS])
            present.update(partial)
    frame = pd.DataFrame(records, columns=list(RECORD_COLUMNS))
    return frame.reindex(columns=[c for c in ALL_COLUMNS if c in present])


# --- outcomes --------------------------------------------------------------------------------


def insert_outcome(
    engine: sa.Engine,
    employee_number: int,
    left: bool,
    outcome_date: dt.date,
    prediction_id: str | None = None,
    source: str = "feedback",
) -> int:
    """Record what actually happened to an employee; returns the outcome id."""
    with engine.begin() as conn:
        return _insert_outcome(conn, employee_number, left, outcome_date, prediction_id, source)


def record_feedback(
    engine: sa.Engine,
    actor: str,
    employee_number: int,
    left: bool,
    outcome_date: dt.date,
    prediction_id: str | None = None,
) -> int:
    """An outcome and its audit event in one transaction: both are stored or neither.

    A failure anywhere stores nothing, so the client's retry after an error answer
    cannot leave two outcomes (or an outcome nobody audited).
    """
    with engine.begin() as conn:
        outcome_id = _insert_outcome(conn, employee_number, left, outcome_date, prediction_id, "feedback")
        insert_audit(conn, actor, "feedback", str(outcome_id), {"prediction_id": prediction_id})
    return outcome_id


def _insert_outcome(
    conn: sa.Connection,
    employee_number: int,
    left: bool,
    outcome_date: dt.date,
    prediction_id: str | None,
    source: str,
) -> int:
    values = {
        "employee_number": employee_number,
        "left": left,
        "outcome_date": outcome_date,
        "prediction_id": prediction_id,
        "source": source,
        "recorded_at": utcnow(),
    }
    result = conn.execute(_OUTCOMES.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def employee_known(engine: sa.Engine, employee_number: int) -> bool:
    """Is ``employee_number`` in any stored snapshot or any logged prediction?"""
    in_snapshots = sa.select(employees.c[ID_COLUMN]).where(employees.c[ID_COLUMN] == employee_number)
    predicted = sa.select(_PREDICTIONS.c.id).where(_PREDICTIONS.c.employee_number == employee_number)
    with engine.connect() as conn:
        if conn.execute(in_snapshots.limit(1)).first() is not None:
            return True
        return conn.execute(predicted.limit(1)).first() is not None


def outcomes_frame(engine: sa.Engine, since: dt.date | None = None) -> pd.DataFrame:
    """All recorded outcomes (optionally from a date on), oldest first."""
    table = _OUTCOMES
    query = sa.select(table).order_by(table.c.outcome_date, table.c.id)
    if since is not None:
        query = query.where(table.c.outcome_date >= since)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    columns = [c.name for c in table.columns]
    frame = pd.DataFrame(rows, columns=columns)
    frame["left"] = frame["left"].astype(bool)
    return frame


# --- audit log -------------------------------------------------------------------------------


def record_audit(
    engine: sa.Engine,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
    outcome: AuditOutcome = AuditOutcome.OK,
) -> None:
    """Append an audit event: who (``actor``) did what to what, how it ended, and the detail."""
    with engine.begin() as conn:
        insert_audit(conn, actor, action, subject, detail, outcome)


def insert_audit(
    conn: sa.Connection,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any] | None,
    outcome: AuditOutcome = AuditOutcome.OK,
) -> None:
    """:func:`record_audit` inside the caller's transaction (the event commits with the change it records)."""
    values = {
        "at": utcnow(),
        "actor": actor[:128],
        "action": action[:64],
        "subject": subject[:255],
        "outcome": AuditOutcome(outcome).value,
        "detail": dict(detail) if detail else None,
    }
    conn.execute(_AUDIT.insert().values(**values))


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to list (each ``None`` matches all)."""

    action: str | None = None
    actor: str | None = None
    outcome: AuditOutcome | None = None
    since: dt.datetime | None = None
    limit: int = 100


def list_audit(
    engine: sa.Engine, action: str | None = None, limit: int = 100, *, where: AuditFilter | None = None
) -> list[dict[str, Any]]:
    """Newest audit events first, of one action or as ``where`` says."""
    where = where or AuditFilter(action=action, limit=limit)
    table = _AUDIT
    query = sa.select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(where.limit)
    for column, value in (
        (table.c.action, where.action),
        (table.c.actor, where.actor),
        (table.c.outcome, where.outcome and AuditOutcome(where.outcome).value),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(table.c.at >= where.since)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# --- readiness -------------------------------------------------------------------------------

#: Seconds SQLite waits for another writer's lock during the write probe (the default is 30 s).
_PROBE_BUSY_MS = 1000


def probe_write(engine: sa.Engine) -> str:
    """Prove the database takes a write: insert a probe row and roll it back. Returns a note.

    A read-only file, volume, standby or ``read_only`` server fails here, where a
    ``SELECT`` still answers. The row has a name of its own (no lock on rows other
    writers touch); on SQLite another writer's lock ("database is locked") means
    writes are going on, so it counts as writable.
    """
    row = {"name": f"probe-{uuid.uuid4().hex[:16]}", "version": 0}
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {_PROBE_BUSY_MS}")
            conn.rollback()  # end the autobegun transaction: the probe runs in its own
        try:
            with conn.begin() as transaction:
                conn.execute(data_versions_table.insert().values(**row))
                transaction.rollback()
        except sa.exc.OperationalError as error:
            if sqlite and "database is locked" in str(error.orig):
                return "writable (another write holds the lock)"
            raise
        finally:
            if sqlite and not conn.invalidated:
                conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                conn.rollback()
    return "writable"
