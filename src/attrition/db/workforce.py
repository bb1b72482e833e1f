"""Workforce views for the UI: aggregates and the employee list, computed in the database.

**Latest score.** The latest score of an employee in a snapshot is the newest row of
``predictions`` with that ``employee_number`` and that ``snapshot_date`` (greatest
``created_at``, then greatest ``id``), whatever its source or model version. Batch
scoring (``attrition score``) records the snapshot it scored; a prediction without a
snapshot date (an ad-hoc ``POST /v1/predict``, possibly a what-if record) is not a
score of any stored snapshot: it is left out of these views and shows only in the
employee's score history. An employee without such a row is *unscored*: counted in
the headcount, not in ``scored``. "At risk" means a latest score in
``config.HIGH_RISK_BANDS`` (high, critical). The writer keeps a copy of each latest
score in ``latest_scores`` (``db/latest_scores.py``), so these views join it on its
primary key instead of ranking the whole prediction log per request.

**Portability.** SQLAlchemy Core only: joins, ``CASE`` and ``GROUP BY``. The summary
runs one GROUP BY over the breakdown dimensions and the risk band (and one per
snapshot for the trend), so the database returns at most a few thousand cells
whatever the headcount; the per-dimension totals are sums of those cells.

**Pagination.** The employee list is keyset-paginated on (sort key, EmployeeNumber);
the cursor is an opaque token naming the sort and the last row's key, so pages stay
stable while rows are added elsewhere and no page is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import sqlalchemy as sa

from attrition.config import HIGH_RISK_BANDS, RISK_BAND_NAMES
from attrition.db import data_versions
from attrition.db.models import Prediction, employees, latest_scores
from attrition.db.repositories import _as_date, snapshot_dates
from attrition.schema import ALL_COLUMNS, ATTRITION_YES, ID_COLUMN, SNAPSHOT_DATE, SPECS, Col

_PREDICTIONS = cast(sa.Table, Prediction.__table__)

#: Tenure bands from YearsAtCompany: (label, lowest year, highest year or None), in order.
TENURE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("<1", 0, 0),
    ("1-2", 1, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21+", 21, None),
)
TENURE_BAND_NAMES: tuple[str, ...] = tuple(label for label, _, _ in TENURE_BANDS)

#: The summary's breakdowns: name -> contract column ("tenure_band" is derived from YearsAtCompany).
BREAKDOWNS: dict[str, str] = {
    "department": Col.DEPARTMENT.value,
    "job_role": Col.JOB_ROLE.value,
    "tenure_band": "tenure_band",
    "overtime": Col.OVERTIME.value,
    "job_level": Col.JOB_LEVEL.value,
}
EmployeeSort = Literal["risk", "employee_number"]
#: Sort orders of the employee list: highest probability first (unscored last), or by number.
EMPLOYEE_SORTS: tuple[str, ...] = ("risk", "employee_number")
SCORE_HISTORY_LIMIT = 100
_UNSCORED_KEY = -1.0  # below every probability: unscored employees sort last under "risk"


class CursorError(ValueError):
    """A cursor that is not one this module issued for the requested sort."""


@dataclass(frozen=True)
class WorkforceFilters:
    """Optional filters on the snapshot's employees (None = all)."""

    department: str | None = None
    job_role: str | None = None
    overtime: str | None = None
    job_level: int | None = None
    risk_band: str | None = None


@dataclass
class GroupStats:
    """Counts of one group of employees; rates are None when their denominator is 0."""

    headcount: int = 0
    leavers: int = 0
    with_outcome: int = 0
    scored: int = 0
    at_risk: int = 0
    risk_bands: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RISK_BAND_NAMES, 0))

    def add(self, count: int, leavers: int, known: int, band: str | None) -> None:
        self.headcount += count
        self.leavers += leavers
        self.with_outcome += known
        if band is not None:
            self.scored += count
            self.risk_bands[band] = self.risk_bands.get(band, 0) + count
            if band in HIGH_RISK_BANDS:
                self.at_risk += count

    @property
    def attrition_rate(self) -> float | None:
        """Leavers among employees whose Attrition is recorded."""
        return self.leavers / self.with_outcome if self.with_outcome else None

    @property
    def at_risk_share(self) -> float | None:
        """At-risk employees among the scored ones."""
        return self.at_risk / self.scored if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "headcount": self.headcount,
            "leavers": self.leavers,
            "with_outcome": self.with_outcome,
            "attrition_rate": self.attrition_rate,
            "scored": self.scored,
            "at_risk": self.at_risk,
            "at_risk_share": self.at_risk_share,
            "risk_bands": dict(self.risk_bands),
        }


