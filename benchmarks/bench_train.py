"""Training wall time: ``attrition train --trials 50`` on 1,500 and 50,000 generator rows.

Each run does what the command does: ``train_model`` (Optuna search over all model
families, refit, calibration, threshold, holdout metrics with bootstrap intervals,
fairness, SHAP) and ``log_and_register`` (MLflow run with every artifact and
the registered model) into a fresh SQLite MLflow store in a temp dir. Measured: the
wall time of each phase, the holdout/CV scores reached, which family won and how the
trials split over families.

    .venv/bin/python benchmarks/bench_train.py                    # 50 trials, 1,500 and 50,000 rows
    .venv/bin/python benchmarks/bench_train.py --quick            # 10 trials
    .venv/bin/python benchmarks/bench_train.py --rows 1500 --trials 30

Writes benchmarks/results/train.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"


def run_once(
    rows: int, trials: int, seed: int, families: list[str] | None, timeout: float | None
) -> dict[str, Any]:
    from attrition.config import Settings, TrainingSettings
    from attrition.data.generator import generate_workforce
    from attrition.db.migrate import upgrade
    from attrition.registry.runs import log_and_register
    from attrition.registry.store import configure
    from attrition.training.pipeline import train_model

    frame = generate_workforce(rows, seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        root = Path(tmp)
        training: dict[str, Any] = {"trials": trials, "seed": seed, "timeout_seconds": timeout}
        if families:
            training["families"] = families
        settings = Settings(
            data_dir=root / "var",
            database_url=f"sqlite:///{root / 'app.db'}",
            mlflow_tracking_uri=f"sqlite:///{root / 'var' / 'mlflow.db'}",
            mlflow_artifact_root=(root / "var" / "mlartifacts").as_uri(),
            reports_dir=root / "reports",
            reference_dir=root / "reference",
            training=TrainingSettings.model_validate(training),
        )
        upgrade(settings.db_url)
        configure(settings)  # the MLflow store's one-off schema creation is not training time
        started = time.perf_counter()
        result = train_model(frame, settings.training)
        trained = time.perf_counter()
        version = log_and_register(result, settings, actor="bench")
        logged = time.perf_counter()
    complete = [t for t in result.study.trials if t.state.name == "COMPLETE"]
    durations: dict[str, list[float]] = {}
    for t in complete:
        if t.datetime_complete and t.datetime_start:
            family = str(t.params.get("family", "?"))
            durations.setdefault(family, []).append((t.datetime_complete - t.datetime_start).total_seconds())
    return {
        "rows": rows,
        "trials": trials,
        "trials_complete": len(complete),
        "trials_pruned": sum(t.state.name == "PRUNED" for t in result.study.trials),
        "trials_by_family": dict(Counter(str(t.params.get("family", "?")) for t in result.study.trials)),
        "mean_trial_seconds_by_family": {f: round(sum(d) / len(d), 2) for f, d in durations.items()},
        "best_family": result.best_family,
        "holdout_roc_auc": round(result.metrics["roc_auc"], 4),
        "holdout_roc_auc_ci": [
            round(result.metrics["roc_auc_ci_low"], 4),
            round(result.metrics["roc_auc_ci_high"], 4),
        ],
        "holdout_pr_auc": round(result.metrics["pr_auc"], 4),
        "cv_roc_auc": round(result.metrics["cv_roc_auc"], 4),
        "fairness_passed": result.fairness.passed,
        "train_seconds": round(trained - started, 1),
        "train_timings": {k: round(v, 1) for k, v in result.timings.items()},
        "log_register_seconds": round(logged - trained, 1),
        "total_seconds": round(logged - started, 1),
        "model_version": version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1500, 50_000])
    parser.add_argument("--trials", type=int, default=None, help="default 50, or 10 with --quick")
    parser.add_argument("--quick", action="store_true", help="10 trials instead of 50")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--families", nargs="+", default=None, help="restrict the search (default: all)")
    parser.add_argument("--timeout", type=float, default=None, help="search timeout per run, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    trials = args.trials or (10 if args.quick else 50)
    logging.basicConfig(level=logging.WARNING)

    runs = []
    for rows in args.rows:
        print(f"training on {rows:,} rows, {trials} trials ...", flush=True)
        runs.append(run_once(rows, trials, args.seed, args.families, args.timeout))
        _write(args.out, trials, args, runs)  # keep what finished if a later size is interrupted
    _print_table(runs)
    print(f"\nwritten to {args.out}")


def _write(path: Path, trials: int, args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    payload = {
        "benchmark": "train",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": f"attrition train --trials {trials} (train_model + log_and_register)",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "settings": {"seed": args.seed, "families": args.families or "all", "timeout": args.timeout},
        "runs": runs,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _print_table(runs: list[dict[str, Any]]) -> None:
    header = f"{'rows':>8} {'trials':>6} {'best family':<24} {'ROC-AUC':>8} {'CV AUC':>7} {'train s':>8} {'log s':>6} {'total s':>8}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in runs:
        print(
            f"{r['rows']:>8,} {r['trials_complete']:>6} {r['best_family']:<24} {r['holdout_roc_auc']:>8.4f} "
            f"{r['cv_roc_auc']:>7.4f} {r['train_seconds']:>8.1f} {r['log_register_seconds']:>6.1f} {r['total_seconds']:>8.1f}"
        )
    for r in runs:
        print(
            f"  {r['rows']:,} rows: trials {r['trials_by_family']}, mean s/trial {r['mean_trial_seconds_by_family']}"
        )


if __name__ == "__main__":
    main()
