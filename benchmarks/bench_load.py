"""Sustained load on the prediction API over loopback with wrk: errors, lost predictions, memory.

Everything is real: a champion trained on generator data (MLflow store in a temp dir), the API
as ``attrition serve api`` (uvicorn, one worker) on a free loopback port, prediction logging on
into the app database (SQLite, and PostgreSQL when ATTRITION_TEST_POSTGRES_URL is set: a
throw-away database on that server), wrk with benchmarks/load/post_json.lua as the client.

Phases, each ``--seconds`` long: a short warm-up, ``POST /v1/predict`` at each of
``--connections``, then ``POST /v1/predict/batch`` with ``serving.max_batch_records`` records
(the size limit; one call over it must get 422). After each phase, once the prediction log
drained, the checks are:

* wrk: zero socket errors (connect/read/write/timeout) and no non-2xx responses but the API's
  backpressure 503s (the prediction log full: refused before predicting, counted as ``refused``,
  the client retries); the server's own request counter likewise;
* stored rows: the rows the phase added to ``predictions`` equal the server's 2xx count of the
  route (times the batch size), exactly; wrk's completed count is at most ``connections`` below
  it (requests wrk sent before its clock stopped and did not wait for are still answered);
* memory: the API process's RSS (VmRSS of it and its children, sampled every second) grows by
  at most ``--max-growth-mb`` over the second half of each measured phase.

    .venv/bin/python benchmarks/bench_load.py                   # 60 s per phase (~5 min a database)
    .venv/bin/python benchmarks/bench_load.py --seconds 10 --databases sqlite

Writes benchmarks/results/load.json and prints a table; exits 1 when a check failed.
tests/test_load_short.py runs the same phases for a few seconds (``make test``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attrition.config import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "load.json"
WRK_SCRIPT = ROOT / "benchmarks" / "load" / "post_json.lua"
PREDICT, BATCH = "/v1/predict", "/v1/predict/batch"
MB = 1024.0


# --- phases and their checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One wrk run: a route, a body, how many connections, how long, rows per request."""

    name: str
    route: str
    body: Path
    connections: int
    seconds: int
    records_per_request: int = 1
    measure_memory: bool = True
    delay_ms: int = 0  # > 0: each connection pauses this long between requests (a paced load)


@dataclass
class PhaseResult:
    phase: dict[str, Any]
    wrk: dict[str, float]
    server_2xx: int
    server_not_2xx: int
    stored_rows: int
    expected_rows: int
    drain_seconds: float
    log: dict[str, float]
    log_depth_max: float
    rss_mb: dict[str, float]
    problems: list[str] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return self.wrk["requests"] / self.wrk["seconds"]