@dataclass
class WorkforceSummary:
    """One snapshot's totals and breakdowns, and the totals of every snapshot (the trend)."""

    snapshot: dt.date | None
    snapshots: list[dt.date]
    overall: GroupStats
    breakdowns: dict[str, dict[Any, GroupStats]]
    trend: list[tuple[dt.date, GroupStats]]


def tenure_band() -> sa.ColumnElement[str]:
    """The tenure band of an ``employees`` row, as SQL (``TENURE_BANDS``)."""
    years = employees.c[Col.YEARS_AT_COMPANY.value]
    whens = [(years <= high, label) for label, _, high in TENURE_BANDS if high is not None]
    return sa.case(*whens, else_=TENURE_BANDS[-1][0])


def _scored_employees(
    snapshot: dt.date | None, filters: WorkforceFilters, exclude: dt.date | None = None
) -> sa.Select[Any]:
    """``employees`` (of ``snapshot``, or all but ``exclude``) outer-joined to ``latest_scores``, filtered.

    Returns the SELECT without columns chosen yet (``with_only_columns``).
    """
    e, latest = employees.c, latest_scores.c
    joined = employees.outerjoin(
        latest_scores,
        sa.and_(latest[SNAPSHOT_DATE] == e[SNAPSHOT_DATE], latest.employee_number == e[ID_COLUMN]),
    )
    query = sa.select(e[ID_COLUMN]).select_from(joined)
    if snapshot is not None:
        query = query.where(e[SNAPSHOT_DATE] == snapshot)
    if exclude is not None:
        query = query.where(e[SNAPSHOT_DATE] != exclude)
    for value, column in (
        (filters.department, Col.DEPARTMENT),
        (filters.job_role, Col.JOB_ROLE),
        (filters.overtime, Col.OVERTIME),
        (filters.job_level, Col.JOB_LEVEL),
    ):
        if value is not None:
            query = query.where(e[column.value] == value)
    if filters.risk_band is not None:
        query = query.where(latest.risk_band == filters.risk_band)
    return query


def latest_snapshot(engine: sa.Engine) -> dt.date | None:
    dates = snapshot_dates(engine)
    return dates[-1] if dates else None


def workforce_summary(
    engine: sa.Engine,
    snapshot: dt.date | None = None,
    filters: WorkforceFilters | None = None,
    dates: list[dt.date] | None = None,
) -> WorkforceSummary:
    """Totals and breakdowns of ``snapshot`` (default: the latest) and the per-snapshot trend.

    ``snapshot`` must be one of the stored snapshots (``dates``, read when not given);
    with no employees stored at all the summary is empty.
    """
    filters = filters or WorkforceFilters()
    dates = snapshot_dates(engine) if dates is None else dates
    snapshot = snapshot or (dates[-1] if dates else None)
    summary = WorkforceSummary(snapshot, dates, GroupStats(), {name: {} for name in BREAKDOWNS}, [])
    if snapshot is None:
        return summary
    with engine.connect() as conn:
        cells = [row._mapping for row in conn.execute(_cube_query(snapshot, filters))]
        trend_cells = [row._mapping for row in conn.execute(_trend_query(filters, snapshot))]
    for cell in cells:
        summary.overall.add(*_counts(cell))
        for name in BREAKDOWNS:
            summary.breakdowns[name].setdefault(cell[name], GroupStats()).add(*_counts(cell))
    trend: dict[dt.date, GroupStats] = {snapshot: summary.overall} if cells else {}
    for cell in trend_cells:
        trend.setdefault(_as_date(cell["snapshot"]), GroupStats()).add(*_counts(cell))
    summary.breakdowns = {name: _ordered(name, groups) for name, groups in summary.breakdowns.items()}
    summary.trend = sorted(trend.items())
    return summary


