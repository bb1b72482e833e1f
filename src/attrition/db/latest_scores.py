"""The ``latest_scores`` table: each employee's latest score in each snapshot, kept by the writer.

**Why.** The workforce views need, for every employee of a snapshot, the newest logged
prediction for them and that snapshot. Ranking the whole prediction log at read time
cost 600 ms (SQLite) at 50,000 employees; a table keyed by (snapshot_date,
employee_number) turns it into a primary-key join.

**Definition** (the views' "latest score", unchanged): the newest ``predictions`` row
with that ``employee_number`` and that ``snapshot_date``, by ``created_at`` then
``id``, whatever its source or model version. A row without either is no score of a
stored snapshot and never reaches this table.

**Kept exact.** :func:`refresh` runs in the transaction that inserts the predictions
(``repositories.insert_predictions``). For every (snapshot, employee) the new rows touch
it deletes the stored row and inserts the newest one ranked from ``predictions`` itself,
so a late-arriving older score, a same-time tie and a re-score resolve exactly as the
ranking does. Two writers refreshing the same employee at once can collide on the
primary key: the clashing chunk is re-run in a savepoint, and now sees the other's
committed rows. A deadlock (MariaDB) ends the transaction: :class:`RefreshConflict`
tells the caller to retry the whole transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import sqlalchemy as sa

from attrition.db.models import Prediction, latest_scores
from attrition.schema import SNAPSHOT_DATE

_PREDICTIONS = cast(sa.Table, Prediction.__table__)
#: Employees per DELETE / INSERT ... SELECT: well under every driver's parameter limit.
_CHUNK = 1000
#: latest_scores column -> predictions column it copies.
COPIED: dict[str, str] = {
    SNAPSHOT_DATE: "snapshot_date",
    "employee_number": "employee_number",
    "prediction_id": "prediction_id",
    "probability": "probability",
    "risk_band": "risk_band",
    "label": "label",
    "model_version": "model_version",
    "scored_at": "created_at",
    "top_factors": "top_factors",
}
#: Savepoint retries of one chunk that clashed with a concurrent writer's commit.
_CLASH_ATTEMPTS = 5
Keys = dict[dt.date, list[int]]


class RefreshConflict(Exception):
    """Another transaction refreshed the same employees at the same time; retry the transaction."""

    def __init__(self, error: sa.exc.DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return cast(dt.date, value)


def score_keys(rows: Iterable[Mapping[str, Any]]) -> Keys:
    """The (snapshot -> employee numbers) that prediction rows score; rows without either are skipped."""
    keys: dict[dt.date, set[int]] = {}
    for row in rows:
        number, day = row.get("employee_number"), row.get("snapshot_date")
        if number is not None and day is not None:
            keys.setdefault(_day(day), set()).add(int(number))
    return {day: sorted(numbers) for day, numbers in sorted(keys.items())}


def newest(where: Sequence[sa.ColumnElement[bool]] = ()) -> sa.Select[Any]:
    """The newest prediction per (employee, snapshot) among ``where``'s, as ``latest_scores`` rows."""
    p = _PREDICTIONS.c
    rank = sa.func.row_number().over(
        partition_by=(p.employee_number, p.snapshot_date), order_by=(p.created_at.desc(), p.id.desc())
    )
    ranked = (
        sa.select(*(p[source].label(name) for name, source in COPIED.items()), rank.label("rank"))
        .where(p.employee_number.is_not(None), p.snapshot_date.is_not(None), *where)
        .subquery("ranked")
    )
    return sa.select(*(ranked.c[name] for name in COPIED)).where(ranked.c.rank == 1)


@contextmanager
def writer(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction for writing predictions and refreshing their latest scores.

    On MySQL / MariaDB it runs at READ COMMITTED: at InnoDB's default REPEATABLE READ
    the INSERT ... SELECT takes shared next-key locks on ``predictions`` and the
    DELETE gap locks on ``latest_scores``, so two writers of the same employees
    deadlock almost every time (measured: 4 writers x 6 batches of the same 30
    employees exhausted six retries). PostgreSQL and SQL Server read committed already;
    SQLite has one writer at a time.
    """
    with engine.connect() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            conn = conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            yield conn


def refresh(conn: sa.Connection, keys: Keys) -> None:
    """Re-derive the latest score of ``keys`` from ``predictions`` (inside the writer's transaction).

    Each chunk runs in a savepoint: when a concurrent writer committed one of these keys
    after this statement's snapshot (a primary-key clash), the chunk is simply run again
    and then sees that writer's rows. RefreshConflict when that keeps failing, or on an
    error that ends the transaction (a deadlock): the caller retries the transaction.
    """
    try:
        for day, numbers in keys.items():
            for start in range(0, len(numbers), _CHUNK):
                _refresh_chunk(conn, day, numbers[start : start + _CHUNK])
    except sa.exc.DBAPIError as error:
        # A deadlock victim's transaction is gone (MariaDB): rolling back to the savepoint
        # then fails too, so any database error here means "retry the transaction".
        raise RefreshConflict(error) from error


def _refresh_chunk(conn: sa.Connection, day: dt.date, numbers: list[int]) -> None:
    table, p = latest_scores, _PREDICTIONS.c
    remove = table.delete().where(table.c[SNAPSHOT_DATE] == day, table.c.employee_number.in_(numbers))
    add = table.insert().from_select(
        list(COPIED), newest([p.snapshot_date == day, p.employee_number.in_(numbers)])
    )
    for attempt in range(1, _CLASH_ATTEMPTS + 1):
        try:
            with conn.begin_nested():
                conn.execute(remove)
                conn.execute(add)
            return
        except sa.exc.IntegrityError:
            if attempt == _CLASH_ATTEMPTS:
                raise
