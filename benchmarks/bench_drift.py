"""Drift monitoring benchmark: our analysis next to Evidently's DataDriftPreset (defaults).

Two questions, answered on synthetic workforces from ``attrition.data.generator``:

1. Speed: wall time of ``run_drift_analysis`` at 1k, 100k and 1M rows per window
   (data drift only, as Evidently's preset does; and the full run with champion
   probabilities and outcomes), of our HTML report, and of
   ``Report([DataDriftPreset()]).run(...)`` with all defaults on the same data. At 1M rows
   Evidently runs in a child process that is stopped after ``--evidently-budget``
   seconds; the JSON and the table say so.
2. Quality at 1,000 rows per window: false alarms on no-drift splits (a 2,000-row
   workforce split at random into two halves) and detection of each generator
   scenario, for both tools side by side. Ours alarms at severity >= moderate;
   Evidently's preset flags a column at p < 0.05 (KS / chi-square / Z at this size;
   Wasserstein / Jensen-Shannon distance > 0.1 above 1,000 rows), and "dataset
   drift" when half the columns are flagged.

3. Scale (``--sections scale``): the full analysis (probabilities and outcomes) at
   ``--scale-rows`` (1M) rows per window, as a ratio to Evidently's default preset on
   100k rows in the same run; and ``attrition drift run --reference-csv --current-csv
   --no-html`` end to end on two generator CSVs of that size, with a champion trained
   and promoted in a temp dir (not timed), wall time and peak RSS of the child process
   (``os.wait4``). With ``--before-src DIR`` (a source tree of the previous
   implementation, e.g. ``git archive HEAD src | tar -x -C DIR``) the analysis and the
   command also run on it, in the same run, and the two JSON reports are compared
   (floats to 1e-9).

Usage:  .venv/bin/python benchmarks/bench_drift.py [--sizes 1000 100000 1000000]
            [--null-runs 50] [--scenario-runs 20] [--evidently-budget 120]
            [--sections timing quality scale] [--scale-rows 1000000] [--before-src DIR]
Writes benchmarks/results/drift.json (``--sections scale`` alone: drift_scale.json)
and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import platform
import queue as queue_module
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import evidently
import numpy as np
import pandas as pd

from attrition.config import Settings, at_least
from attrition.data.generator import attrition_probability, generate_workforce
from attrition.data.scenarios import DRIFT_SCENARIOS
from attrition.drift import run_drift_analysis
from attrition.drift.evidently_report import evidently_default_drift, write_html_report
from attrition.drift.windows import Window
from attrition.schema import ATTRITION_YES, FEATURE_COLUMNS, TARGET

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "drift.json"
SCALE_RESULTS = ROOT / "benchmarks" / "results" / "drift_scale.json"
#: The columns each scenario moves on purpose.
AFFECTED = {
    "pay_freeze": ["PercentSalaryHike"],
    "overtime_surge": ["OverTime"],
    "remote_hiring": ["DistanceFromHome"],
    "reorg": ["Department", "JobRole"],
}
FEATURES = list(FEATURE_COLUMNS)


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def _windows(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[Window, Window]:
    """Both sides as drift windows, features only (no champion probabilities)."""
    return Window(reference, "reference"), Window(current, "current")


def _left(frame: pd.DataFrame) -> np.ndarray:
    """The outcomes as 0/1 (the generator's ``Attrition``)."""
    return (frame[TARGET] == ATTRITION_YES).to_numpy(dtype=float)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _evidently_child(reference: pd.DataFrame, current: pd.DataFrame, queue: Any) -> None:
    seconds, drift = _timed(evidently_default_drift, reference, current, FEATURES)
    queue.put((seconds, drift.drifted_columns))


def _evidently_with_limit(
    reference: pd.DataFrame, current: pd.DataFrame, limit: float | None
) -> tuple[float | None, list[str] | None]:
    """Evidently's default preset in a forked child, stopped after ``limit`` seconds."""
    context = multiprocessing.get_context("fork")  # the child inherits the frames, nothing is pickled
    queue = context.Queue()
    child = context.Process(target=_evidently_child, args=(reference, current, queue))
    child.start()
    try:
        seconds, drifted = queue.get(timeout=limit)
    except queue_module.Empty:
        child.terminate()
        seconds, drifted = None, None
    child.join()
    return seconds, drifted


def time_sizes(sizes: list[int], budget: float, settings: Settings) -> list[dict[str, Any]]:
    """Wall times per window size, ours and Evidently's, on the same frames."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        reference = generate_workforce(n, 1)
        current = generate_workforce(n, 2, drift="overtime_surge")
        ref_p, cur_p = attrition_probability(n, 1), attrition_probability(n, 2, "overtime_surge")
        entry: dict[str, Any] = {"rows_per_window": n}
        entry["ours_data_drift_s"], result = _timed(
            run_drift_analysis, *_windows(reference, current), settings
        )
        scored = Window(reference, "reference", ref_p), Window(current, "current", cur_p, _left(current))
        entry["ours_full_s"], _ = _timed(run_drift_analysis, *scored, settings)
        with tempfile.TemporaryDirectory() as tmp:
            entry["ours_html_report_s"], _ = _timed(
                write_html_report, reference, current, result, Path(tmp) / "d.html", settings.monitoring
            )
        entry["ours_severity"], entry["ours_drifted"] = result.severity, result.drifted_features
        limit = budget if n >= 1_000_000 else None
        entry["evidently_default_s"], entry["evidently_drifted"] = _evidently_with_limit(
            reference, current, limit
        )
        if entry["evidently_default_s"] is None:
            entry["evidently_note"] = f"stopped: did not finish within the {budget:.0f} s budget"
        rows.append(entry)
        _log(f"timing {n:>9,} rows: {entry}")
    return rows


def _null_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One workforce of 2,000 split at random into two halves: no drift by construction."""
    frame = generate_workforce(2000, seed)
    order = np.random.default_rng(seed).permutation(len(frame))
    return frame.iloc[order[:1000]].reset_index(drop=True), frame.iloc[order[1000:]].reset_index(drop=True)


def quality(null_runs: int, scenario_runs: int, settings: Settings) -> dict[str, Any]:
    """False-alarm and detection rates of both tools at 1,000 rows per window."""
    ours_alarm, ours_flags, ev_flags, ev_dataset = [], [], [], []
    for i in range(null_runs):
        reference, current = _null_split(50_000 + i)
        result = run_drift_analysis(*_windows(reference, current), settings)
        drift = evidently_default_drift(reference, current, FEATURES)
        ours_alarm.append(at_least(result.severity, "moderate"))
        ours_flags.append(len(result.drifted_features))
        ev_flags.append(len(drift.drifted_columns))
        ev_dataset.append(drift.dataset_drift)
        _log(f"no-drift {i + 1}/{null_runs}: ours {result.severity}, evidently {drift.drifted_columns}")
    report: dict[str, Any] = {
        "rows_per_window": 1000,
        "null_runs": null_runs,
        "scenario_runs": scenario_runs,
        "no_drift": {
            "ours": {
                "alarm_rate": float(np.mean(ours_alarm)),
                "any_column_flagged_rate": float(np.mean(np.array(ours_flags) > 0)),
                "mean_flagged_columns": float(np.mean(ours_flags)),
            },
            "evidently": {
                "any_column_flagged_rate": float(np.mean(np.array(ev_flags) > 0)),
                "dataset_drift_rate": float(np.mean(ev_dataset)),
                "mean_flagged_columns": float(np.mean(ev_flags)),
            },
        },
        "scenarios": {},
    }
    for scenario in DRIFT_SCENARIOS:
        report["scenarios"][scenario] = _scenario(scenario, scenario_runs, settings)
    return report


def _scenario(scenario: str, runs: int, settings: Settings) -> dict[str, Any]:
    affected = AFFECTED[scenario]
    tallies: dict[str, dict[str, list[float]]] = {
        "ours": {"all": [], "alarm": [], "other": []},
        "evidently": {"all": [], "alarm": [], "other": []},
    }
    for i in range(runs):
        reference = generate_workforce(1000, 60_000 + 2 * i)
        current = generate_workforce(1000, 60_001 + 2 * i, drift=scenario)
        result = run_drift_analysis(*_windows(reference, current), settings)
        drift = evidently_default_drift(reference, current, FEATURES)
        for tool, flagged, alarm in (
            ("ours", result.drifted_features, at_least(result.severity, "moderate")),
            ("evidently", drift.drifted_columns, drift.dataset_drift),
        ):
            tallies[tool]["all"].append(all(c in flagged for c in affected))
            tallies[tool]["alarm"].append(alarm)
            tallies[tool]["other"].append(len(set(flagged) - set(affected)))
        _log(f"{scenario} {i + 1}/{runs}: ours {result.drifted_features}, evidently {drift.drifted_columns}")
    return {
        "affected": affected,
        "description": DRIFT_SCENARIOS[scenario],
        "ours": {
            "detected_rate": float(np.mean(tallies["ours"]["all"])),
            "alarm_rate": float(np.mean(tallies["ours"]["alarm"])),
            "mean_other_flagged": float(np.mean(tallies["ours"]["other"])),
        },
        "evidently": {
            "detected_rate": float(np.mean(tallies["evidently"]["all"])),
            "dataset_drift_rate": float(np.mean(tallies["evidently"]["alarm"])),
            "mean_other_flagged": float(np.mean(tallies["evidently"]["other"])),
        },
    }


# --- scale: 1M rows in process and end to end ------------------------------------------------

#: Times the full analysis in a fresh interpreter (so the source tree on PYTHONPATH decides).
_ANALYSIS_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from attrition.config import Settings
    from attrition.data.generator import attrition_probability, generate_workforce
    from attrition.drift import run_drift_analysis
    from attrition.drift.windows import Window
    from attrition.schema import ATTRITION_YES, TARGET
    n = int(sys.argv[1])
    reference, current = generate_workforce(n, 1), generate_workforce(n, 2, drift="overtime_surge")
    labels = (current[TARGET] == ATTRITION_YES).to_numpy(dtype=float)
    windows = (
        Window(reference, "reference", attrition_probability(n, 1)),
        Window(current, "current", attrition_probability(n, 2, "overtime_surge"), labels),
    )
    start = time.perf_counter()
    result = run_drift_analysis(*windows, Settings())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "severity": result.severity, "drifted": result.drifted_features}))
    """
)


def _child_env(src: Path | None, settings_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(settings_env or {})}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def _run_child(command: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, str, int]:
    """Wall seconds, peak RSS (MB) of the child, its stdout and exit status."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return seconds, usage.ru_maxrss / 1024, text, child.returncode


