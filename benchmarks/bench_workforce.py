"""Workforce views over HTTP: ``GET /v1/workforce/summary`` and ``GET /v1/employees`` at 50,000 employees.

Set-up (not timed): a migrated app database (SQLite in a temp dir, or ``--database-url``),
``--employees`` generator employees in two snapshots (the second a month later, with
some leavers and joiners' values changed by the generator's seed), every employee of
both snapshots scored once by a "batch" run and the latest snapshot scored a second
time by a newer model version, so the "latest score" has to pick among rows; plus a
few ad-hoc API predictions without snapshot. Predictions go in through
``insert_predictions`` (the repositories' insert; no model is needed to read them back).
The API runs in-process behind ``TestClient`` (real ASGI stack: auth, validation,
JSON), with a viewer key and no champion.

Timed (``--repeat`` calls each, after one warm-up): the summary of the latest snapshot,
the summary with a department filter, an older snapshot's summary, the first page of
the employee list (sort by risk, 50 rows), a page deep in the list via its cursor, a
filtered page, and one employee's record and history; then the summary right after a write
(the data version bumped before each call, so it is computed, not served from the API's
cache). Target: summary p50 < 200 ms.

    .venv/bin/python benchmarks/bench_workforce.py
    .venv/bin/python benchmarks/bench_workforce.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Writes benchmarks/results/workforce.json (``workforce_<dialect>.json`` for a server) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # the api package lives next to src/
SNAPSHOTS = (dt.date(2026, 9, 30), dt.date(2026, 10, 31))


def seed(db_url: str, employees: int) -> dict[str, Any]:
    """Employees in two snapshots and their predictions; returns what was stored."""
    import pandas as pd
    import sqlalchemy as sa

    from attrition.config import RiskBands
    from attrition.data.generator import generate_workforce
    from attrition.db.engine import create_db_engine
    from attrition.db.migrate import upgrade
    from attrition.db.repositories import insert_employees, insert_predictions
    from attrition.schema import ID_COLUMN, RECORD_COLUMNS

    upgrade(db_url)
    engine = create_db_engine(db_url)
    bands = RiskBands()
    rng = np.random.default_rng(5)
    stored = {"employees": 0, "predictions": 0}
    start = time.perf_counter()
    for index, snapshot in enumerate(SNAPSHOTS):
        frame = generate_workforce(employees, seed=100 + index, snapshot_date=snapshot)
        stored["employees"] += insert_employees(engine, frame, f"bench@{snapshot}").inserted
        runs = [("1", dt.datetime(2026, 11, 1, 6))] + ([("2", dt.datetime(2026, 11, 8, 6))] * index)
        for version, when in runs:
            probability = rng.beta(1.2, 4.0, size=len(frame))
            band = np.select(
                [probability >= bands.critical, probability >= bands.high, probability >= bands.medium],
                ["critical", "high", "medium"],
                "low",
            )
            inputs = frame[list(RECORD_COLUMNS)].to_dict("records")
            rows = [
                {
                    "prediction_id": f"bench-{version}-{snapshot}-{number}",
                    "created_at": when,
                    "employee_number": int(number),
                    "snapshot_date": snapshot,
                    "model_name": "attrition-classifier",
                    "model_version": version,
                    "probability": float(p),
                    "threshold": 0.3,
                    "label": bool(p >= 0.3),
                    "risk_band": str(b),
                    "inputs": record,
                    "top_factors": [
                        {"feature": "OverTime", "value": record["OverTime"], "contribution": 0.1},
                        {"feature": "Age", "value": record["Age"], "contribution": -0.05},
                        {"feature": "JobLevel", "value": record["JobLevel"], "contribution": 0.02},
                    ],
                    "source": "batch",
                }
                for number, p, b, record in zip(frame[ID_COLUMN], probability, band, inputs, strict=True)
            ]
            stored["predictions"] += insert_predictions(engine, rows)
    adhoc = pd.DataFrame(generate_workforce(200, seed=9))
    stored["predictions"] += insert_predictions(
        engine,
        [
            {
                "prediction_id": f"bench-api-{i}",
                "employee_number": int(n),
                "model_name": "attrition-classifier",
                "model_version": "2",
                "probability": 0.9,
                "threshold": 0.3,
                "label": True,
                "risk_band": "critical",
                "inputs": {},
                "source": "api",
            }
            for i, n in enumerate(adhoc[ID_COLUMN])
        ],
    )
    if engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of a bulk load; without statistics the planner
        # takes the fresh tables for a few rows and picks nested loops (minutes, not ms).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    stored["seed_seconds"] = round(time.perf_counter() - start, 1)
    engine.dispose()
    return stored


def timed(call: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> dict[str, float]:
    """p50/p90/max of ``call`` after one warm-up; ``before`` runs untimed before each call."""
    call()  # warm-up (connection pool, statement caches)
    seconds = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def measure(root: Path, db_url: str, repeat: int) -> dict[str, dict[str, float]]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from attrition.config import Settings
    from attrition.db import data_versions
    from attrition.db.engine import create_db_engine
    from attrition.keys import create_key

    settings = Settings(
        data_dir=root / "var",
        database_url=db_url,
        mlflow_tracking_uri=f"sqlite:///{root / 'var' / 'mlflow.db'}",
        mlflow_artifact_root=(root / "var" / "mlartifacts").as_uri(),
        reports_dir=root / "reports",
        reference_dir=root / "reference",
    )
    settings.serving.rate_limit_per_minute = 10_000_000
    settings.serving.reload_interval_seconds = 0
    engine = create_db_engine(db_url)
    headers = {"X-API-Key": create_key(engine, f"bench-viewer-{time.time_ns()}", "viewer")}
    engine.dispose()
    results: dict[str, dict[str, float]] = {}
    with TestClient(create_app(settings)) as client:

        def get(path: str, **params: Any) -> Any:
            response = client.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        deep = get("/v1/employees", limit=500)
        first = deep["items"][0]["employee_number"]
        for _ in range(20):  # 10,000 rows into the list
            deep = get("/v1/employees", limit=500, cursor=deep["next_cursor"])
        calls: dict[str, Callable[[], Any]] = {
            "summary (latest snapshot)": lambda: get("/v1/workforce/summary"),
            "summary (department=Sales)": lambda: get("/v1/workforce/summary", department="Sales"),
            "summary (older snapshot)": lambda: get("/v1/workforce/summary", snapshot=str(SNAPSHOTS[0])),
            "employees page 1 (sort=risk, 50)": lambda: get("/v1/employees"),
            "employees page 201 (cursor)": lambda: get("/v1/employees", cursor=deep["next_cursor"]),
            "employees (risk_band=critical)": lambda: get("/v1/employees", risk_band="critical"),
            "employee record + history": lambda: get(f"/v1/employees/{first}"),
        }
        for name, call in calls.items():
            results[name] = timed(call, repeat)
        # A cache miss: the first summary after a write (ingest or scoring bumps the data version).
        writes = create_db_engine(db_url)

        def write() -> None:
            with writes.begin() as conn:
                data_versions.bump(conn)

        results["summary after a write (computed)"] = timed(
            lambda: get("/v1/workforce/summary"), repeat, write
        )
        results["summary after a write, Sales"] = timed(
            lambda: get("/v1/workforce/summary", department="Sales"), repeat, write
        )
        writes.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=50_000, help="employees per snapshot")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="an empty server database (default: SQLite)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from sqlalchemy.engine import make_url

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db_url = args.database_url or f"sqlite:///{root / 'app.db'}"
        dialect = make_url(db_url).get_backend_name()
        print(
            f"seeding {args.employees:,} employees x {len(SNAPSHOTS)} snapshots ({dialect}) ...", flush=True
        )
        stored = seed(db_url, args.employees)
        timings = measure(root, db_url, args.repeat)
    report = {
        "benchmark": "workforce",
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "database": dialect,
        "employees_per_snapshot": args.employees,
        "snapshots": len(SNAPSHOTS),
        "stored": stored,
        "repeat": args.repeat,
        "target": "summary p50 < 200 ms",
        "timings": timings,
    }
    name = "workforce.json" if dialect == "sqlite" else f"workforce_{dialect}.json"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'call':<36} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
    for call, t in timings.items():
        print(f"{call:<36} {t['p50_ms']:>8.1f} {t['p90_ms']:>8.1f} {t['max_ms']:>8.1f}")
    print(
        f"\n{stored['employees']:,} employee rows, {stored['predictions']:,} predictions ({dialect}); "
        f"wrote benchmarks/results/{name}"
    )


if __name__ == "__main__":
    main()
