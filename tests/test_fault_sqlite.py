"""A short SQLite write fault (the file and its folder read-only for a moment) heals without a restart.

SQLite opens a file it cannot write read-only, without a word, and that connection
stays read-only after the file is writable again: before the fix such connections
stayed in the pool and every request that drew one failed until a restart, while
``/ready`` (a SELECT) said the database was fine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import running_api, wait_for
from fault_support import count, read_only, time_bound

from attrition.config import Settings
from attrition.db.engine import create_db_engine
from attrition.db.migrate import upgrade
from attrition.db.models import utcnow
from attrition.serving.prediction_log import PredictionLog

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(120):
        yield


def _database(tmp_path: Path) -> tuple[Path, str]:
    """A migrated SQLite file in a folder of its own (so only the database goes read-only)."""
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'app.db'}"
    upgrade(url)
    return folder, url


def _insert(engine: sa.Engine, subject: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, subject) VALUES (CURRENT_TIMESTAMP, 't', 'x', :s)"
            ),
            {"s": subject},
        )


def test_the_pool_drops_connections_opened_while_the_file_was_read_only(tmp_path: Path) -> None:
    """Lost if it failed: every write drawn on such a connection, until a restart."""
    folder, url = _database(tmp_path)
    engine = create_db_engine(url)
    with read_only(folder, folder / "app.db"):
        held = [engine.connect() for _ in range(3)]  # three new connections, opened read-only
        for conn in held:
            with pytest.raises(sa.exc.OperationalError), conn.begin():
                conn.execute(
                    sa.text("INSERT INTO audit_log (at, actor, action, subject) VALUES (0, 't', 'x', 's')")
                )
        for conn in held:
            conn.close()
    failures = []
    for n in range(6):  # the first may still meet a read-only connection; it must be the last
        try:
            _insert(engine, f"after-{n}")
        except sa.exc.OperationalError as error:
            failures.append(str(error.orig))
    assert len(failures) <= 1, failures
    assert count(engine, "audit_log") == 6 - len(failures)
    _insert(engine, "final")  # and from now on every write goes through
    assert count(engine, "audit_log") == 7 - len(failures)
    engine.dispose()


def test_ready_says_when_the_database_cannot_be_written_and_recovers(
    empty_env: Settings, tmp_path: Path
) -> None:
    """Lost if it failed: traffic keeps going to a replica whose writes (feedback, the log) all fail."""
    folder, url = _database(tmp_path)
    settings = empty_env.model_copy(update={"database_url": url})
    with running_api(settings) as api:
        before = api.client.get("/ready").json()["checks"]["database"]
        assert before["ok"] and "writable" in before["detail"]
        with read_only(folder, folder / "app.db"):
            during = api.client.get("/ready")
            assert during.status_code == 503  # (no model is served either: the check says why)
            check = during.json()["checks"]["database"]
            assert not check["ok"] and "refuses writes" in check["detail"], check
        after = [api.client.get("/ready").json()["checks"]["database"]["ok"] for _ in range(3)]
        assert after[-1] and after[1:] == [True, True]


def test_feedback_across_a_read_only_spell_stores_each_answered_outcome_once(
    empty_env: Settings, tmp_path: Path
) -> None:
    """Lost if it failed: outcomes stored for requests answered 503 (client retries store duplicates),
    outcomes without their audit event, and every write after the spell on a read-only connection."""
    folder, url = _database(tmp_path)
    settings = empty_env.model_copy(update={"database_url": url})
    with running_api(settings) as api:
        _insert(api.engine, "seed")
        with api.engine.begin() as conn:  # employees 1..40 are known: a logged prediction each
            for n in range(1, 41):
                conn.execute(
                    sa.text(
                        "INSERT INTO predictions (prediction_id, created_at, employee_number, model_name, "
                        "model_version, probability, threshold, label, risk_band, inputs, source) VALUES "
                        "(:p, CURRENT_TIMESTAMP, :n, 'm', '1', 0.5, 0.5, 0, 'low', '{}', 'api')"
                    ),
                    {"p": f"p-{n}", "n": n},
                )
        answers: dict[int, int] = {}

        def send(number: int) -> None:
            body = {"employee_number": number, "left": True, "outcome_date": "2026-03-31"}
            answers[number] = api.client.post("/v1/feedback", json=body, headers=api.headers()).status_code

        with read_only(folder, folder / "app.db"):
            threads = [threading.Thread(target=send, args=(n,)) for n in range(1, 21)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert set(answers.values()) <= {201, 503}
        assert 503 in answers.values()
        for n in range(21, 41):  # after the spell: every one is stored
            send(n)
        assert [answers[n] for n in range(21, 41)] == [201] * 20
        stored = {n for n, code in answers.items() if code == 201}
        assert count(api.engine, "outcomes") == len(stored)
        assert count(api.engine, "audit_log", "WHERE action = 'feedback'") == len(stored)
        with api.engine.connect() as conn:
            numbers = set(conn.execute(sa.text("SELECT employee_number FROM outcomes")).scalars())
        assert numbers == stored


def test_the_prediction_log_writes_again_after_a_read_only_spell(tmp_path: Path) -> None:
    """Lost if it failed: the predictions answered during the spell and every one after it
    (the log's flushes kept failing on a read-only connection until a restart)."""
    folder, url = _database(tmp_path)
    engine = create_db_engine(url)
    log = PredictionLog(engine, flush_interval=0.02, max_backoff=0.2, spill_dir=tmp_path / "spill").start()
    entries = [_prediction(n) for n in range(1, 51)]
    with read_only(folder, folder / "app.db"):
        log.submit_many(entries[:25])
        assert wait_for(lambda: log.stats.spilled == 25 and not log.stats.db_available)
        assert count(engine, "predictions") == 0
    log.submit_many(entries[25:])
    assert log.flush(timeout=30) and log.stats.db_available
    log.close()
    with engine.connect() as conn:
        stored = sorted(conn.execute(sa.text("SELECT employee_number FROM predictions")).scalars())
    assert stored == list(range(1, 51))
    assert list((tmp_path / "spill").glob("*.jsonl")) == []
    engine.dispose()


def _prediction(number: int) -> dict[str, object]:
    return {
        "prediction_id": f"ro-{number}",
        "created_at": utcnow(),
        "employee_number": number,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.25,
        "threshold": 0.3,
        "label": False,
        "risk_band": "medium",
        "inputs": {"EmployeeNumber": number},
        "source": "api",
    }