def _analysis_seconds(rows: int, src: Path | None) -> dict[str, Any]:
    seconds, rss, text, code = _run_child(
        [sys.executable, "-c", _ANALYSIS_CHILD, str(rows)], _child_env(src), timeout=1800
    )
    if code != 0:
        return {"error": f"exit {code}", "wall_s": seconds}
    return json.loads(text.strip().splitlines()[-1]) | {"child_peak_rss_mb": rss}


def _champion(root: Path) -> dict[str, str]:
    """A champion trained, registered and promoted under ``root``; the env that points the CLI at it."""
    from attrition.config import Settings, TrainingSettings
    from attrition.db.migrate import upgrade
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register
    from attrition.training.pipeline import train_model

    env = {
        "ATTRITION_DATA_DIR": str(root / "var"),
        "ATTRITION_DATABASE_URL": f"sqlite:///{root / 'app.db'}",
        "ATTRITION_MLFLOW_TRACKING_URI": f"sqlite:///{root / 'var' / 'mlflow.db'}",
        "ATTRITION_MLFLOW_ARTIFACT_ROOT": (root / "var" / "mlartifacts").as_uri(),
        "ATTRITION_REPORTS_DIR": str(root / "reports"),
        "ATTRITION_REFERENCE_DIR": str(root / "reference_data"),
        "ATTRITION_CONFIG_DIR": str(root / "no-configs"),
        "ATTRITION_TRAINING__PROTECTED_ATTRIBUTES": '["Gender"]',
    }
    training = TrainingSettings(
        trials=5, seed=1, families=["logistic_regression"], protected_attributes=["Gender"]
    )
    settings = Settings(
        data_dir=root / "var",
        database_url=env["ATTRITION_DATABASE_URL"],
        mlflow_tracking_uri=env["ATTRITION_MLFLOW_TRACKING_URI"],
        mlflow_artifact_root=env["ATTRITION_MLFLOW_ARTIFACT_ROOT"],
        reports_dir=root / "reports",
        reference_dir=root / "reference_data",
        training=training,
    )
    upgrade(settings.db_url)
    result = train_model(generate_workforce(1500, 11), training)
    log_and_register(result, settings, actor="bench", source="generator")
    if not promote(settings, actor="bench").promoted:
        raise SystemExit("benchmark champion was not promoted")
    return env


