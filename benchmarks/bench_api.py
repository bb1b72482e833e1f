"""Prediction API over real HTTP: single-prediction latency and throughput, batch rows/s.

Everything is real: a model is trained on generator data, logged to an MLflow
store (SQLite + local artifacts) in a temp dir, promoted to champion; the API runs
as ``attrition serve api`` (uvicorn) in a subprocess on a free loopback port with
prediction logging on (SQLite app database). Measured:

* in-process, same model, same run: one row through the plain sklearn pipeline
  (``model.pipeline.predict_proba(one_row_frame)``) and through the compiled fast path;
* over HTTP, one connection: ``POST /v1/predict`` latency p50/p90/p99;
* over HTTP, concurrent connections: single predictions per second (with p50/p99);
* over HTTP: ``POST /v1/predict/batch`` with 1,000 records, rows per second.

The load tool is ``wrk`` when installed (``apt-get install wrk``), else an asyncio
httpx client with bounded concurrency (slower: the client competes for the same cores).

    .venv/bin/python benchmarks/bench_api.py                      # logistic regression, 1 worker
    .venv/bin/python benchmarks/bench_api.py --family random_forest --workers 2

Writes benchmarks/results/api.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api.json"
PYTHON = sys.executable


# --- set-up: a real champion and a key ---------------------------------------------------------


def prepare(root: Path, family: str, rows: int) -> tuple[dict[str, str], str, Any]:
    """Train, register and promote a model; create a key. Returns (env, key, AttritionModel)."""
    from champion import promoted_champion

    from attrition.config import location_env
    from attrition.db.engine import create_db_engine
    from attrition.keys import create_key

    settings, result = promoted_champion(root, family=family, trials=6, rows=rows)
    env = location_env(settings, root / "no-configs") | {
        "ATTRITION_SERVING__RATE_LIMIT_PER_MINUTE": "100000000",
        "ATTRITION_SERVING__RELOAD_INTERVAL_SECONDS": "30",
        "ATTRITION_LOG_LEVEL": "WARNING",
    }
    key = create_key(create_db_engine(settings.db_url), "bench", "predictor")
    return env, key, result.model


# --- in-process reference ----------------------------------------------------------------------


def in_process(model: Any, record: dict[str, Any], repeats: int = 500) -> dict[str, float]:
    """Median/p99 milliseconds of one row through the plain pipeline and through the fast path."""
    import pandas as pd

    from attrition.serving.fastpath import FastPredictor

    frame = pd.DataFrame([record])
    fast = FastPredictor(model)

    def timed(call: Any) -> np.ndarray:
        for _ in range(20):
            call()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        return np.array(samples) * 1000

    plain = timed(lambda: model.pipeline.predict_proba(frame))
    compiled = timed(lambda: fast.predict_proba([record]))
    return {
        "plain_pipeline_p50_ms": float(np.percentile(plain, 50)),
        "plain_pipeline_p99_ms": float(np.percentile(plain, 99)),
        "fast_path_p50_ms": float(np.percentile(compiled, 50)),
        "fast_path_p99_ms": float(np.percentile(compiled, 99)),
        "fast_path_compiled": bool(fast.compiled),
    }


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        PYTHON,
        "-m",
        "attrition.cli",
        "serve",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    handle = log.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=handle, stderr=handle)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"API exited early; see {log}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"API not ready within 180 s; see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


# --- load generation -----------------------------------------------------------------------------

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
wrk.body = [[{body}]]
done = function(summary, latency, requests)
  io.write(string.format("JSON {{\\"requests\\": %d, \\"seconds\\": %f, \\"errors\\": %d, " ..
    "\\"non2xx\\": %d, \\"p50_ms\\": %f, \\"p90_ms\\": %f, \\"p99_ms\\": %f}}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000))
end
"""


