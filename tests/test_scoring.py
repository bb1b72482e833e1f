"""Batch scoring: snapshot or CSV in, predictions table + CSV/Parquet out, rejects reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import RISK_BAND_NAMES, Settings
from attrition.data.generator import write_csv
from attrition.db.engine import get_engine
from attrition.db.repositories import insert_employees, predictions_frame, query_predictions
from attrition.schema import ID_COLUMN
from attrition.serving.loader import ModelNotAvailable, Predictor
from attrition.serving.scoring import ScoringError, factor_text, score_batch, top_factors

runner = CliRunner()


def test_snapshot_scoring_logs_every_prediction_and_flags_high_risk(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    out = champion_env.root / "out" / "scores.csv"

    report = score_batch(settings, out=out)

    n = len(champion_env.employees)
    assert (report.rows_read, report.rows_scored, report.rows_rejected, report.rows_logged) == (n, n, 0, n)
    assert sum(report.band_counts.values()) == n and set(report.band_counts) == set(RISK_BAND_NAMES)
    written = pd.read_csv(out)
    assert len(written) == n
    assert list(written.columns[:7]) == [
        ID_COLUMN,
        "snapshot_date",
        "probability",
        "label",
        "risk_band",
        "high_risk",
        "top_factor_1",
    ]
    assert written["top_factor_3"].notna().all()
    assert report.high_risk == int(written["high_risk"].sum())
    assert set(written.loc[written["high_risk"], "risk_band"]) <= {"high", "critical"}
    assert written["risk_band"].value_counts().to_dict() == {b: c for b, c in report.band_counts.items() if c}

    rows, total = query_predictions(get_engine(settings.db_url), source="batch", limit=5)
    assert total == n
    row = rows[0]
    assert row["request_id"] == report.batch_id and row["model_version"] == champion_env.version
    assert row["threshold"] == champion_env.result.model.threshold
    assert str(row["snapshot_date"]) == "2026-10-31"
    assert len(row["top_factors"]) == 3 and {"feature", "value", "contribution", "direction"} <= set(
        row["top_factors"][0]
    )
    assert "Attrition" not in row["inputs"] and row["inputs"][ID_COLUMN] == row["employee_number"]


def test_csv_scoring_rejects_bad_rows_and_scores_the_rest(
    model_env: ModelEnv, db_url: str, tmp_path: Path
) -> None:
    """On every app database backend: rejects reported by line, good rows scored and logged."""
    settings = model_env.settings.model_copy(update={"database_url": db_url})
    records = model_env.employees.drop(columns="snapshot_date").head(300).astype(object)
    records.loc[4, "Age"] = "old"  # line 6: not a number
    records.loc[9, "Department"] = "Space"  # line 11: unknown category
    path = tmp_path / "batch.csv"
    records.to_csv(path, index=False)
    out = tmp_path / "batch.parquet"

    report = score_batch(settings, csv=path, out=out, chunk_rows=128)

    assert (report.rows_read, report.rows_scored, report.rows_rejected) == (300, 298, 2)
    errors = {(i.row, i.column) for i in report.issues if i.severity == "error"}
    assert errors == {(6, "Age"), (11, "Department")}
    written = pd.read_parquet(out)
    assert len(written) == 298
    assert not written[ID_COLUMN].isin(records.loc[[4, 9], ID_COLUMN].astype(int)).any()
    logged = predictions_frame(get_engine(db_url), source="batch")
    assert len(logged) == 298
    engine = get_engine(db_url)
    if engine.dialect.name == "postgresql":  # the planner statistics were refreshed after the load
        with engine.connect() as conn:
            query = sa.text("SELECT reltuples FROM pg_class WHERE relname = 'predictions'")
            assert conn.execute(query).scalar_one() == 298
    merged = written.merge(logged[[ID_COLUMN, "probability"]], on=ID_COLUMN, suffixes=("", "_db"))
    np.testing.assert_array_equal(
        merged["probability"].to_numpy(), merged["probability_db"].to_numpy(dtype=float)
    )


def test_chunking_does_not_change_results(model_env: ModelEnv, tmp_path: Path) -> None:
    settings = model_env.settings
    path = tmp_path / "all.csv"
    write_csv(model_env.employees.drop(columns="snapshot_date").head(700), path)
    predictor = Predictor.load(settings)
    whole = score_batch(
        settings, csv=path, out=tmp_path / "one.parquet", log_predictions=False, predictor=predictor
    )
    parts = score_batch(
        settings,
        csv=path,
        out=tmp_path / "many.parquet",
        chunk_rows=64,
        log_predictions=False,
        predictor=predictor,
    )
    assert whole.band_counts == parts.band_counts and parts.rows_scored == 700
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "many.parquet")
    )


def test_snapshot_paging_does_not_change_results(model_env: ModelEnv, db_url: str, tmp_path: Path) -> None:
    """On every app database backend: 7-row pages give exactly what one 10,000-row page gives."""
    settings = model_env.settings.model_copy(update={"database_url": db_url})
    engine = get_engine(db_url)
    current = model_env.employees.sample(150, random_state=3)  # stored out of EmployeeNumber order
    insert_employees(engine, current, "test")
    older = model_env.employees.head(30).assign(snapshot_date=dt.date(2026, 9, 30))
    insert_employees(engine, older, "older")  # another snapshot: never scored here
    predictor = Predictor.load(settings)
    seen: list[int] = []
    reads: list[str] = []  # SELECTs on employees that score_batch's engine really runs

    def on_execute(conn: sa.Connection, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM employees" in statement:
            reads.append(statement)

    sa.event.listen(get_engine(settings.db_url), "before_cursor_execute", on_execute)
    paged = score_batch(
        settings,
        out=tmp_path / "paged.parquet",
        chunk_rows=7,
        predictor=predictor,
        progress=lambda rows, _: seen.append(rows),
    )
    paged_reads, reads[:] = len(reads), []
    whole = score_batch(settings, out=tmp_path / "whole.parquet", chunk_rows=10_000, predictor=predictor)
    sa.event.remove(get_engine(settings.db_url), "before_cursor_execute", on_execute)

    assert seen == [*range(7, 150, 7), 150]  # 22 pages, the last one short
    assert paged_reads >= 22 and len(reads) <= 3  # one query per page, not one for the whole snapshot
    assert (paged.rows_read, paged.rows_scored, paged.rows_logged) == (150, 150, 150)
    assert paged.band_counts == whole.band_counts
    written = pd.read_parquet(tmp_path / "paged.parquet")
    pd.testing.assert_frame_equal(written, pd.read_parquet(tmp_path / "whole.parquet"))
    assert written[ID_COLUMN].tolist() == sorted(current[ID_COLUMN].tolist())
    assert set(written["snapshot_date"]) == {dt.date(2026, 10, 31)}
    logged = predictions_frame(engine, source="batch")
    by_batch = {
        batch: logged[logged["prediction_id"].isin(ids)].set_index(ID_COLUMN)["probability"].sort_index()
        for batch, ids in _prediction_ids_by_batch(engine).items()
    }
    pd.testing.assert_series_equal(by_batch[paged.batch_id], by_batch[whole.batch_id])


def _prediction_ids_by_batch(engine: sa.Engine) -> dict[str, list[str]]:
    rows, _ = query_predictions(engine, source="batch", limit=10_000)
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["request_id"], []).append(row["prediction_id"])
    return out


def test_vectorised_top_factors_match_the_model_explanations(model_env: ModelEnv) -> None:
    model = model_env.result.model
    records = model_env.employees.sample(40, random_state=1)
    assert top_factors(model, records, 3) == model.explain(records, top_k=3)
    text = factor_text({"feature": "OverTime", "value": "Yes", "contribution": 0.1234, "direction": "raises"})
    assert text == "OverTime=Yes (+12.3 pts)"


def test_scoring_errors_are_clear(model_env: ModelEnv, empty_env: Settings, tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match=r"must end in \.csv or \.parquet"):
        score_batch(model_env.settings, out=tmp_path / "x.xlsx")
    missing = tmp_path / "missing_column.csv"
    model_env.employees.drop(columns=["snapshot_date", "OverTime"]).head(5).to_csv(missing, index=False)
    with pytest.raises(ScoringError, match="OverTime"):
        score_batch(model_env.settings, csv=missing, log_predictions=False)
    with pytest.raises(ScoringError, match="not found"):
        score_batch(model_env.settings, csv=tmp_path / "nope.csv", log_predictions=False)
    with pytest.raises(ModelNotAvailable, match="attrition train --promote"):
        score_batch(empty_env)
    # A champion but no employees stored yet.
    no_rows = model_env.settings.model_copy(update={"database_url": empty_env.db_url})
    with pytest.raises(ScoringError, match="attrition ingest"):
        score_batch(no_rows)
    assert not list(tmp_path.glob(".*partial"))


def test_cli_score(champion_env: ModelEnv, cli_env: Callable[..., None], tmp_path: Path) -> None:
    cli_env(champion_env.settings)
    out = tmp_path / "scores.parquet"

    result = runner.invoke(app, ["score", "--snapshot-date", "2026-10-31", "--out", str(out)])

    assert result.exit_code == 0, result.output
    n = len(champion_env.employees)
    assert f"scored {n:,} of {n:,} rows" in result.output
    assert "HIGH RISK (high + critical)" in result.output
    assert len(pd.read_parquet(out)) == n

    bad = tmp_path / "bad.csv"
    frame = champion_env.employees.drop(columns="snapshot_date").head(20).astype(object)
    frame.loc[0, "JobLevel"] = 9
    frame.to_csv(bad, index=False)
    rejected = runner.invoke(app, ["score", "--csv", str(bad)])
    assert rejected.exit_code == 1
    assert "scored 19 of 20 rows" in rejected.output and "line 2, JobLevel" in rejected.output

    nothing = runner.invoke(app, ["score", "--snapshot-date", "2001-01-01"])
    assert nothing.exit_code == 2 and "no employees stored for snapshot 2001-01-01" in nothing.output


def test_cli_score_factors_option_computes_only_what_is_asked(
    champion_env: ModelEnv, cli_env: Callable[..., None], tmp_path: Path
) -> None:
    """``--factors 0``: no factor columns, none logged; ``--factors 1``: one of each; -1 is refused."""
    cli_env(champion_env.settings)
    engine = get_engine(champion_env.settings.db_url)
    n = len(champion_env.employees)
    none_out, one_out = tmp_path / "none.parquet", tmp_path / "one.csv"

    result = runner.invoke(app, ["score", "--factors", "0", "--out", str(none_out)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(none_out)
    assert list(written.columns) == [
        ID_COLUMN,
        "snapshot_date",
        "probability",
        "label",
        "risk_band",
        "high_risk",
    ]
    rows, total = query_predictions(engine, limit=n)
    assert total == n and all(r["top_factors"] is None for r in rows)

    result = runner.invoke(app, ["score", "--factors", "1", "--out", str(one_out)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(one_out).columns)[-1] == "top_factor_1"
    newest = query_predictions(engine, limit=1)[0][0]
    assert len(newest["top_factors"]) == 1

    refused = runner.invoke(app, ["score", "--factors", "-1"])
    assert refused.exit_code == 2 and "--factors" in refused.output


def test_parquet_output_has_one_type_per_column_across_chunks(model_env: ModelEnv, tmp_path: Path) -> None:
    """Written from Arrow chunk by chunk: the schema of the first chunk holds for every chunk."""
    import pyarrow.parquet as pq

    path = tmp_path / "w.csv"
    write_csv(model_env.employees.drop(columns="snapshot_date").head(250), path)
    predictor = Predictor(model_env.settings.model_name, model_env.version, model_env.result.model)
    out = tmp_path / "w.parquet"
    score_batch(
        model_env.settings, csv=path, out=out, chunk_rows=100, log_predictions=False, predictor=predictor
    )
    schema = pq.read_schema(out)
    assert [str(schema.field(c).type) for c in schema.names] == [
        "int64",
        "double",
        "bool",
        "string",
        "bool",
        "string",
        "string",
        "string",
    ]
    written = pd.read_parquet(out)
    records = model_env.employees.head(250).reset_index(drop=True)
    expected = top_factors(model_env.result.model, records.drop(columns=["snapshot_date"]), 3)
    assert written["top_factor_2"].tolist() == [factor_text(f[1]) for f in expected]
    assert np.allclose(written["probability"], model_env.result.model.predict_proba(records))