def phase_problems(result: PhaseResult, max_growth_mb: float | None) -> list[str]:
    """What went wrong in one phase (empty: nothing)."""
    wrk, name = result.wrk, result.phase["name"]
    connections = int(result.phase["connections"])
    problems = []
    errors = sum(wrk[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
    if errors:
        problems.append(f"{name}: {errors:.0f} socket errors from wrk")
    busy = wrk.get("responses_503", 0.0)  # backpressure: refused before predicting, the client retries
    if wrk["responses_not_2xx"] - busy or result.server_not_2xx - busy > connections:
        problems.append(
            f"{name}: non-2xx responses other than backpressure 503s (wrk {wrk['responses_not_2xx']:.0f}, "
            f"of which 503 {busy:.0f}; server {result.server_not_2xx})"
        )
    if result.stored_rows != result.expected_rows:
        problems.append(f"{name}: {result.stored_rows} rows stored, expected {result.expected_rows}")
    if not 0 <= result.server_2xx - wrk["responses_2xx"] <= connections:
        problems.append(
            f"{name}: server answered {result.server_2xx} 2xx, wrk completed {wrk['responses_2xx']:.0f}"
            f" (expected at most {connections} more on the server)"
        )
    if result.log["dropped"] or result.log["spilled"] or result.log["rejected"]:
        problems.append(f"{name}: prediction log dropped/spilled/rejected entries: {result.log}")
    growth = result.rss_mb.get("second_half_growth")
    if max_growth_mb is not None and growth is not None and growth > max_growth_mb:
        problems.append(
            f"{name}: RSS grew {growth:.1f} MB over the second half (bound {max_growth_mb} MB);"
            f" the prediction log queue held up to {result.log_depth_max:.0f} entries"
        )
    return problems


# --- the API process -----------------------------------------------------------------------------


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``attrition serve api`` read these settings (no configs/ YAML)."""
    from attrition.config import location_env

    return location_env(settings, Path(settings.data_dir) / "no-configs") | {
        # The load is one key: the per-key rate limit would answer 429, which is not under test here.
        "ATTRITION_SERVING__RATE_LIMIT_PER_MINUTE": "1000000000",
        "ATTRITION_LOG_LEVEL": "INFO",
    }


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    base: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], log: Path, access_log: bool = False) -> Iterator[ApiProcess]:
    """``attrition serve api`` on a free loopback port until ready; SIGTERM (log drained) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "attrition.cli", "serve", "api", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--access-log" if access_log else "--no-access-log"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=handle, stderr=handle)
    api = ApiProcess(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(api, timeout=180)
        yield api
    finally:
        stop_server(api)


def _wait_ready(api: ApiProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API exited early; see {api.log}:\n{api.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api.base}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API was not ready within {timeout:.0f} s; see {api.log}")


def stop_server(api: ApiProcess) -> int | None:
    """SIGTERM and wait (uvicorn's graceful shutdown drains the prediction log); kill after 60 s."""
    if api.process.poll() is None:
        api.process.send_signal(signal.SIGTERM)
        try:
            api.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            api.process.kill()
            api.process.wait(timeout=10)
    return api.process.returncode


# --- what the server and the database say --------------------------------------------------------


@dataclass(frozen=True)
class ServerCounts:
    ok: dict[str, int]
    not_ok: dict[str, int]
    log: dict[str, float]


def scrape(base: str) -> ServerCounts:
    """Requests by route (2xx / other) and the prediction log's counters, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    ok: dict[str, int] = {}
    not_ok: dict[str, int] = {}
    log: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "attrition_api_requests_total" and sample.labels.get("method") == "POST":
                target = ok if sample.labels["status"].startswith("2") else not_ok
                route = sample.labels["route"]
                target[route] = target.get(route, 0) + int(sample.value)
            elif sample.name.startswith("attrition_api_prediction_log_"):
                key = sample.name.removeprefix("attrition_api_prediction_log_").removesuffix("_total")
                log[key] = sample.value
    return ServerCounts(ok, not_ok, log)


def stored_rows(db_url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one())
    finally:
        engine.dispose()


def drain(api: ApiProcess, db_url: str, route: str, timeout: float = 60.0) -> tuple[ServerCounts, int, float]:
    """Wait until the route's count is steady, the log queue is empty and the rows are written."""
    start = time.monotonic()
    previous = scrape(api.base)
    while True:
        time.sleep(0.5)
        counts = scrape(api.base)
        steady = counts.ok.get(route) == previous.ok.get(route) and counts.log.get("depth", 0) == 0
        if steady and counts.log.get("written") == previous.log.get("written"):
            return counts, stored_rows(db_url), time.monotonic() - start
        if time.monotonic() - start > timeout:
            return counts, stored_rows(db_url), time.monotonic() - start
        previous = counts


# --- memory --------------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in kB (0 for a process that is gone)."""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_kb(int(child))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        pass
    return total


class Sampler:
    """Every ``interval`` seconds in a background thread: the process tree's RSS, the log queue's depth."""

    def __init__(self, api: ApiProcess, interval: float = 1.0) -> None:
        self.api, self.interval = api, interval
        self.samples: list[tuple[float, int]] = []
        self.depths: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), rss_kb(self.api.process.pid)))
            with suppress(OSError, ValueError):
                self.depths.append((time.monotonic(), scrape(self.api.base).log.get("depth", 0.0)))
            if self._stop.wait(self.interval):
                return

    def between(self, start: float, end: float) -> list[int]:
        return [kb for t, kb in list(self.samples) if start <= t <= end]

    def depth_max(self, start: float, end: float) -> float:
        return max((d for t, d in list(self.depths) if start <= t <= end), default=0.0)


def memory_summary(samples: list[int]) -> dict[str, float]:
    """Start, peak, end and the growth over the second half of a phase, in MB."""
    if len(samples) < 2:
        return {}
    half = samples[len(samples) // 2 :]
    return {
        "samples": float(len(samples)),
        "start": samples[0] / MB,
        "peak": max(samples) / MB,
        "end": samples[-1] / MB,
        "second_half_growth": (half[-1] - half[0]) / MB,
        "second_half_peak_above_its_start": (max(half) - half[0]) / MB,
    }


# --- one phase -----------------------------------------------------------------------------------


def run_wrk(url: str, key: str, phase: Phase, timeout_seconds: int = 10) -> dict[str, float]:
    """wrk with the Lua script; its LOAD_RESULT line as a dict (the key travels in the environment)."""
    command = ["wrk", f"-t{min(2, phase.connections)}", f"-c{phase.connections}", f"-d{phase.seconds}s"]
    command += [f"--timeout={timeout_seconds}s", "-s", str(WRK_SCRIPT), url]
    env = {**os.environ, "ATTRITION_LOAD_BODY": str(phase.body), "ATTRITION_LOAD_KEY": key}
    env["ATTRITION_LOAD_DELAY_MS"] = str(phase.delay_ms)
    out = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False, timeout=phase.seconds + 120
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("LOAD_RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr[-2000:] or out.stdout[-2000:]}")
    result: dict[str, float] = json.loads(line.removeprefix("LOAD_RESULT "))
    return result


def run_phase(
    api: ApiProcess, db_url: str, key: str, phase: Phase, sampler: Sampler, max_growth_mb: float | None
) -> PhaseResult:
    """Run one phase and check it (see the module docstring)."""
    before, rows_before, _ = drain(api, db_url, phase.route)
    started = time.monotonic()
    wrk = run_wrk(api.base + phase.route, key, phase)
    ended = time.monotonic()
    after, rows_after, drained = drain(api, db_url, phase.route)
    server_2xx = after.ok.get(phase.route, 0) - before.ok.get(phase.route, 0)
    log = {
        k: after.log.get(k, 0.0) - before.log.get(k, 0.0)
        for k in ("dropped", "spilled", "rejected", "refused")
    }
    result = PhaseResult(
        phase={k: str(v) if isinstance(v, Path) else v for k, v in asdict(phase).items() if k != "body"},
        wrk=wrk,
        server_2xx=server_2xx,
        server_not_2xx=after.not_ok.get(phase.route, 0) - before.not_ok.get(phase.route, 0),
        stored_rows=rows_after - rows_before,
        expected_rows=server_2xx * phase.records_per_request,
        drain_seconds=drained,
        log=log | {"depth_after": after.log.get("depth", 0.0)},
        log_depth_max=sampler.depth_max(started, ended),
        rss_mb=memory_summary(sampler.between(started, ended)),
    )
    result.problems = phase_problems(result, max_growth_mb if phase.measure_memory else None)
    return result


# --- bodies and phases ---------------------------------------------------------------------------


def write_bodies(work: Path, batch_records: int) -> tuple[Path, Path]:
    """One record (single predictions) and ``batch_records`` records (the batch limit), as JSON files."""
    from attrition.data.generator import generate_workforce
    from attrition.schema import RECORD_COLUMNS

    frame = generate_workforce(max(batch_records, 1), seed=99)[list(RECORD_COLUMNS)]
    records = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in frame.to_dict("records")
    ]
    single, batch = work / "single.json", work / "batch.json"
    single.write_text(json.dumps(records[0]))
    batch.write_text(json.dumps({"records": records[:batch_records]}))
    return single, batch


def plan(
    bodies: tuple[Path, Path],
    batch_records: int,
    seconds: int,
    connections: list[int],
    batch: tuple[int, int],
) -> list[Phase]:
    """Warm-up (not memory-checked), single predictions per connection count, then the batch limit:
    paced (one connection, ``batch[1]`` ms between calls), then as fast as ``batch[0]`` connections go."""
    single, records = bodies
    batch_connections, delay_ms = batch
    phases = [Phase("warm-up", PREDICT, single, 8, max(2, min(5, seconds)), measure_memory=False)]
    phases += [Phase(f"predict c={c}", PREDICT, single, c, seconds) for c in connections]
    name = f"batch {batch_records}"
    phases.append(Phase(f"{name} paced", BATCH, records, 1, seconds, batch_records, delay_ms=delay_ms))
    phases.append(
        Phase(f"{name} c={batch_connections}", BATCH, records, batch_connections, seconds, batch_records)
    )
    return phases


def over_limit_status(api: ApiProcess, key: str, batch: Path) -> int:
    """The status of one batch call with one record more than the limit (422 expected)."""
    body = json.loads(batch.read_text())
    body["records"].append(body["records"][0])
    request = urllib.request.Request(
        api.base + BATCH,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def run_load(
    env: dict[str, str],
    db_url: str,
    key: str,
    phases: list[Phase],
    work: Path,
    max_growth_mb: float | None,
    access_log: bool = False,
) -> dict[str, Any]:
    """All phases against one API process on ``db_url``; the stored total re-checked after shutdown."""
    rows_at_start = stored_rows(db_url)
    results: list[PhaseResult] = []
    with running_server(env, work / f"server-{uuid.uuid4().hex[:6]}.log", access_log) as api:
        with Sampler(api) as sampler:
            for phase in phases:
                results.append(run_phase(api, db_url, key, phase, sampler, max_growth_mb))
                if results[-1].log["depth_after"]:  # the log does not drain: later phases say nothing
                    results[-1].problems.append(f"{phase.name}: the prediction log did not drain; stopped")
                    break
        exit_code = stop_server(api)
        all_samples = [kb for _, kb in sampler.samples if kb]
    expected = sum(r.expected_rows for r in results)
    after_shutdown = stored_rows(db_url) - rows_at_start
    problems = [p for r in results for p in r.problems]
    if after_shutdown != expected:
        problems.append(f"after shutdown: {after_shutdown} rows stored, expected {expected}")
    if exit_code not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal after a graceful shutdown
        problems.append(f"the API exited with {exit_code} on SIGTERM")
    return {
        "phases": [asdict(r) | {"requests_per_second": r.requests_per_second} for r in results],
        "stored_after_shutdown": after_shutdown,
        "expected_rows": expected,
        "server_exit_code": exit_code,
        "rss_mb_whole_run": memory_summary(all_samples),
        "problems": problems,
    }


# --- set-up of the benchmark: a real champion, a key, a database per run --------------------------


def prepare_champion(root: Path, rows: int) -> Settings:
    """Train, register and promote a logistic-regression champion; settings of a system under ``root``."""
    from champion import promoted_champion

    settings, _ = promoted_champion(root, family="logistic_regression", trials=4, rows=rows)
    return settings


@contextmanager
def app_database(kind: str, work: Path) -> Iterator[str]:
    """A migrated, empty app database: a SQLite file, or a throw-away database on the PostgreSQL server."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from attrition.db.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{work / f'load-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        yield url
        return
    server = os.environ["ATTRITION_TEST_POSTGRES_URL"]
    name = f"attrition_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def predictor_key(db_url: str) -> str:
    from attrition.db.engine import create_db_engine
    from attrition.keys import create_key

    engine = create_db_engine(db_url)
    try:
        return create_key(engine, "load", "predictor")
    finally:
        engine.dispose()


# --- report --------------------------------------------------------------------------------------


def table(runs: dict[str, dict[str, Any]]) -> str:
    header = (
        f"{'db':<10} {'phase':<20} {'req/s':>8} {'rows/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
        f" {'errors':>7} {'503s':>6} {'stored/expected':>17} {'RSS MB start/peak/end':>22} {'2nd-half':>9} {'log depth max':>14}"
    )
    lines = [header]
    for db, run in runs.items():
        for p in run["phases"]:
            wrk, rss = p["wrk"], p["rss_mb"]
            errors = sum(wrk[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
            busy = wrk.get("responses_503", 0.0)
            errors += wrk["responses_not_2xx"] - busy
            rows_per_s = wrk["responses_2xx"] / wrk["seconds"] * p["phase"]["records_per_request"]
            memory = f"{rss['start']:.0f}/{rss['peak']:.0f}/{rss['end']:.0f}" if rss else ""
            growth = f"{rss['second_half_growth']:+.1f}" if rss else ""
            lines.append(
                f"{db:<10} {p['phase']['name']:<20} {p['requests_per_second']:>8.0f} {rows_per_s:>8.0f}"
                f" {wrk['p50_ms']:>8.2f} {wrk['p90_ms']:>8.2f} {wrk['p99_ms']:>8.2f} {errors:>7.0f} {busy:>6.0f}"
                f" {p['stored_rows']:>8}/{p['expected_rows']:<8} {memory:>22} {growth:>9} {p['log_depth_max']:>14.0f}"
            )
        lines.append(
            f"{db:<10} after shutdown: {run['stored_after_shutdown']} rows stored of {run['expected_rows']};"
            f" exit code {run['server_exit_code']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="duration of each measured phase")
    parser.add_argument("--connections", default="1,16,64", help="connection counts of the single phases")
    parser.add_argument("--batch-connections", type=int, default=4, help="of the unpaced batch phase")
    parser.add_argument(
        "--paced-delay-ms", type=int, default=400, help="pause between the paced batch phase's calls"
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="postgresql only when its URL is set"
    )
    parser.add_argument("--rows", type=int, default=3000, help="training rows of the champion")
    parser.add_argument(
        "--max-growth-mb", type=float, default=25.0, help="RSS bound over a phase's second half"
    )
    parser.add_argument("--access-log", action="store_true", help="uvicorn's access log on (default off)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk, or scripts/system-deps.sh as root)")
    kinds = [
        k for k in args.databases.split(",") if k == "sqlite" or os.environ.get("ATTRITION_TEST_POSTGRES_URL")
    ]

    work = Path(tempfile.mkdtemp(prefix="bench_load_"))
    print(f"training a champion in {work} ...", flush=True)
    settings = prepare_champion(work, args.rows)
    limit = settings.serving.max_batch_records
    single, batch = write_bodies(work, limit)
    connections = [int(c) for c in args.connections.split(",")]
    phases = plan(
        (single, batch), limit, args.seconds, connections, (args.batch_connections, args.paced_delay_ms)
    )
    runs: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        with app_database(kind, work) as db_url:
            print(f"{kind}: {len(phases)} phases of up to {args.seconds} s ...", flush=True)
            key = predictor_key(db_url)
            env = settings_env(settings) | {"ATTRITION_DATABASE_URL": db_url}
            runs[kind] = run_load(env, db_url, key, phases, work, args.max_growth_mb, args.access_log)
            with running_server(env, work / f"limit-{kind}.log") as api:
                runs[kind]["over_limit_status"] = over_limit_status(api, key, batch)
            if runs[kind]["over_limit_status"] != 422:
                runs[kind]["problems"].append(
                    f"{limit + 1} records got {runs[kind]['over_limit_status']}, not 422"
                )

    problems = [f"{kind}: {p}" for kind, run in runs.items() for p in run["problems"]]
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "setup": {
            "tool": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
            "wrk_script": str(WRK_SCRIPT.relative_to(ROOT)),
            "wrk_timeout_seconds": 10,
            "seconds_per_phase": args.seconds,
            "connections": args.connections,
            "batch_connections": args.batch_connections,
            "paced_batch_delay_ms": args.paced_delay_ms,
            "batch_records": limit,
            "batch_body_bytes": batch.stat().st_size,
            "single_body_bytes": single.stat().st_size,
            "workers": 1,
            "prediction_logging": "on (the app database of each run)",
            "log_level": "INFO",
            "access_log": "on" if args.access_log else "off",
            "rss": "VmRSS of the API process and its children, sampled every second",
            "max_second_half_growth_mb": args.max_growth_mb,
        },
        "runs": runs,
        "problems": problems,
        "ok": not problems,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(runs))
    print("\n".join(problems) if problems else "all checks passed")
    print(f"wrote {RESULTS}")
    shutil.rmtree(work, ignore_errors=True)
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