class WorkforceCache:
    """The snapshot list and summaries of the data version they were computed at, per process.

    The version is read before computing (``db/data_versions.py``), so an entry never
    outlives the data it counted: every write bumps the version in its transaction, and
    each API replica's next request sees the new version and computes afresh. Bounded:
    the ``size`` least recently used summaries are kept.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._dates: tuple[int, list[dt.date]] | None = None
        self._summaries: OrderedDict[tuple[Any, ...], WorkforceSummary] = OrderedDict()

    def snapshots(self, engine: sa.Engine) -> tuple[int, list[dt.date]]:
        """(the current data version, every stored snapshot date at it)."""
        version = data_versions.read(engine)
        cached = self._dates
        if cached is not None and cached[0] == version:
            return cached
        dates = snapshot_dates(engine)
        self._dates = (version, dates)
        return version, dates

    def summary(
        self,
        engine: sa.Engine,
        at: tuple[int, list[dt.date]],
        snapshot: dt.date | None,
        filters: WorkforceFilters,
    ) -> WorkforceSummary:
        """``workforce_summary`` of ``snapshot`` at the version and dates ``snapshots`` gave, computed once."""
        version, dates = at
        key = (version, snapshot, filters)
        with self._lock:
            if (hit := self._summaries.get(key)) is not None:
                self._summaries.move_to_end(key)
                return hit
        result = workforce_summary(engine, snapshot, filters, dates)
        with self._lock:
            self._summaries[key] = result
            while len(self._summaries) > self.size:
                self._summaries.popitem(last=False)
        return result


def _counts(cell: sa.RowMapping) -> tuple[int, int, int, str | None]:
    """(employees, leavers, with outcome, risk band) of one aggregated cell."""
    return int(cell["n"]), int(cell["leavers"] or 0), int(cell["known"] or 0), cell["risk_band"]


def _outcome_columns(attrition: sa.ColumnElement[Any]) -> list[sa.ColumnElement[Any]]:
    is_leaver = sa.case((attrition == ATTRITION_YES, 1), else_=0)
    return [
        sa.func.count().label("n"),
        sa.func.sum(is_leaver).label("leavers"),
        sa.func.count(attrition).label("known"),
    ]


def _cube_query(snapshot: dt.date, filters: WorkforceFilters) -> sa.Select[Any]:
    """Counts per (breakdown values, risk band) of the snapshot's filtered employees.

    The tenure band is computed in a subquery and grouped on by column there, since
    PostgreSQL does not match a GROUP BY CASE whose literals are separate bind parameters.
    """
    e = employees.c
    base = _scored_employees(snapshot, filters)
    dimensions = [e[c].label(name) for name, c in BREAKDOWNS.items() if name != "tenure_band"]
    inner = base.with_only_columns(
        *dimensions,
        tenure_band().label("tenure_band"),
        latest_scores.c.risk_band.label("risk_band"),
        e[Col.ATTRITION.value].label("attrition"),
    ).subquery("cells")
    keys = [inner.c[name] for name in BREAKDOWNS] + [inner.c.risk_band]
    return sa.select(*keys, *_outcome_columns(inner.c.attrition)).group_by(*keys)


def _trend_query(filters: WorkforceFilters, exclude: dt.date) -> sa.Select[Any]:
    """Counts per (snapshot, risk band) of every snapshot but ``exclude`` (whose totals the cube has)."""
    e = employees.c
    base = _scored_employees(None, filters, exclude)
    inner = base.with_only_columns(
        e[SNAPSHOT_DATE].label("snapshot"),
        latest_scores.c.risk_band.label("risk_band"),
        e[Col.ATTRITION.value].label("attrition"),
    ).subquery("snapshots")
    keys = [inner.c.snapshot, inner.c.risk_band]
    return sa.select(*keys, *_outcome_columns(inner.c.attrition)).group_by(*keys)


def _ordered(name: str, groups: dict[Any, GroupStats]) -> dict[Any, GroupStats]:
    """Groups in a stable order: the contract's category order, band order, or ascending."""
    column = BREAKDOWNS[name]
    if name == "tenure_band":
        order: list[Any] = list(TENURE_BAND_NAMES)
    elif SPECS[column].categories:
        order = list(SPECS[column].categories)
    else:
        order = sorted(groups)
    known = [value for value in order if value in groups]
    return {value: groups[value] for value in known + sorted(set(groups) - set(known), key=str)}


# --- the employee list -----------------------------------------------------------------------