def wrk_run(url: str, key: str, body: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    script.write_text(_WRK_SCRIPT.format(key=key, body=body))
    threads = max(1, min(2, connections))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON "))
    stats: dict[str, float] = json.loads(line[5:])
    stats["requests_per_second"] = stats["requests"] / stats["seconds"]
    return stats


async def _httpx_load(
    url: str, headers: dict[str, str], body: bytes, connections: int, total: int
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": float(len(latencies)),
        "seconds": elapsed,
        "errors": 0.0,
        "non2xx": float(failures),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "requests_per_second": len(latencies) / elapsed,
    }


def load(
    url: str, key: str, body: str, connections: int, seconds: int, tool: str, work: Path
) -> dict[str, float]:
    if tool == "wrk":
        return wrk_run(url, key, body, connections, seconds, work / f"post_{connections}.lua")
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    total = 300 * seconds if connections == 1 else 600 * seconds
    return asyncio.run(_httpx_load(url, headers, body.encode(), connections, total))


def batch_rows_per_second(url: str, key: str, records: list[dict[str, Any]], calls: int) -> dict[str, float]:
    import httpx

    body = json.dumps({"records": records}).encode()
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    times = []
    with httpx.Client(timeout=120) as client:
        client.post(url, content=body, headers=headers).raise_for_status()  # warm-up
        for _ in range(calls):
            start = time.perf_counter()
            client.post(url, content=body, headers=headers).raise_for_status()
            times.append(time.perf_counter() - start)
    seconds = np.array(times)
    return {
        "records_per_call": float(len(records)),
        "calls": float(calls),
        "call_p50_ms": float(np.percentile(seconds, 50) * 1000),
        "rows_per_second": float(len(records) * calls / seconds.sum()),
        "body_bytes": float(len(body)),
    }


def logged_rows(env: dict[str, str]) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(env["ATTRITION_DATABASE_URL"])
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one())
    engine.dispose()
    return count


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--family",
        default="logistic_regression",
        choices=["logistic_regression", "random_forest", "hist_gradient_boosting"],
    )
    parser.add_argument("--rows", type=int, default=3000, help="training rows")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load phase")
    parser.add_argument(
        "--connections", type=int, default=16, help="concurrent connections of the load phase"
    )
    parser.add_argument("--batch-calls", type=int, default=10)
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    tool = ("wrk" if shutil.which("wrk") else "httpx") if args.tool == "auto" else args.tool

    from attrition.data.generator import generate_workforce
    from attrition.schema import RECORD_COLUMNS

    work = Path(tempfile.mkdtemp(prefix="bench_api_"))
    print(f"training a {args.family} champion in {work} ...", flush=True)
    env, key, model = prepare(work, args.family, args.rows)
    records = generate_workforce(1000, seed=99)[list(RECORD_COLUMNS)].to_dict("records")
    records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]
    record = records[0]
    reference = in_process(model, record)

    port = free_port()
    server = start_server(env, port, args.workers, work / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        body = json.dumps(record)
        warmup = load(f"{base}/v1/predict", key, body, 4, 2, tool, work)
        single = load(f"{base}/v1/predict", key, body, 1, args.seconds, tool, work)
        concurrent = load(f"{base}/v1/predict", key, body, args.connections, args.seconds, tool, work)
        batch = batch_rows_per_second(f"{base}/v1/predict/batch", key, records, args.batch_calls)
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            metrics_text = response.read().decode()
    finally:
        stop_server(server)  # drains the prediction log
    logged = logged_rows(env)
    dropped = [
        line for line in metrics_text.splitlines() if line.startswith("attrition_api_prediction_log_dropped")
    ]
    served = int(warmup["requests"] + single["requests"] + concurrent["requests"]) + len(records) * (
        args.batch_calls + 1
    )

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "setup": {
            "family": args.family,
            "training_rows": args.rows,
            "workers": args.workers,
            "tool": tool,
            "connections": args.connections,
            "seconds_per_phase": args.seconds,
            "prediction_logging": "on (SQLite app database)",
            "access_log": "off",
        },
        "in_process_one_row": reference,
        "http_single_one_connection": single,
        "http_single_concurrent": concurrent,
        "http_batch": batch,
        "prediction_log": {
            "rows_in_table": logged,
            "predictions_served": served,
            "dropped_metric": dropped,
        },
        "targets": {
            "http_p50_below_plain_pipeline": single["p50_ms"] < reference["plain_pipeline_p50_ms"],
            "at_least_300_per_second": concurrent["requests_per_second"] >= 300,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    rows = [
        (
            "in-process plain pipeline, 1 row",
            f"{reference['plain_pipeline_p50_ms']:.3f} ms",
            f"{reference['plain_pipeline_p99_ms']:.3f} ms",
            "",
        ),
        (
            "in-process fast path, 1 row",
            f"{reference['fast_path_p50_ms']:.3f} ms",
            f"{reference['fast_path_p99_ms']:.3f} ms",
            "",
        ),
        (
            "HTTP /v1/predict, 1 connection",
            f"{single['p50_ms']:.3f} ms",
            f"{single['p99_ms']:.3f} ms",
            f"{single['requests_per_second']:.0f} req/s",
        ),
        (
            f"HTTP /v1/predict, {args.connections} connections",
            f"{concurrent['p50_ms']:.3f} ms",
            f"{concurrent['p99_ms']:.3f} ms",
            f"{concurrent['requests_per_second']:.0f} req/s",
        ),
        (
            "HTTP /v1/predict/batch (1,000 rows)",
            f"{batch['call_p50_ms']:.1f} ms",
            "",
            f"{batch['rows_per_second']:.0f} rows/s",
        ),
    ]
    print(f"\n{args.family}, {args.workers} worker(s), load tool {tool}, prediction logging on")
    print(f"{'measurement':<40} {'p50':>12} {'p99':>12} {'throughput':>16}")
    for name, p50, p99, rate in rows:
        print(f"{name:<40} {p50:>12} {p99:>12} {rate:>16}")
    print(f"predictions in the table after shutdown: {logged} (served ~{served}); {' '.join(dropped)}")
    print(f"targets: {result['targets']}")
    print(f"wrote {RESULTS}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
