"""Synthetic workforce speed: rows/s of ``generate_workforce`` and ``write_csv`` at 10k, 100k, 1M rows.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--sizes 10000 100000 1000000] [--repeats 3]``.
Writes benchmarks/results/generate.json and prints a table. Times are the best of
``--repeats`` runs (one run for sizes of 1M and above), wall clock, on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from attrition.data.generator import generate_workforce, write_csv

RESULTS = Path(__file__).parent / "results" / "generate.json"


def _best_of(repeats: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def bench(rows: int, repeats: int, seed: int = 42) -> dict[str, float | int]:
    """Seconds and rows/s for generating ``rows`` employees and writing them as CSV."""
    repeats = 1 if rows >= 1_000_000 else repeats
    generate_s = _best_of(repeats, lambda: generate_workforce(rows, seed))
    frame = generate_workforce(rows, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "workforce.csv"
        write_s = _best_of(repeats, lambda: write_csv(frame, path))
        size = path.stat().st_size
    total = generate_s + write_s
    return {
        "rows": rows,
        "generate_s": round(generate_s, 4),
        "generate_rows_per_s": round(rows / generate_s),
        "write_csv_s": round(write_s, 4),
        "write_csv_rows_per_s": round(rows / write_s),
        "total_s": round(total, 4),
        "total_rows_per_s": round(rows / total),
        "csv_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    results = [bench(rows, args.repeats) for rows in args.sizes]
    payload = {
        "benchmark": "generate",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "repeats": args.repeats,
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    header = f"{'rows':>10} {'generate s':>11} {'gen rows/s':>12} {'csv s':>8} {'csv rows/s':>11} {'total rows/s':>13}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['rows']:>10,} {r['generate_s']:>11.3f} {r['generate_rows_per_s']:>12,} "
            f"{r['write_csv_s']:>8.3f} {r['write_csv_rows_per_s']:>11,} {r['total_rows_per_s']:>13,}"
        )
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
