"""Server-side render time of every UI page, against a live API over 50,000 employees in two snapshots.

Set-up (not timed), through the CLI as a user would run it, in a temp data dir on SQLite:
two generated snapshots of ``--employees`` employees, a champion trained on the latest
(``--trials`` trials), both snapshots scored, one drift check, an admin user; then
``attrition serve api`` on a free port.

Timed: each page rendered with ``streamlit.testing.v1.AppTest`` signed in as the admin,
``--repeat`` times after one warm-up, with the UI's read cache off (every render asks
the API again: the worst case; with the cache on a repeat render is near-free). The time
is the page's whole script run: its API calls over HTTP, the JSON, pandas and plotly.
Target: every page under 1 s.

    .venv/bin/python benchmarks/bench_ui.py [--employees 50000] [--repeat 5]

Writes benchmarks/results/ui.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SNAPSHOTS = ("2026-09-30", "2026-10-31")
PAGES = ("overview.py", "employee.py", "batch.py", "predictions.py", "model.py", "drift.py", "admin.py")
PASSWORD = "bench-password-0123"


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    command = [str(ROOT / ".venv" / "bin" / "attrition"), *args]
    done = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):  # 1: drift found / some rows rejected, still a result
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")


def prepare(root: Path, employees: int, trials: int) -> dict[str, str]:
    """The data dir a user would have after a few months; returns the environment of its services."""
    env = {
        **os.environ,
        "ATTRITION_DATA_DIR": str(root / "var"),
        "ATTRITION_REPORTS_DIR": str(root / "reports"),
        "ATTRITION_REFERENCE_DIR": str(root / "reference_data"),
        "ATTRITION_SERVING__TOKEN_SECRET": "bench-ui-token-secret-0123456789abcdef",
        "ATTRITION_SERVING__RATE_LIMIT_PER_MINUTE": "1000000",
    }
    _cli(env, "db", "upgrade")
    for seed, snapshot in enumerate(SNAPSHOTS):
        csv = root / f"workforce_{snapshot}.csv"
        _cli(
            env,
            "generate",
            "--rows",
            str(employees),
            "--seed",
            str(seed + 1),
            "--snapshot-date",
            snapshot,
            "--out",
            str(csv),
        )
        _cli(env, "ingest", str(csv))
    _cli(env, "train", "--trials", str(trials), "--promote")
    for snapshot in SNAPSHOTS:
        _cli(env, "score", "--snapshot-date", snapshot)
    _cli(env, "drift", "run")
    _cli(
        env,
        "users",
        "create",
        "--name",
        "bench-admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    return env


def render_times(api_url: str, repeat: int) -> dict[str, dict[str, float]]:
    from ui_support import open_app

    os.environ["ATTRITION_UI__CACHE_SECONDS"] = "0"
    results: dict[str, dict[str, float]] = {}
    for page in PAGES:
        app = open_app(api_url, "bench-admin", page, password=PASSWORD)  # the warm-up render
        if app.exception:
            raise SystemExit(f"{page} raised: {app.exception[0].message}")
        seconds = []
        for _ in range(repeat):
            start = time.perf_counter()
            app.run()
            seconds.append(time.perf_counter() - start)
        ms = sorted(s * 1000 for s in seconds)
        results[page] = {"p50_ms": round(statistics.median(ms), 1), "max_ms": round(ms[-1], 1)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=50_000, help="employees per snapshot")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from ui_support import free_port

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        env = prepare(root, args.employees, args.trials)
        setup_seconds = round(time.perf_counter() - start, 1)
        port = free_port()
        command = [
            str(ROOT / ".venv" / "bin" / "attrition"),
            "serve",
            "api",
            "--port",
            str(port),
            "--no-access-log",
        ]
        server = subprocess.Popen(
            command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        try:
            api_url = f"http://127.0.0.1:{port}"
            _wait(api_url)
            results = render_times(api_url, args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report: dict[str, Any] = {
        "benchmark": "ui",
        "employees_per_snapshot": args.employees,
        "snapshots": len(SNAPSHOTS),
        "repeat": args.repeat,
        "setup_seconds": setup_seconds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "target_ms": 1000,
        "pages": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "ui.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'page':<18} {'p50 ms':>8} {'max ms':>8}  under 1 s")
    for page, row in results.items():
        print(
            f"{page:<18} {row['p50_ms']:>8.1f} {row['max_ms']:>8.1f}  {'yes' if row['max_ms'] < 1000 else 'NO'}"
        )


def _wait(api_url: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the API did not become ready")


if __name__ == "__main__":
    main()
