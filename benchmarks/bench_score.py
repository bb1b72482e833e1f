"""Batch scoring throughput: ``attrition score --csv`` on 1,000,000 rows, streamed in chunks.

Set-up (not timed): a champion trained on generator data (default: logistic
regression, 5 trials, 1,500 rows), logged, registered and promoted in a temp MLflow
store; a generator CSV of ``--rows`` rows. Timed, in one run, on the same rows:

* ``predict_proba``: the model's pipeline alone on the validated records, chunk by
  chunk (the ceiling: no reading, validation, factors, logging or output);
* ``score_batch`` exactly as the command runs it (read + validate each chunk, predict,
  top-3 factors, append to a Parquet file) without the prediction log, then with it on
  SQLite (the temp dir) and, when ATTRITION_TEST_POSTGRES_URL is set, on PostgreSQL (a
  database of its own on that server, dropped after);
* each stage alone on one chunk, so the table shows where the time goes.

Every rate is also given as a ratio to ``predict_proba``'s.

    .venv/bin/python benchmarks/bench_score.py                     # 1,000,000 rows
    .venv/bin/python benchmarks/bench_score.py --rows 100000 --family random_forest
    .venv/bin/python benchmarks/bench_score.py --rows 50000 --profile   # cProfile of one logged run

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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    from attrition.serving.prediction_log import pack_frame, prediction_columns

    predictor = Predictor.load(settings)
    raw = pd.read_csv(csv, dtype=str, nrows=rows)
    rates: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        started = time.perf_counter()
        value = fn()
        rates[name] = round(rows / (time.perf_counter() - started))
        return value

    records = timed("read_validate", lambda: validate_frame(raw).valid)
    timed("predict_proba", lambda: predictor.model.predict_proba(records))
    scored = timed("predict", lambda: predictor.model.predict(records))
    factors = timed("top3_factors", lambda: scoring.TopFactors.of(predictor.model, records, 3))
    texts = timed("factors_json", factors.json)
    timed("pack_inputs", lambda: pack_frame(records))
    columns = timed(
        "build_log_columns",
        lambda: prediction_columns(
            predictor, records, scored, source=scoring.SOURCE, request_id="bench", factors=texts
        ),
    )
    timed("insert_predictions", lambda: insert_predictions(get_engine(settings.db_url), columns))
    timed("output_table", lambda: scoring._output_table(records, scored, factors, 3))
    return rates


def raw_predict_rate(settings: Any, csv: Path, chunk_rows: int) -> float:
    """Rows/s of the pipeline's ``predict_proba`` alone over every validated chunk (read beforehand)."""
    import pandas as pd

    from attrition.data.validation import validate_frame
    from attrition.serving.loader import Predictor

    model = Predictor.load(settings).model
    total, seconds = 0, 0.0
    for raw in pd.read_csv(csv, dtype=str, keep_default_na=False, chunksize=chunk_rows):
        records = validate_frame(raw).valid
        started = time.perf_counter()
        model.predict_proba(records)
        seconds += time.perf_counter() - started
        total += len(records)
    return total / seconds


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh, migrated database on the ATTRITION_TEST_POSTGRES_URL server (None when unset); dropped after."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from attrition.db.migrate import upgrade

    server = os.environ.get("ATTRITION_TEST_POSTGRES_URL")
    if not server:
        yield None
        return
    name = f"bench_score_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        from attrition.db.engine import get_engine

        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def timed_run(settings: Any, csv: Path, out: Path, args: argparse.Namespace, log: bool) -> dict[str, Any]:
    from attrition.serving.scoring import score_batch

    started = time.perf_counter()
    report = score_batch(
        settings, csv=csv, out=out, chunk_rows=args.chunk_rows, top_k=args.factors, log_predictions=log
    )
    seconds = time.perf_counter() - started
    if report.rows_rejected:
        raise SystemExit(f"benchmark data had {report.rows_rejected} rejected rows: {report.issues[:3]}")
    return {
        "rows_scored": report.rows_scored,
        "rows_logged": report.rows_logged,
        "seconds": round(seconds, 1),
        "rows_per_second": round(report.rows_scored / seconds),
        "high_risk": report.high_risk,
    }


def profile_run(settings: Any, csv: Path, out: Path, args: argparse.Namespace) -> None:
    """cProfile of one logged run: the 25 functions with the most cumulative time."""
    import cProfile
    import pstats

    from attrition.serving.scoring import score_batch

    profiler = cProfile.Profile()
    profiler.runcall(score_batch, settings, csv=csv, out=out, chunk_rows=args.chunk_rows, top_k=args.factors)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--factors", type=int, default=3, help="top factors per prediction (0: none)")
    parser.add_argument("--family", default="logistic_regression")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--train-rows", type=int, default=1500)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one logged run instead")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.database_url = None
    logging.basicConfig(level=logging.WARNING)

    from attrition.db.engine import get_engine

    with tempfile.TemporaryDirectory(prefix="bench_score_") as tmp:
        root = Path(tmp)
        settings, csv = prepare(root, args)
        if args.profile:
            profile_run(settings, csv, root / "scores.parquet", args)
            return
        stages = stage_rates(settings, csv, min(args.chunk_rows, args.rows))
        get_engine.cache_clear()
        upgrade_fresh(settings)
        print(f"scoring {args.rows:,} rows in chunks of {args.chunk_rows:,} ...", flush=True)
        raw = raw_predict_rate(settings, csv, args.chunk_rows)
        runs = {"no_log": timed_run(settings, csv, root / "scores.parquet", args, log=False)}
        runs["log_sqlite"] = timed_run(settings, csv, root / "scores.parquet", args, log=True)
        with postgres_database() as url:
            if url is not None:
                on_postgres = settings.model_copy(update={"database_url": url})
                runs["log_postgresql"] = timed_run(on_postgres, csv, root / "scores.parquet", args, log=True)
    for run in runs.values():
        run["ratio_to_predict_proba"] = round(run["rows_per_second"] / raw, 3)
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
        "factors": args.factors,
        "family": args.family,
        "predict_proba_rows_per_second": round(raw),
        "runs": runs,
        "stage_rows_per_second_one_chunk": stages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'run':<16} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'x predict_proba':>16}")
    print(f"{'predict_proba':<16} {args.rows:>10,} {'':>8} {round(raw):>9,} {1.0:>16.3f}")
    for name, run in runs.items():
        print(
            f"{name:<16} {run['rows_scored']:>10,} {run['seconds']:>8.1f} {run['rows_per_second']:>9,} "
            f"{run['ratio_to_predict_proba']:>16.3f}"
        )
    print("stage rows/s on one chunk: " + ", ".join(f"{k} {v:,.0f}" for k, v in stages.items()))
    print(f"\nwritten to {args.out}")


def upgrade_fresh(settings: Any) -> None:
    """An empty prediction log for the timed runs (the stage timing wrote one chunk)."""
    from attrition.db.engine import get_engine

    engine = get_engine(settings.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM latest_scores")
        conn.exec_driver_sql("DELETE FROM predictions")


if __name__ == "__main__":
    main()
