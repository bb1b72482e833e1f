"""``latest_scores`` always equals the newest prediction per (employee, snapshot), on every backend.

The expected table is computed in pandas from ``predictions`` (sort by created_at, id;
last per employee and snapshot), the same definition the workforce views document.
Checked after each write path: batches through ``insert_predictions``, the API's
``PredictionLog`` (also its row-by-row retry), concurrent writers, the 0003 backfill.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from attrition.db.engine import create_db_engine
from attrition.db.migrate import current, downgrade, upgrade
from attrition.db.models import Prediction, latest_scores
from attrition.db.repositories import insert_predictions
from attrition.serving.prediction_log import PredictionLog

OLD, NEW = dt.date(2026, 9, 30), dt.date(2026, 10, 31)
T0 = dt.datetime(2026, 11, 1, 6)
_PREDICTIONS = Prediction.__table__


def _row(
    tag: str, number: int | None, snapshot: dt.date | None, when: dt.datetime, p: float
) -> dict[str, Any]:
    return {
        "prediction_id": f"{tag}-{number}-{snapshot}",
        "created_at": when,
        "employee_number": number,
        "snapshot_date": snapshot,
        "model_name": "attrition-classifier",
        "model_version": tag,
        "probability": p,
        "threshold": 0.3,
        "label": p >= 0.3,
        "risk_band": "high" if p >= 0.5 else "low",
        "inputs": {},
        "top_factors": [{"feature": "Age", "contribution": p}],
        "source": "api" if snapshot is None else "batch",
    }


def _expected(engine: sa.Engine) -> dict[tuple[dt.date, int], str]:
    """(snapshot, employee) -> prediction_id of the newest prediction, counted in pandas."""
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(sa.select(_PREDICTIONS)).mappings().all())
    frame = frame[frame["snapshot_date"].notna() & frame["employee_number"].notna()]
    newest = frame.sort_values(["created_at", "id"]).groupby(["snapshot_date", "employee_number"]).tail(1)
    return {
        (pd.Timestamp(r.snapshot_date).date(), int(r.employee_number)): r.prediction_id
        for r in newest.itertuples()
    }


def _stored(engine: sa.Engine) -> dict[tuple[dt.date, int], dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(latest_scores)).mappings().all()
    return {(pd.Timestamp(r["snapshot_date"]).date(), int(r["employee_number"])): dict(r) for r in rows}


def _check(engine: sa.Engine) -> dict[tuple[dt.date, int], dict[str, Any]]:
    """latest_scores holds exactly the pandas latest, each a faithful copy of its prediction."""
    stored = _stored(engine)
    assert {key: row["prediction_id"] for key, row in stored.items()} == _expected(engine)
    with engine.connect() as conn:
        source = {r["prediction_id"]: r for r in conn.execute(sa.select(_PREDICTIONS)).mappings()}
    for row in stored.values():
        original = source[row["prediction_id"]]
        copied = {k: row[k] for k in ("probability", "risk_band", "model_version", "top_factors")}
        assert copied == {k: original[k] for k in copied}
        assert bool(row["label"]) == bool(original["label"]) and row["scored_at"] == original["created_at"]
    return stored


def _scenario() -> list[list[dict[str, Any]]]:
    """Batches in write order: a scoring run, a re-score, an older late score, a tie, ad-hoc rows."""
    later = T0 + dt.timedelta(days=7)
    return [
        [_row("v1", n, NEW, T0, n / 100) for n in range(1, 41)]
        + [_row("v1", n, OLD, T0, 0.2) for n in range(1, 31)],
        [_row("v2", n, NEW, later, 0.9 - n / 100) for n in range(1, 21)],
        [_row("late", n, NEW, T0 - dt.timedelta(days=1), 0.99) for n in range(1, 41)],
        [{**_row("tie", 5, NEW, later, 0.01), "prediction_id": "tie"}],
        [_row("adhoc", n, None, later + dt.timedelta(days=1), 0.97) for n in range(1, 11)]
        + [_row("anon", None, NEW, later + dt.timedelta(days=1), 0.97)],
    ]


def test_each_write_keeps_latest_scores_equal_to_the_newest_prediction(db_url: str) -> None:
    engine = create_db_engine(db_url)
    for batch in _scenario():
        insert_predictions(engine, batch)
        stored = _check(engine)
    assert len(stored) == 40 + 30  # ad-hoc rows and rows without an employee are no scores
    assert stored[(NEW, 5)]["prediction_id"] == "tie"  # same time: the later row wins
    assert stored[(NEW, 10)]["model_version"] == "v2"  # re-scored: replaced; the older late score lost
    assert stored[(NEW, 30)]["model_version"] == "v1" and stored[(OLD, 1)]["model_version"] == "v1"
    insert_predictions(engine, [_row("v3", n, NEW, T0 + dt.timedelta(days=30), 0.4) for n in range(1, 41)])
    assert {row["model_version"] for key, row in _check(engine).items() if key[0] == NEW} == {"v3"}
    engine.dispose()


def test_a_failed_write_leaves_neither_predictions_nor_latest_scores(db_url: str) -> None:
    engine = create_db_engine(db_url)
    insert_predictions(engine, [_row("v1", 1, NEW, T0, 0.2)])
    clash = [_row("v2", 2, NEW, T0, 0.6), _row("v1", 1, NEW, T0, 0.2)]  # second: a stored prediction_id
    with pytest.raises(sa.exc.IntegrityError):
        insert_predictions(engine, clash)
    assert set(_check(engine)) == {(NEW, 1)}
    with engine.begin() as conn:  # a refresh that cannot write rolls the predictions back too
        conn.execute(sa.text("ALTER TABLE latest_scores RENAME TO latest_scores_away"))
    try:
        with pytest.raises(sa.exc.DBAPIError):
            insert_predictions(engine, [_row("v2", 3, NEW, T0, 0.6)])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE latest_scores_away RENAME TO latest_scores"))
    assert set(_expected(engine)) == {(NEW, 1)}
    engine.dispose()


def test_the_prediction_log_refreshes_latest_scores_also_row_by_row(db_url: str) -> None:
    engine = create_db_engine(db_url)
    first = _row("v1", 1, NEW, T0, 0.2)
    insert_predictions(engine, [first])
    log = PredictionLog(engine, batch_size=100, flush_interval=0.02).start()
    # The stored duplicate makes the batch fail, so the log writes it row by row.
    log.submit_many([first, *(_row("api", n, NEW, T0 + dt.timedelta(hours=1), 0.7) for n in (1, 2, 3))])
    assert log.flush(timeout=20)
    log.close()
    assert log.stats.duplicates == 1 and log.stats.written == 3
    stored = _check(engine)
    assert {key: row["model_version"] for key, row in stored.items()} == {(NEW, n): "api" for n in (1, 2, 3)}
    engine.dispose()


def test_concurrent_writers_of_the_same_employees_end_consistent(db_url: str) -> None:
    engine = create_db_engine(db_url)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for batch in range(6):
                when = T0 + dt.timedelta(minutes=batch, seconds=writer)
                insert_predictions(
                    engine,
                    [_row(f"w{writer}b{batch}", n, NEW, when, (n + writer) / 100) for n in range(1, 31)],
                )
        except BaseException as error:  # reported below; a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    stored = _check(engine)
    assert len(stored) == 30 and {row["model_version"] for row in stored.values()} == {"w3b5"}
    engine.dispose()


def test_migration_0003_backfills_from_the_logged_predictions(db_url: str) -> None:
    downgrade(db_url, "0002")
    engine = create_db_engine(db_url)
    with engine.begin() as conn:  # the 0002 writer: predictions only
        for batch in _scenario():
            conn.execute(_PREDICTIONS.insert(), batch)
    upgrade(db_url)
    assert current(db_url) == "0008"
    stored = _check(engine)
    assert len(stored) == 70 and stored[(NEW, 5)]["prediction_id"] == "tie"
    engine.dispose()
