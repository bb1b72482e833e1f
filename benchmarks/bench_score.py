"""Batch scoring throughput: ``attrition score --csv`` on 1,000,000 rows, streamed in chunks.

Set-up (not timed): a champion trained on generator data (default: logistic
regression, 5 trials, 1,500 rows), logged, registered and promoted in a temp MLflow
store; a generator CSV of ``--rows`` rows. Timed: ``scoring.score_batch`` end to end
exactly as the command runs it: read + validate each chunk, predict, top-3 factors
(SHAP), write every prediction to the ``predictions`` table (SQLite app DB in the temp
dir, or ``--database-url``) and append to a Parquet file. Also timed, on one chunk,
each stage alone, so the table shows where the time goes.

    .venv/bin/python benchmarks/bench_score.py                     # 1,000,000 rows
    .venv/bin/python benchmarks/bench_score.py --rows 100000 --family random_forest

Writes benchmarks/results/score.json and prints a table.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "score.json"


def prepare(root: Path, args: argparse.Namespace) -> Any:
    from attrition.config import Settings, TrainingSettings
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
            trials=args.trials, seed=1, families=[args.family], protected_attributes=["Gender"]
        ),
    )
    upgrade(settings.db_url)
    result = train_model(generate_workforce(args.train_rows, seed=1), settings.training)
    log_and_register(result, settings, actor="bench")
    decision = promote(settings, actor="bench")
    if not decision.promoted:
        raise SystemExit(f"set-up failed, the benchmark model was not promoted: {decision.message()}")
    csv = root / "score.csv"
    print(f"writing {args.rows:,} generator rows to CSV ...", flush=True)
    written = 0
    seed = 100
    while written < args.rows:  # in blocks, so generating 1M rows stays within memory
        block = generate_workforce(min(200_000, args.rows - written), seed=seed)
        block["EmployeeNumber"] = range(written + 1, written + len(block) + 1)  # unique across blocks
        if written == 0:
            write_csv(block, csv)
        else:
            block.to_csv(csv, mode="a", header=False, index=False)
        written += len(block)
        seed += 1
    return settings, csv


def stage_rates(settings: Any, csv: Path, rows: int) -> dict[str, float]:
    """Rows/s of each stage on one chunk of ``rows`` rows (validated records)."""
    import pandas as pd

    from attrition.data.validation import validate_frame
    from attrition.db.engine import get_engine
    from attrition.db.repositories import insert_predictions
    from attrition.serving import scoring
    from attrition.serving.loader import Predictor
    from attrition.serving.prediction_log import prediction_rows

    predictor = Predictor.load(settings)
    raw = pd.read_csv(csv, dtype=str, nrows=rows)
    rates: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        started = time.perf_counter()
        value = fn()
        rates[name] = round(rows / (time.perf_counter() - started))
        return value

    records = timed("read_validate", lambda: validate_frame(raw).valid)
    scored = timed("predict", lambda: predictor.model.predict(records))
    scored["top_factors"] = timed("top3_factors", lambda: scoring.top_factors(predictor.model, records, 3))
    log_rows = timed(
        "build_log_rows",
        lambda: prediction_rows(predictor, records, scored, source=scoring.SOURCE, request_id="bench"),
    )
    timed("insert_predictions", lambda: insert_predictions(get_engine(settings.db_url), log_rows))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--family", default="logistic_regression")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--train-rows", type=int, default=1500)
    parser.add_argument(
        "--database-url", default=None, help="app DB for the prediction log (default: SQLite)"
    )
    parser.add_argument("--no-log", action="store_true", help="skip the predictions table (file output only)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from attrition.serving.scoring import score_batch

    with tempfile.TemporaryDirectory(prefix="bench_score_") as tmp:
        root = Path(tmp)
        settings, csv = prepare(root, args)
        stages = stage_rates(settings, csv, min(args.chunk_rows, args.rows))
        print(f"scoring {args.rows:,} rows in chunks of {args.chunk_rows:,} ...", flush=True)
        started = time.perf_counter()
        report = score_batch(
            settings,
            csv=csv,
            out=root / "scores.parquet",
            chunk_rows=args.chunk_rows,
            log_predictions=not args.no_log,
            progress=lambda done, _total: print(f"  {done:,} rows", flush=True),
        )
        seconds = time.perf_counter() - started
    if report.rows_rejected:
        raise SystemExit(f"benchmark data had {report.rows_rejected} rejected rows: {report.issues[:3]}")
    result = {
        "benchmark": "score",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "rows": args.rows,
        "chunk_rows": args.chunk_rows,
        "family": args.family,
        "prediction_log": "off" if args.no_log else ("sqlite" if not args.database_url else "given url"),
        "rows_scored": report.rows_scored,
        "rows_rejected": report.rows_rejected,
        "rows_logged": report.rows_logged,
        "seconds": round(seconds, 1),
        "rows_per_second": round(report.rows_scored / seconds),
        "high_risk": report.high_risk,
        "band_counts": report.band_counts,
        "stage_rows_per_second_one_chunk": stages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'rows':>10} {'chunk':>7} {'family':<22} {'log':<7} {'seconds':>8} {'rows/s':>8}")
    print(
        f"{result['rows']:>10,} {args.chunk_rows:>7,} {args.family:<22} {result['prediction_log']:<7} "
        f"{result['seconds']:>8.1f} {result['rows_per_second']:>8,}"
    )
    print("stage rows/s on one chunk: " + ", ".join(f"{k} {v:,.0f}" for k, v in stages.items()))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
