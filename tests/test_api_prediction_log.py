"""The prediction log: one kind of row, batched writes, drain on close, retry, bounded queue."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from api_support import running_api
from conftest_model import ModelEnv

from api.schemas import EXAMPLE_REQUEST
from attrition.db.engine import create_db_engine
from attrition.db.models import utcnow
from attrition.db.repositories import get_prediction, insert_predictions, query_predictions
from attrition.schema import EXAMPLE_RECORD, TARGET
from attrition.serving.loader import Predictor
from attrition.serving.prediction_log import PredictionLog, prediction_rows
from attrition.serving.scoring import score_batch


def _entry(number: int) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": utcnow(),
        "employee_number": number,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
        "top_factors": None,
        "source": "api",
        "request_id": None,
    }


def _stored(engine: sa.Engine) -> list[int]:
    rows, _ = query_predictions(engine, limit=10_000)
    return sorted(int(r["employee_number"]) for r in rows)


def _rename(engine: sa.Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def _wait(condition: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_batches_are_written_and_close_drains_the_rest(db_url: str) -> None:
    engine = create_db_engine(db_url)
    log = PredictionLog(engine, batch_size=500, flush_interval=60.0).start()
    log.submit_many([_entry(n) for n in range(1, 1201)])
    # Two full batches go out without waiting for the (long) flush interval...
    assert _wait(lambda: log.stats.written >= 1000)
    assert log.depth == 200
    # ...and closing writes the remainder.
    log.close()
    assert _stored(engine) == list(range(1, 1201))
    assert log.stats.written == 1200 and log.stats.dropped == 0
    engine.dispose()


def test_entries_wait_while_the_database_fails_and_are_written_when_it_returns(db_url: str) -> None:
    engine = create_db_engine(db_url)
    log = PredictionLog(engine, batch_size=50, flush_interval=0.02, max_backoff=0.2).start()
    _rename(engine, "predictions", "predictions_away")
    try:
        log.submit_many([_entry(n) for n in range(1, 121)])
        assert _wait(lambda: log.stats.failed_flushes >= 2)
        assert not log.stats.db_available and log.stats.last_error
        assert log.depth == 120
        pending = log.find_pending(log._queue[0]["prediction_id"])  # feedback can still see them
        assert pending is not None
    finally:
        _rename(engine, "predictions_away", "predictions")
    assert log.flush(timeout=20)
    assert log.stats.db_available and log.stats.dropped == 0
    assert _stored(engine) == list(range(1, 121))
    log.close()
    engine.dispose()


def test_full_queue_drops_the_oldest_and_counts_them(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    log = PredictionLog(engine, max_entries=10, batch_size=5, flush_interval=0.02, max_backoff=0.1).start()
    _rename(engine, "predictions", "predictions_away")
    try:
        for n in range(1, 26):
            log.submit(_entry(n))
        assert _wait(lambda: log.stats.failed_flushes >= 1)
        # At most 10 wait (plus one batch in flight at the moment); everything beyond was dropped, oldest first.
        assert log.stats.dropped >= 10
    finally:
        _rename(engine, "predictions_away", "predictions")
    assert log.flush(timeout=20)
    kept = _stored(engine)
    assert kept == list(range(26 - len(kept), 26))  # the newest survive
    assert len(kept) + log.stats.dropped == 25
    log.close()
    engine.dispose()


def test_an_entry_already_stored_is_skipped_not_retried_forever(db_url: str) -> None:
    engine = create_db_engine(db_url)
    first, second = _entry(1), _entry(2)
    insert_predictions(engine, [first])  # e.g. written before a lost commit acknowledgement
    log = PredictionLog(engine, batch_size=10, flush_interval=0.02).start()
    log.submit_many([first, second])
    assert log.flush(timeout=20)
    assert log.stats.duplicates == 1 and log.stats.written == 1 and log.stats.rejected == 0
    assert get_prediction(engine, second["prediction_id"]) is not None
    assert _stored(engine) == [1, 2]
    log.close()
    engine.dispose()


def test_close_without_thread_drains_inline(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    log = PredictionLog(engine)
    log.submit_many([_entry(n) for n in range(1, 4)])
    log.close()
    assert _stored(engine) == [1, 2, 3]
    engine.dispose()


def test_api_and_batch_scoring_log_one_kind_of_row(champion_env: ModelEnv) -> None:
    """One record through POST /v1/predict, /v1/predict/batch and ``score --csv``: the same row."""
    settings, record = champion_env.settings, dict(EXAMPLE_REQUEST)
    predictor = Predictor.load(settings)
    frame = pd.DataFrame([{**record, TARGET: "Yes"}])
    scored = predictor.predict_frame(frame)
    from_frame = prediction_rows(predictor, frame, scored, source="batch", request_id="run")
    from_dicts = prediction_rows(predictor, frame.to_dict("records"), scored, source="api", request_id="r")
    assert from_frame[0].keys() == from_dicts[0].keys()
    assert from_frame[0]["inputs"] == from_dicts[0]["inputs"] == record  # the outcome is no input

    csv = champion_env.root / "one.csv"
    frame.to_csv(csv, index=False)
    score_batch(settings, csv=csv, predictor=predictor, top_k=0)
    with running_api(settings) as api:
        for path, body in (("/v1/predict", record), ("/v1/predict/batch", {"records": [record]})):
            assert api.client.post(path, json=body, headers=api.headers()).status_code == 200
        assert api.ctx.log.flush()
        rows, total = query_predictions(api.engine, limit=10)
    assert total == 3 and sorted(r["source"] for r in rows) == ["api", "api", "batch"]
    same = ("employee_number", "inputs", "label", "risk_band", "threshold", "model_name", "model_version")
    for row in rows:
        assert {k: row[k] for k in same} == {k: rows[0][k] for k in same}
        assert row["probability"] == pytest.approx(float(scored["probability"].iloc[0]), rel=1e-9)
        assert row["created_at"] is not None and row["snapshot_date"] is None
