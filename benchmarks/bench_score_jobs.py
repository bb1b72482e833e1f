"""Score jobs over HTTP: a 50,000-row CSV uploaded to ``POST /v1/score-jobs``, polled, downloaded.

Set-up (not timed): a champion trained on generator data (logistic regression, 5 trials,
1,500 rows), logged, registered and promoted in a temp MLflow store; a migrated SQLite app
DB (or ``--database-url``) with a predictor key; a generator CSV of ``--rows`` rows; the API
in a real uvicorn server on 127.0.0.1 (a free port), started in a thread.

Timed, end to end through HTTP: the upload (multipart POST until the 202), the wait (polls
of ``GET /v1/score-jobs/{id}`` every 0.25 s until ``done``; their latency shows whether a
running job slows other requests), the download of the neutralised result CSV, and the
whole. For comparison, ``score_batch`` on the same file in-process with the same chunk
size (what ``attrition score --csv`` does), so the table shows what the API adds.

    .venv/bin/python benchmarks/bench_score_jobs.py
    .venv/bin/python benchmarks/bench_score_jobs.py --rows 20000 --factors 0

Writes benchmarks/results/score_jobs.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "score_jobs.json"
sys.path.insert(0, str(ROOT))  # the api package lives next to src/


def prepare(root: Path, args: argparse.Namespace) -> tuple[Any, Path]:
    """A promoted champion, a migrated app DB and a generator CSV of ``args.rows`` rows."""
    from attrition.config import ServingSettings, Settings, TrainingSettings
    from attrition.data.generator import generate_workforce, write_csv
    from attrition.db.migrate import upgrade
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register
    from attrition.training.pipeline import train_model

    settings = Settings(
        data_dir=root / "var",
        database_url=args.database_url or f"sqlite:///{root / 'app.db'}",
        mlflow_tracking_uri=f"sqlite:///{root / 'var' / 'mlflow.db'}",
        mlflow_artifact_root=(root / "var" / "mlartifacts").as_uri(),
        reports_dir=root / "reports",
        reference_dir=root / "reference",
        training=TrainingSettings(
            trials=5, seed=1, families=["logistic_regression"], protected_attributes=["Gender"]
        ),
        serving=ServingSettings(rate_limit_per_minute=1_000_000, reload_interval_seconds=0),
    )
    upgrade(settings.db_url)
    result = train_model(generate_workforce(1500, seed=1), settings.training)
    log_and_register(result, settings, actor="bench")
    decision = promote(settings, actor="bench")
    if not decision.promoted:
        raise SystemExit(f"set-up failed, the benchmark model was not promoted: {decision.message()}")
    csv = root / "upload.csv"
    write_csv(generate_workforce(args.rows, seed=100, snapshot_date=dt.date(2026, 10, 31)), csv)
    return settings, csv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(settings: Any) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    from api.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the API did not start within 120 s")
        time.sleep(0.1)
    return server, thread, f"http://127.0.0.1:{port}"


def run_job(base: str, key: str, csv: Path, factors: int) -> dict[str, Any]:
    """Upload, poll until done, download; seconds of each phase and the poll latencies."""
    import httpx
    import pandas as pd

    headers = {"X-API-Key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        started = time.perf_counter()
        with csv.open("rb") as handle:
            created = client.post(
                "/v1/score-jobs", files={"file": (csv.name, handle, "text/csv")}, params={"factors": factors}
            )
        if created.status_code != 202:
            raise SystemExit(f"upload refused: {created.status_code} {created.text[:300]}")
        uploaded = time.perf_counter()
        job_id = created.json()["job_id"]
        polls: list[float] = []
        while True:
            before = time.perf_counter()
            status = client.get(f"/v1/score-jobs/{job_id}").json()
            polls.append((time.perf_counter() - before) * 1000)
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.25)
        if status["status"] != "done":
            raise SystemExit(f"job failed: {status['error']}")
        scored = time.perf_counter()
        download = client.get(status["result_url"])
        rows = len(pd.read_csv(io.BytesIO(download.content)))
        finished = time.perf_counter()
    polls.sort()
    return {
        "status": status,
        "rows_downloaded": rows,
        "download_bytes": len(download.content),
        "upload_seconds": round(uploaded - started, 2),
        "scoring_seconds": round(scored - uploaded, 2),
        "download_seconds": round(finished - scored, 2),
        "total_seconds": round(finished - started, 2),
        "poll_ms": {
            "count": len(polls),
            "p50": round(statistics.median(polls), 1),
            "max": round(polls[-1], 1),
        },
    }


def direct_rate(settings: Any, csv: Path, factors: int, root: Path) -> float:
    """Rows/s of ``score_batch`` on the same file in-process (the CLI's path), same chunk size."""
    from api.score_jobs import CHUNK_ROWS
    from attrition.serving.scoring import score_batch

    started = time.perf_counter()
    report = score_batch(settings, csv=csv, out=root / "direct.csv", chunk_rows=CHUNK_ROWS, top_k=factors)
    return report.rows_scored / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--factors", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an empty app database (default: SQLite)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from attrition.db.engine import create_db_engine
    from attrition.keys import create_key

    with tempfile.TemporaryDirectory(prefix="bench_score_jobs_") as tmp:
        root = Path(tmp)
        print(f"set-up: champion + {args.rows:,}-row CSV ...", flush=True)
        settings, csv = prepare(root, args)
        engine = create_db_engine(settings.db_url)
        key = create_key(engine, f"bench-predictor-{time.time_ns()}", "predictor")
        engine.dispose()
        server, thread, base = start_server(settings)
        try:
            print(f"uploading {csv.stat().st_size / 1e6:.1f} MB to {base} ...", flush=True)
            job = run_job(base, key, csv, args.factors)
        finally:
            server.should_exit = True
            thread.join(timeout=120)
        direct = direct_rate(settings, csv, args.factors, root)
        upload_bytes = csv.stat().st_size
    status = job.pop("status")
    if job["rows_downloaded"] != status["rows_scored"] or status["rows_scored"] != args.rows:
        raise SystemExit(
            f"counts disagree: {status['rows_scored']} scored, {job['rows_downloaded']} downloaded"
        )
    result = {
        "benchmark": "score_jobs",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "rows": args.rows,
        "factors": args.factors,
        "upload_bytes": upload_bytes,
        "database": "sqlite" if not args.database_url else "given url",
        **job,
        "rows_per_second_end_to_end": round(args.rows / job["total_seconds"]),
        "rows_per_second_job": status["rows_per_second"],
        "rows_per_second_score_batch_direct": round(direct),
        "high_risk": status["high_risk"],
        "risk_bands": status["risk_bands"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'phase':<34} {'seconds':>8} {'rows/s':>9}")
    for phase in ("upload", "scoring", "download", "total"):
        seconds = job[f"{phase}_seconds"]
        print(f"{phase:<34} {seconds:>8.2f} {args.rows / max(seconds, 1e-9):>9,.0f}")
    print(f"{'score_batch in-process (same file)':<34} {args.rows / direct:>8.2f} {direct:>9,.0f}")
    polls = job["poll_ms"]
    print(f"\nstatus polls while scoring: {polls['count']}, p50 {polls['p50']} ms, max {polls['max']} ms")
    print(f"{args.rows:,} rows ({upload_bytes / 1e6:.1f} MB), {args.factors} factors; written to {args.out}")


if __name__ == "__main__":
    main()
