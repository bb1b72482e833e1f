"""CLI start-up: wall time of ``attrition <command> --help`` in a fresh process, median of N runs.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeats 5]``. Writes
benchmarks/results/startup.json and prints a table. Every run has PYTHONDONTWRITEBYTECODE=1,
as in the images: what was not compiled at install is compiled again on every start.
Two reference rows put the numbers in proportion within the run: the bare interpreter
(``python -c pass``) and importing the model stack the help commands avoid (MLflow,
scikit-learn, SHAP, Optuna). Target: ``attrition --help`` under 1 s.
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

RESULTS = Path(__file__).parent / "results" / "startup.json"
TARGET_S = 1.0
COMMANDS: list[list[str]] = [
    ["--help"],
    ["keys", "--help"],
    ["ingest", "--help"],
    ["generate", "--help"],
    ["score", "--help"],
]
REFERENCES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import mlflow, sklearn, shap, optuna": ["-c", "import mlflow, sklearn, shap, optuna"],
}


def _attrition() -> list[str]:
    """The console script beside this interpreter (what users run), else the same entry point."""
    script = Path(sys.executable).with_name("attrition")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from attrition.entrypoint import main; main()"]


def _environment(root: Path) -> dict[str, str]:
    """No bytecode written; settings under a scratch folder, no configs/ YAML."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRITION_")}
    env |= {
        "PYTHONDONTWRITEBYTECODE": "1",
        "ATTRITION_DATA_DIR": str(root / "var"),
        "ATTRITION_DATABASE_URL": f"sqlite:///{root / 'app.db'}",
        "ATTRITION_CONFIG_DIR": str(root / "no-configs"),
    }
    return env


def _median_seconds(argv: list[str], env: dict[str, str], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def bench(repeats: int) -> list[dict[str, object]]:
    """One row per reference and per command: median, ratio to the bare interpreter, every run."""
    measured: list[tuple[str, str, float, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = _environment(Path(tmp))
        _median_seconds([*_attrition(), "--help"], env, 1)  # warm the OS file cache once
        for label, args in REFERENCES.items():
            measured.append((label, "reference", *_median_seconds([sys.executable, *args], env, repeats)))
        for args in COMMANDS:
            label = "attrition " + " ".join(args)
            measured.append((label, "cli", *_median_seconds([*_attrition(), *args], env, repeats)))
    base = measured[0][2]
    return [
        {
            "command": label,
            "kind": kind,
            "median_s": round(median, 3),
            "x_python": round(median / base, 2),
            "runs_s": [round(t, 3) for t in runs],
        }
        for label, kind, median, runs in measured
    ]


def _table(rows: list[dict[str, object]]) -> str:
    lines = [f"{'command':40} {'median s':>9} {'x python':>9}", "-" * 60]
    for row in rows:
        flag = ""
        if row["command"] == "attrition --help":
            over = float(str(row["median_s"])) >= TARGET_S
            flag = f"  over the {TARGET_S:g} s target" if over else f"  under the {TARGET_S:g} s target"
        lines.append(f"{row['command']!s:40} {row['median_s']!s:>9} {row['x_python']!s:>9}{flag}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = bench(args.repeats)
    payload = {
        "benchmark": "startup",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "pythondontwritebytecode": True,
        "repeats": args.repeats,
        "target_help_s": TARGET_S,
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(_table(rows))
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
