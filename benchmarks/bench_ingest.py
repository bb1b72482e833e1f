"""Ingest throughput into SQLite and peak memory on a large file.

Each size runs in a fresh Python process (so peak RSS is that ingest's alone):
a synthetic workforce CSV is generated in 100k-row pieces (never whole in
memory), then ``ingest_csv`` streams it into a new SQLite database. A second
pass reads and validates the same file without storing, to split the time.

    .venv/bin/python benchmarks/bench_ingest.py                 # 10k, 200k, 1M rows
    .venv/bin/python benchmarks/bench_ingest.py --sizes 10000   # quick run

Writes benchmarks/results/ingest.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ingest.json"
PIECE = 100_000


def write_file(path: Path, rows: int, seed: int = 11) -> None:
    """A valid synthetic CSV of ``rows`` employees, written piece by piece."""
    from attrition.data.generator import generate_workforce
    from attrition.schema import ID_COLUMN

    with path.open("w", encoding="utf-8", newline="") as handle:
        for start in range(0, rows, PIECE):
            frame = generate_workforce(min(PIECE, rows - start), seed + start)
            frame[ID_COLUMN] = range(start + 1, start + len(frame) + 1)
            frame.to_csv(handle, index=False, header=start == 0, lineterminator="\n")


def child(csv_path: str, db_path: str, chunk_rows: int) -> None:
    """Run one ingest (and one validate-only pass); print JSON with times and peak RSS."""
    import datetime as dt

    import pandas as pd

    from attrition.data.ingest import ingest_csv
    from attrition.data.validation import SeenKeys, validate_frame
    from attrition.db.engine import create_db_engine
    from attrition.db.migrate import upgrade

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    url = f"sqlite:///{db_path}"
    upgrade(url)
    engine = create_db_engine(url)

    start = time.perf_counter()
    seen = SeenKeys()
    for chunk in pd.read_csv(csv_path, dtype=str, chunksize=chunk_rows):
        validate_frame(chunk, seen=seen)
    validate_seconds = time.perf_counter() - start

    start = time.perf_counter()
    report = ingest_csv(csv_path, engine, dt.date(2026, 1, 31), chunk_rows=chunk_rows)
    ingest_seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "stored": report.stored,
                "rejected": report.rejected_rows,
                "validate_seconds": validate_seconds,
                "ingest_seconds": ingest_seconds,
                "baseline_rss_mb": baseline_kb / 1024,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run(rows: int, chunk_rows: int, workdir: Path) -> dict[str, float | int]:
    csv_path, db_path = workdir / f"workforce_{rows}.csv", workdir / f"ingest_{rows}.db"
    started = time.perf_counter()
    write_file(csv_path, rows)
    generate_seconds = time.perf_counter() - started
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(csv_path), str(db_path), str(chunk_rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    size_mb = csv_path.stat().st_size / 1e6
    csv_path.unlink()
    db_path.unlink()
    return {
        "rows": rows,
        "file_mb": round(size_mb, 1),
        "chunk_rows": chunk_rows,
        "generate_seconds": round(generate_seconds, 2),
        "stored": result["stored"],
        "rejected": result["rejected"],
        "ingest_seconds": round(result["ingest_seconds"], 2),
        "ingest_rows_per_s": round(rows / result["ingest_seconds"]),
        "validate_rows_per_s": round(rows / result["validate_seconds"]),
        "baseline_rss_mb": round(result["baseline_rss_mb"], 1),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000, 1_000_000])
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        results = [run(rows, args.chunk_rows, Path(tmp)) for rows in args.sizes]
    payload = {
        "benchmark": "ingest_csv into SQLite (one process per size; peak RSS of that process)",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            # Other jobs on the machine slow every number down; compare runs at similar load.
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    header = ("rows", "file MB", "ingest s", "ingest rows/s", "validate rows/s", "base RSS MB", "peak RSS MB")
    print(" | ".join(f"{h:>15}" for h in header))
    for r in results:
        cells = (
            f"{r['rows']:,}",
            r["file_mb"],
            r["ingest_seconds"],
            f"{r['ingest_rows_per_s']:,}",
            f"{r['validate_rows_per_s']:,}",
            r["baseline_rss_mb"],
            r["peak_rss_mb"],
        )
        print(" | ".join(f"{c:>15}" for c in cells))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
