"""The durable prediction log: predictions the database could not take survive shutdown and kill -9.

While the database is down the log moves what waits to an fsynced spill file; the
next log replays it exactly once (ids already stored are skipped) and deletes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fault_support import count, time_bound

from attrition.db.engine import create_db_engine
from attrition.db.models import utcnow
from attrition.db.repositories import get_prediction, insert_predictions
from attrition.schema import EXAMPLE_RECORD
from attrition.serving.prediction_log import PredictionLog

pytestmark = pytest.mark.integration
WORKER = Path(__file__).with_name("spill_worker.py")


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(180):
        yield


def _entry(number: int) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": utcnow(),
        "employee_number": number,
        "snapshot_date": None,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
        "top_factors": [{"feature": "OverTime", "contribution": 0.1}],
        "source": "api",
        "request_id": "r",
        "caller": "hris",
    }


def _rename(engine: sa.Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def _log(engine: sa.Engine, spill: Path, **options: Any) -> PredictionLog:
    values: dict[str, Any] = {"flush_interval": 0.05, "max_backoff": 0.2, "drain_timeout": 0.5}
    return PredictionLog(engine, spill_dir=spill, **(values | options))


def _wait(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _stored_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT prediction_id FROM predictions")).scalars())


def test_predictions_logged_while_the_database_is_down_survive_shutdown_and_replay_once(
    db_url: str, tmp_path: Path
) -> None:
    """Lost if it failed: every prediction answered while the database was down (2,600 in the
    finding); duplicated if the replay ran twice or re-wrote rows already stored."""
    engine, spill = create_db_engine(db_url), tmp_path / "spill"
    entries = [_entry(n) for n in range(1, 301)]
    first = _log(engine, spill).start()
    _rename(engine, "predictions", "predictions_away")
    try:
        first.submit_many(entries)
        assert _wait(lambda: first.stats.spilled == 300)
        assert first.depth == 300 and first.find_pending(entries[5]["prediction_id"]) is not None
        assert first.knows_employee(6)
        first.close()  # the database is still down: the spill keeps them
    finally:
        _rename(engine, "predictions_away", "predictions")
    assert count(engine, "predictions") == 0
    assert sum(len(p.read_bytes().splitlines()) for p in spill.glob("*.jsonl")) == 300
    insert_predictions(engine, entries[:100])  # a replay cut short after 100 rows by a crash

    second = _log(engine, spill).start()
    assert second.flush(timeout=30)
    assert sorted(_stored_ids(engine)) == sorted(e["prediction_id"] for e in entries)
    assert second.stats.replayed == 200 and second.stats.duplicates == 100
    assert list(spill.glob("*.jsonl")) == []
    second.close()
    row = get_prediction(engine, entries[200]["prediction_id"])
    assert row is not None and row["caller"] == "hris" and row["request_id"] == "r"
    assert row["created_at"] == entries[200]["created_at"].replace(microsecond=row["created_at"].microsecond)
    assert row["top_factors"] == entries[200]["top_factors"] and row["inputs"] == entries[200]["inputs"]

    third = _log(engine, spill).start()  # nothing left to replay
    assert third.flush(timeout=10)
    third.close()
    assert count(engine, "predictions") == 300
    engine.dispose()


def test_the_spill_of_a_live_log_is_left_alone(sqlite_url: str, tmp_path: Path) -> None:
    """Lost if it failed: a second process adopting a live file deletes entries still appended to it."""
    engine, spill = create_db_engine(sqlite_url), tmp_path / "spill"
    live = _log(engine, spill).start()
    _rename(engine, "predictions", "predictions_away")
    try:
        live.submit_many([_entry(n) for n in range(1, 11)])
        assert _wait(lambda: live.stats.spilled == 10)
        other = _log(engine, spill).start()
        assert other.depth == 0
        other.close()
    finally:
        _rename(engine, "predictions_away", "predictions")
    assert live.flush(timeout=30)
    live.close()
    assert count(engine, "predictions") == 10
    engine.dispose()


def test_past_the_size_bound_new_predictions_are_dropped_and_counted(sqlite_url: str, tmp_path: Path) -> None:
    """Lost if it failed: the disk fills up (unbounded spill), or drops go uncounted."""
    engine, spill = create_db_engine(sqlite_url), tmp_path / "spill"
    line = len(__import__("attrition.serving.prediction_spill", fromlist=["encode"]).encode(_entry(1)))
    log = _log(engine, spill, spill_max_bytes=10 * line + line // 2)
    log.start()
    _rename(engine, "predictions", "predictions_away")
    try:
        log.submit_many([_entry(n) for n in range(1, 31)])
        assert _wait(lambda: log.stats.spilled + log.stats.dropped == 30)
        assert log.stats.spilled == 10 and log.stats.dropped == 20
    finally:
        _rename(engine, "predictions_away", "predictions")
    assert log.flush(timeout=30)
    log.close()
    assert count(engine, "predictions") == 10
    engine.dispose()


@pytest.mark.parametrize("database", ["down", "up"])
def test_kill_9_loses_at_most_the_last_flush_interval(sqlite_url: str, tmp_path: Path, database: str) -> None:
    """Lost if it failed: everything answered since the outage began (database down), or more than
    the predictions of the last flush interval (database up)."""
    engine, spill, interval = create_db_engine(sqlite_url), tmp_path / "spill", 0.2
    if database == "down":
        _rename(engine, "predictions", "predictions_away")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), sqlite_url, str(spill), str(interval)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert worker.stdout is not None
    answered = [worker.stdout.readline().decode().strip()]  # it has started (imports take seconds)
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        answered.append(worker.stdout.readline().decode().strip())
    os.kill(worker.pid, signal.SIGKILL)
    answered += [line.decode().strip() for line in worker.stdout.read().splitlines()]
    worker.wait(30)
    answered = [a for a in answered if a]
    if database == "down":
        assert count(engine, "predictions_away") == 0
        _rename(engine, "predictions_away", "predictions")
    rate = len(answered) / 3.0
    replay = _log(engine, spill).start()
    assert replay.flush(timeout=60)
    replay.close()
    stored = set(_stored_ids(engine))
    lost = set(answered) - stored
    assert stored <= set(answered) | stored and len(stored) == count(engine, "predictions")
    print(f"kill -9 with the database {database}: {len(answered)} answered, {len(lost)} lost ({rate:.0f}/s)")
    assert len(answered) > 300
    assert len(lost) <= rate * (interval + 0.1) + 5, (len(lost), rate)
    engine.dispose()