def _cli_run(root: Path, env: dict[str, str], src: Path | None, label: str) -> dict[str, Any]:
    """``attrition drift run`` on the two CSVs: wall time, child peak RSS, the JSON report."""
    reports = root / f"reports_{label}"
    command = [
        sys.executable, "-m", "attrition.cli", "drift", "run",
        "--reference-csv", str(root / "reference.csv"), "--current-csv", str(root / "current.csv"),
        "--no-html",
    ]  # fmt: skip
    seconds, rss, _, code = _run_child(
        command, _child_env(src, env | {"ATTRITION_REPORTS_DIR": str(reports)}), timeout=1800
    )
    report = reports / "drift_latest.json"
    return {
        "wall_s": seconds,
        "peak_rss_mb": rss,
        "exit_code": code,
        "report": json.loads(report.read_text(encoding="utf-8")) if report.exists() else None,
    }


def _json_differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """Where two drift reports differ (floats to 1e-9; run ids, times, notes, paths ignored)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        keys = (set(expected) | set(got)) - {"run_id", "created_at", "notes", "reports"}
        return [
            d for k in sorted(keys) for d in _json_differences(expected.get(k), got.get(k), f"{path}/{k}")
        ]
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [
            d
            for i, (e, g) in enumerate(zip(expected, got, strict=True))
            for d in _json_differences(e, g, f"{path}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(got, float):
        return [] if math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12) else [path]
    return [] if expected == got else [path]


def scale(rows: int, before: Path | None, budget: float) -> dict[str, Any]:
    """Full analysis at ``rows`` vs Evidently at 100k; the CLI end to end on two CSVs of ``rows``."""
    out: dict[str, Any] = {"rows_per_window": rows, "before_src": str(before) if before else None}
    _log(f"scale: analysis at {rows:,} rows")
    out["analysis_after"] = _analysis_seconds(rows, ROOT / "src")
    if before is not None:
        out["analysis_before"] = _analysis_seconds(rows, before)
    reference = generate_workforce(100_000, 1)
    current = generate_workforce(100_000, 2, drift="overtime_surge")
    _log("scale: Evidently DataDriftPreset at 100,000 rows")
    out["evidently_100k_s"], _ = _evidently_with_limit(reference, current, budget)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _log("scale: champion and CSVs (not timed)")
        env = _champion(root)
        generate_workforce(rows, 1).to_csv(root / "reference.csv", index=False)
        generate_workforce(rows, 2, drift="overtime_surge").to_csv(root / "current.csv", index=False)
        runs = [("after", ROOT / "src")] + ([("before", before)] if before is not None else [])
        for label, src in runs:
            _log(f"scale: attrition drift run ({label})")
            out[f"cli_{label}"] = _cli_run(root, env, src, label)
    if before is not None and out["cli_before"]["report"] and out["cli_after"]["report"]:
        out["cli_report_differences"] = _json_differences(
            out["cli_before"]["report"], out["cli_after"]["report"]
        )
    for label in ("before", "after"):
        if f"cli_{label}" in out and out[f"cli_{label}"]["report"]:
            out[f"cli_{label}"]["severity"] = out[f"cli_{label}"]["report"].get("severity")
            del out[f"cli_{label}"]["report"]
    return out


def print_scale(s: dict[str, Any]) -> None:
    rows = s["rows_per_window"]
    evidently = s.get("evidently_100k_s")
    print(f"\nScale: {rows:,} rows per window (before = {s['before_src'] or 'not run'})")
    print(f"{'':34} | {'before':>9} | {'after':>9} | {'after/before':>12}")
    for name, key, field in (
        ("full analysis (s)", "analysis", "seconds"),
        ("drift run --no-html (s)", "cli", "wall_s"),
        ("drift run peak RSS (MB)", "cli", "peak_rss_mb"),
    ):
        after = s.get(f"{key}_after", {}).get(field)
        before = s.get(f"{key}_before", {}).get(field)
        ratio = f"{after / before:12.2f}" if after and before else f"{'-':>12}"
        print(f"{name:34} | {_seconds(before):>9} | {_seconds(after):>9} | {ratio}")
    after = s.get("analysis_after", {}).get("seconds")
    if evidently and after:
        print(
            f"Evidently DataDriftPreset, 100k rows: {evidently:.2f} s; ours at {rows:,} / it: {after / evidently:.2f}"
        )
    if "cli_report_differences" in s:
        diffs = s["cli_report_differences"]
        print(f"JSON report after vs before: {'identical (floats to 1e-9)' if not diffs else diffs[:10]}")


def _seconds(value: float | None) -> str:
    return "skipped" if value is None else f"{value:8.2f}"


def print_tables(results: dict[str, Any]) -> None:
    print("\nDrift analysis wall time (seconds, same frames)")
    print(f"{'rows/window':>12} | {'ours data':>9} | {'ours full':>9} | {'ours HTML':>9} | {'Evidently':>9}")
    for row in results["timing"]:
        print(
            f"{row['rows_per_window']:>12,} | {_seconds(row['ours_data_drift_s']):>9} | "
            f"{_seconds(row['ours_full_s']):>9} | {_seconds(row['ours_html_report_s']):>9} | "
            f"{_seconds(row['evidently_default_s']):>9}"
        )
        if row.get("evidently_note"):
            print(f"{'':>12}   Evidently {row['evidently_note']}")
    q = results["quality"]
    ours, ev = q["no_drift"]["ours"], q["no_drift"]["evidently"]
    print(f"\nNo drift, {q['null_runs']} random splits of 2,000 rows into 1,000 + 1,000")
    print(
        f"  ours:      alarm (severity >= moderate) {ours['alarm_rate']:.0%}, "
        f"any column flagged {ours['any_column_flagged_rate']:.0%}, "
        f"mean flagged columns {ours['mean_flagged_columns']:.2f}"
    )
    print(
        f"  Evidently: any column flagged {ev['any_column_flagged_rate']:.0%}, "
        f"dataset drift {ev['dataset_drift_rate']:.0%}, mean flagged columns {ev['mean_flagged_columns']:.2f}"
    )
    print(f"\nScenarios, {q['scenario_runs']} runs each at 1,000 rows per window")
    print(
        f"{'scenario':>15} | {'affected':<20} | {'ours found':>10} | {'ours alarm':>10} | {'ours other':>10} | "
        f"{'Ev found':>8} | {'Ev dataset':>10} | {'Ev other':>8}"
    )
    for name, s in q["scenarios"].items():
        print(
            f"{name:>15} | {', '.join(s['affected']):<20} | {s['ours']['detected_rate']:>10.0%} | "
            f"{s['ours']['alarm_rate']:>10.0%} | {s['ours']['mean_other_flagged']:>10.2f} | "
            f"{s['evidently']['detected_rate']:>8.0%} | {s['evidently']['dataset_drift_rate']:>10.0%} | "
            f"{s['evidently']['mean_other_flagged']:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--null-runs", type=int, default=50)
    parser.add_argument("--scenario-runs", type=int, default=20)
    parser.add_argument("--evidently-budget", type=float, default=120.0)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=["timing", "quality", "scale"],
        default=["timing", "quality", "scale"],
    )
    parser.add_argument("--scale-rows", type=int, default=1_000_000)
    parser.add_argument("--before-src", type=Path, default=None, help="source tree of the previous version")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
            "evidently": evidently.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "settings": settings.monitoring.model_dump(),
    }
    if "timing" in args.sections:
        results["timing"] = time_sizes(args.sizes, args.evidently_budget, settings)
    if "quality" in args.sections:
        results["quality"] = quality(args.null_runs, args.scenario_runs, settings)
    if "scale" in args.sections:
        results["scale"] = scale(args.scale_rows, args.before_src, args.evidently_budget)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    path = SCALE_RESULTS if args.sections == ["scale"] else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    if "timing" in results and "quality" in results:
        print_tables(results)
    if "scale" in results:
        print_scale(results["scale"])
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
