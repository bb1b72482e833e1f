"""The load benchmark's short variant (benchmarks/bench_load.py): wrk against a real API, nothing lost.

``attrition serve api`` (uvicorn) on the session's trained champion, prediction logging into
SQLite (and PostgreSQL when ATTRITION_TEST_POSTGRES_URL is set); wrk drives single predictions,
then batches at ``serving.max_batch_records``, 5 s each. Asserted: no socket error, no non-2xx,
and the rows in ``predictions`` equal the server's 2xx count (times the batch size) exactly,
per phase and after shutdown. Timings and memory are the benchmark's business, not asserted.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest_model import ModelEnv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_load.py"
SECONDS = 5


def _load_bench() -> ModuleType:
    """benchmarks/ is not a package: load bench_load.py by path (once)."""
    if "bench_load" in sys.modules:
        return sys.modules["bench_load"]
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench() -> ModuleType:
    if shutil.which("wrk") is None:
        reason = "wrk is not installed (apt-get install wrk, or scripts/system-deps.sh as root)"
        if os.environ.get("ATTRITION_REQUIRE_SERVERS") == "1":
            pytest.fail(f"ATTRITION_REQUIRE_SERVERS=1 but {reason}")
        pytest.skip(reason)
    return _load_bench()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_db(request: pytest.FixtureRequest, bench: ModuleType, champion_env: ModelEnv) -> Iterator[str]:
    """The champion copy's SQLite app database, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield champion_env.settings.db_url
        return
    if not os.environ.get("ATTRITION_TEST_POSTGRES_URL"):
        pytest.skip(
            "ATTRITION_TEST_POSTGRES_URL is not set (scripts/db_env.py sets it when PostgreSQL answers)"
        )
    with bench.app_database("postgresql", champion_env.root) as url:
        yield url


def test_short_load_loses_no_prediction(
    bench: ModuleType, app_db: str, champion_env: ModelEnv, tmp_path: Path
) -> None:
    limit = champion_env.settings.serving.max_batch_records
    single, batch = bench.write_bodies(tmp_path, limit)
    phases = [
        bench.Phase("predict c=8", bench.PREDICT, single, 8, SECONDS),
        bench.Phase(f"batch {limit}", bench.BATCH, batch, 2, SECONDS, limit),
    ]
    env = bench.settings_env(champion_env.settings) | {"ATTRITION_DATABASE_URL": app_db}
    key = bench.predictor_key(app_db)

    run = bench.run_load(env, app_db, key, phases, tmp_path, max_growth_mb=None)

    assert run["problems"] == []
    single_phase, batch_phase = run["phases"]
    for phase in run["phases"]:
        wrk = phase["wrk"]
        assert wrk["responses_2xx"] > 0, phase["phase"]["name"]
        errors = wrk["errors_connect"] + wrk["errors_read"] + wrk["errors_write"] + wrk["errors_timeout"]
        assert (errors, wrk["responses_not_2xx"], phase["server_not_2xx"]) == (0, 0, 0)
        assert phase["log"] == {"dropped": 0, "spilled": 0, "rejected": 0, "refused": 0, "depth_after": 0}
        assert 0 <= phase["server_2xx"] - wrk["responses_2xx"] <= phase["phase"]["connections"]
    assert single_phase["stored_rows"] == single_phase["server_2xx"]
    assert batch_phase["stored_rows"] == batch_phase["server_2xx"] * limit
    assert run["stored_after_shutdown"] == single_phase["stored_rows"] + batch_phase["stored_rows"]