#: The record columns the employee list shows every role (a viewer's view of a record too).
LIST_EMPLOYEE_COLUMNS = (
    Col.DEPARTMENT,
    Col.JOB_ROLE,
    Col.JOB_LEVEL,
    Col.OVERTIME,
    Col.YEARS_AT_COMPANY,
    Col.ATTRITION,
)
#: The page's score columns; ``latest_scores.scored_at`` is returned as ``created_at``.
_SCORE_DETAIL_COLUMNS = ("prediction_id", "label", "model_version", "scored_at", "top_factors")


def encode_cursor(sort: str, row: Mapping[str, Any]) -> str:
    """The opaque token of the position after ``row`` under ``sort``."""
    probability = row["probability"]
    key = [sort, int(row[ID_COLUMN])]
    if sort == "risk":
        key.append(_UNSCORED_KEY if probability is None else float(probability))
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[int, float | None]:
    """(last EmployeeNumber, last sort key) of a cursor issued for ``sort``; CursorError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("not a cursor this API issued (pass next_cursor back unchanged)") from None
    if not isinstance(key, list) or not key or key[0] not in EMPLOYEE_SORTS:
        raise CursorError("not a cursor this API issued (pass next_cursor back unchanged)")
    if key[0] != sort:
        raise CursorError(f"the cursor was issued for sort={key[0]}, not sort={sort}")
    size = 3 if sort == "risk" else 2
    valid_number = (
        len(key) == size and type(key[1]) is int and 1 <= key[1] <= (SPECS[ID_COLUMN].hard_max or 0)
    )
    if not valid_number or (size == 3 and not (type(key[2]) in (int, float) and -1 <= key[2] <= 1)):
        raise CursorError("not a cursor this API issued (pass next_cursor back unchanged)")
    return key[1], (float(key[2]) if size == 3 else None)


def employee_page(
    engine: sa.Engine,
    snapshot: dt.date,
    filters: WorkforceFilters | None = None,
    *,
    sort: str = "risk",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``snapshot``'s employees with their latest score, and the next page's cursor.

    ``sort="risk"``: probability descending (unscored employees last), then EmployeeNumber;
    ``sort="employee_number"``: EmployeeNumber ascending. The cursor is None on the last page.
    """
    e, latest = employees.c, latest_scores.c
    base = _scored_employees(snapshot, filters or WorkforceFilters())
    number = e[ID_COLUMN]
    key = sa.func.coalesce(latest.probability, sa.literal(_UNSCORED_KEY, sa.Double))
    query = base.with_only_columns(
        number,
        e[SNAPSHOT_DATE],
        *(e[c.value] for c in LIST_EMPLOYEE_COLUMNS),
        tenure_band().label("tenure_band"),
        latest.probability,
        latest.risk_band,
        *(latest[c] for c in _SCORE_DETAIL_COLUMNS if c != "scored_at"),
        latest.scored_at.label("created_at"),
    )
    order = [key.desc(), number] if sort == "risk" else [number]
    if cursor is not None:
        last_number, last_key = decode_cursor(cursor, sort)
        if last_key is None:
            query = query.where(number > last_number)
        else:
            query = query.where(sa.or_(key < last_key, sa.and_(key == last_key, number > last_number)))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(*order).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row[SNAPSHOT_DATE] = _as_date(row[SNAPSHOT_DATE])
    return rows, (encode_cursor(sort, rows[-1]) if more else None)


# --- one employee ----------------------------------------------------------------------------


def employee_records(engine: sa.Engine, number: int) -> list[dict[str, Any]]:
    """Every stored record of one employee (contract columns + snapshot_date), newest snapshot first."""
    e = employees.c
    query = (
        sa.select(*(e[c] for c in (*ALL_COLUMNS, SNAPSHOT_DATE)))
        .where(e[ID_COLUMN] == number)
        .order_by(e[SNAPSHOT_DATE].desc())
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row[SNAPSHOT_DATE] = _as_date(row[SNAPSHOT_DATE])
    return rows


def score_history(engine: sa.Engine, number: int, limit: int = SCORE_HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The employee's newest ``limit`` predictions (any source, with or without snapshot), newest first."""
    p = _PREDICTIONS.c
    columns = [c for c in _PREDICTIONS.columns if c.name not in ("id", "inputs", "request_id")]
    query = (
        sa.select(*columns)
        .where(p.employee_number == number)
        .order_by(p.created_at.desc(), p.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        if row["snapshot_date"] is not None:
            row["snapshot_date"] = _as_date(row["snapshot_date"])
    return rows
