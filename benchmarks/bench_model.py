"""ML core: ``train_model`` wall time and explanation latency per model family.

1. ``train_model`` on generator rows (default 1,500 rows, 30 trials, all families):
   wall time per phase and the holdout scores reached (no MLflow; see bench_train.py).
2. ``AttritionModel.explain`` / ``contributions`` for a calibrated model of each
   family (fixed hyperparameters at the top of the search ranges, i.e. the slowest
   trees the search can pick): first call (builds the SHAP explainer), one record
   (median of 50 calls), 1,000 records.

    .venv/bin/python benchmarks/bench_model.py [--rows 1500] [--trials 30] [--seed 42]

Writes benchmarks/results/model.json and prints a table. Wall clock on this machine,
one BLAS/OpenMP thread (the training default).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import optuna
from threadpoolctl import threadpool_limits

from attrition.config import TrainingSettings
from attrition.data.generator import generate_workforce
from attrition.training.evaluation import labels_of
from attrition.training.final import fit_final
from attrition.training.pipeline import train_model
from attrition.training.search import BOOSTING, FOREST, LOGISTIC, SearchOutcome

RESULTS = Path(__file__).resolve().parent / "results" / "model.json"

#: The largest trees the search ranges allow: worst-case explanation cost.
SLOWEST: dict[str, dict[str, Any]] = {
    LOGISTIC: {"C": 1.0, "class_weight": None},
    FOREST: {
        "n_estimators": 150,
        "max_depth": 8,
        "min_samples_leaf": 1,
        "max_features": 0.5,
        "class_weight": None,
    },
    BOOSTING: {
        "learning_rate": 0.05,
        "max_iter": 300,
        "max_leaf_nodes": 32,
        "l2_regularization": 0.1,
        "class_weight": None,
    },
}


def bench_train(rows: int, trials: int, seed: int) -> dict[str, Any]:
    frame = generate_workforce(rows, seed=seed)
    started = time.perf_counter()
    result = train_model(frame, TrainingSettings(trials=trials, seed=seed))
    wall = time.perf_counter() - started
    states = [t.state.name for t in result.study.trials]
    return {
        "rows": rows,
        "trials": trials,
        "trials_pruned": states.count("PRUNED"),
        "best_family": result.best_family,
        "wall_seconds": round(wall, 1),
        "phases_seconds": {k: round(v, 1) for k, v in result.timings.items()},
        "metrics": {k: round(v, 4) for k, v in result.metrics.items()},
        "fairness_passed": result.fairness.passed,
        "fairness_failures": result.fairness.failures,
    }


def bench_explain(seed: int) -> list[dict[str, Any]]:
    frame = generate_workforce(2700, seed=seed)
    train, scored = frame.iloc[:1700], frame.iloc[1700:2700]
    out = []
    for family, params in SLOWEST.items():
        search = SearchOutcome(optuna.create_study(), family, params, float("nan"), float("nan"))
        with threadpool_limits(limits=1):
            model = fit_final(train, labels_of(train), search, TrainingSettings()).model
            one = scored.iloc[[0]]
            start = time.perf_counter()
            model.explain(one)
            first = time.perf_counter() - start
            singles = []
            for i in range(50):
                start = time.perf_counter()
                model.explain(scored.iloc[[i]])
                singles.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.contributions(scored)
            thousand = time.perf_counter() - start
            start = time.perf_counter()
            model.predict_proba(scored.iloc[[0]])
            predict_one = time.perf_counter() - start
        out.append(
            {
                "family": family,
                "params": params,
                "first_explain_ms": round(first * 1000, 1),
                "explain_one_median_ms": round(statistics.median(singles) * 1000, 2),
                "explain_one_p95_ms": round(sorted(singles)[int(0.95 * len(singles)) - 1] * 1000, 2),
                "contributions_1000_seconds": round(thousand, 3),
                "predict_one_ms": round(predict_one * 1000, 2),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    explain = bench_explain(args.seed)
    train = bench_train(args.rows, args.trials, args.seed)
    payload = {
        "benchmark": "model",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "train": train,
        "explain": explain,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    m = train["metrics"]
    print(f"train_model: {train['rows']:,} rows, {train['trials']} trials -> {train['wall_seconds']} s")
    print(f"  phases {train['phases_seconds']}, best {train['best_family']}, pruned {train['trials_pruned']}")
    print(
        f"  holdout roc_auc {m['roc_auc']} [{m['roc_auc_ci_low']}, {m['roc_auc_ci_high']}], pr_auc {m['pr_auc']}, "
        f"recall {m['recall']}, precision {m['precision']}, brier {m['brier']}, ece {m['ece']}"
    )
    print(f"  fairness passed: {train['fairness_passed']} {train['fairness_failures']}")
    header = (
        f"{'family':<24} {'first ms':>9} {'1 rec ms':>9} {'p95 ms':>8} {'1000 rec s':>11} {'predict ms':>11}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in explain:
        print(
            f"{r['family']:<24} {r['first_explain_ms']:>9} {r['explain_one_median_ms']:>9} "
            f"{r['explain_one_p95_ms']:>8} {r['contributions_1000_seconds']:>11} {r['predict_one_ms']:>11}"
        )
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
