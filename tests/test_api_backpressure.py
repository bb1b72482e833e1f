"""Backpressure: when the prediction log cannot keep up, predictions are refused, not answered and dropped.

Before, a client sending batches faster than the log's writer (benchmarks/bench_load.py: 10-13k
rows/s offered, ~3-5k written) got 200s while the full queue dropped the oldest entries: 40-60 %
of a minute's answered predictions were never stored. Here the writer is held by another
connection's exclusive lock on the SQLite file, so the queue fills deterministically.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from api_support import running_api, wait_for
from conftest_model import ModelEnv
from fault_support import count, time_bound
from sqlalchemy.engine import make_url

from api.schemas import EXAMPLE_REQUEST
from attrition.db.engine import create_db_engine
from attrition.schema import ID_COLUMN
from attrition.serving.prediction_log import PredictionLog

QUEUE = 5


def test_a_full_log_refuses_with_retry_after_and_every_answered_prediction_is_stored(
    champion_env: ModelEnv,
) -> None:
    """Lost if it failed: predictions answered 200 and then dropped from the full queue."""
    path = make_url(champion_env.settings.db_url).database
    assert path
    with (
        time_bound(60),
        running_api(
            champion_env.settings, log_queue_max=QUEUE, log_batch_size=1, api_key_cache_seconds=300
        ) as api,
    ):
        warm = api.client.post(
            "/v1/predict", json=EXAMPLE_REQUEST, headers=api.headers()
        )  # the key is cached now
        assert warm.status_code == 200 and api.ctx.log.flush(timeout=30)
        lock = sqlite3.connect(path, timeout=1, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # the writer waits on this lock: nothing drains
        try:
            answers = []
            for n in range(3 * QUEUE):
                body = {**EXAMPLE_REQUEST, ID_COLUMN: 7000 + n}
                answers.append(api.client.post("/v1/predict", json=body, headers=api.headers()))
                time.sleep(0.02)
            batch = {"records": [{**EXAMPLE_REQUEST, ID_COLUMN: 8000 + n} for n in range(QUEUE)]}
            refused_batch = api.client.post("/v1/predict/batch", json=batch, headers=api.headers())
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        codes = [a.status_code for a in answers]
        assert set(codes) == {200, 503} and codes.index(503) <= QUEUE + 2, (
            codes
        )  # the writer holds one or two
        assert 503 not in codes[: codes.index(503)] and all(c == 503 for c in codes[codes.index(503) :])
        refused = answers[codes.index(503)]
        assert refused.headers["Retry-After"] == "2"
        assert (
            "the prediction log is behind" in refused.json()["error"]
            and "nothing was predicted" in refused.json()["error"]
        )
        assert refused_batch.status_code == 503
        answered = {a.json()["prediction_id"] for a in answers if a.status_code == 200}
        assert api.ctx.log.flush(timeout=30)
        assert count(api.engine, "predictions") == len(answered) + 1  # and the warm-up
        stats = api.ctx.log.stats
        assert (stats.dropped, stats.refused) == (0, codes.count(503) + QUEUE)
        assert (
            f"attrition_api_prediction_log_refused_total {float(stats.refused)}"
            in api.client.get("/metrics").text
        )
        again = api.client.post(
            "/v1/predict", json=EXAMPLE_REQUEST, headers=api.headers()
        )  # drained: admitted
        assert again.status_code == 200
        assert wait_for(lambda: count(api.engine, "predictions") == len(answered) + 2)


def test_concurrent_reservations_never_overshoot_the_bound(sqlite_url: str) -> None:
    """Lost if it failed: requests admitted together, each predicting while the others do, then
    submitted past the bound, and the oldest answered entries dropped."""
    log = PredictionLog(create_db_engine(sqlite_url), max_entries=10)  # not started: nothing drains
    start = threading.Barrier(8)
    kept: list[bool] = []

    def request(n: int) -> None:
        start.wait()
        with log.reserve(3) as room:
            kept.append(room)
            if room:
                time.sleep(0.05)  # predicting, while the others ask
                log.submit_many([{"prediction_id": f"{n}-{i}"} for i in range(3)])

    threads = [threading.Thread(target=request, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert kept.count(True) == 3 and kept.count(False) == 5
    assert (log.stats.dropped, log.stats.refused, log.depth) == (0, 15, 9)
    with log.reserve(1) as room:  # the reservations were released: exactly one more fits
        assert room
    with log.reserve(2) as room:
        assert not room
