"""Data protection on every configured backend: the retention purge, one employee exported and forgotten.

Real databases (the ``db_url`` fixture), real files in tmp dirs: score-job folders laid out as
``api/score_jobs.py`` writes them and reference data as ``attrition.reference`` writes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest_model import make_settings
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings, get_settings, reset_settings
from attrition.db import data_versions
from attrition.db import privacy as db
from attrition.db.drift_runs import insert_drift_run
from attrition.db.engine import get_engine
from attrition.db.migrate import upgrade
from attrition.db.models import AuditEvent, DriftRun, Outcome, Prediction, employees, latest_scores, utcnow
from attrition.db.repositories import (
    insert_employees,
    insert_outcome,
    insert_predictions,
    list_audit,
    record_audit,
)
from attrition.jobs import privacy
from attrition.reference import render_provenance
from attrition.schema import EXAMPLE_RECORD, SNAPSHOT_DATE

JAN = dt.date(2026, 1, 31)
FEB = dt.date(2026, 2, 28)
TARGET, OTHER = 987654, 123456
JOB_ID = "ab" * 16


def _prediction(number: int, created_at: dt.datetime, snapshot: dt.date | None) -> dict[str, Any]:
    return {
        "prediction_id": str(uuid.uuid4()),
        "created_at": created_at,
        "employee_number": number,
        "snapshot_date": snapshot,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.4,
        "threshold": 0.3,
        "label": True,
        "risk_band": "high",
        "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
        "top_factors": [],
        "source": "batch",
        "request_id": None,
    }


def _count(engine: sa.Engine, table: sa.Table | Any) -> int:
    table = getattr(table, "__table__", table)
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _age_outcome(engine: sa.Engine, outcome_id: int, recorded_at: dt.datetime) -> None:
    table = Outcome.__table__
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == outcome_id).values(recorded_at=recorded_at))  # type: ignore[attr-defined]


# --- purge -----------------------------------------------------------------------------------


def _drift_run(engine: sa.Engine, started_at: dt.datetime, reports: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    values = {
        "run_id": run_id,
        "started_at": started_at,
        "status": "ok",
        "reference_description": "reference",
        "current_description": "current window",
        "reference_rows": 10,
        "current_rows": 10,
        "results": {"reports": reports},
        "report_path": reports.get("json"),
    }
    insert_drift_run(engine, values)
    return run_id


def _purge_fixture(settings: Settings) -> dict[str, Any]:
    """4 old + 2 recent predictions, 3 old + 2 recent outcomes, 2 old + 1 recent drift runs."""
    engine = get_engine(settings.db_url)
    now = utcnow()
    old, older, recent = (
        now - dt.timedelta(days=390),
        now - dt.timedelta(days=400),
        now - dt.timedelta(days=10),
    )
    rows = [
        _prediction(1, older, JAN),  # employee 1: an old score, then a recent one (the latest)
        _prediction(1, recent, JAN),
        _prediction(2, older, JAN),  # employee 2: two old scores: the latest goes too
        _prediction(2, old, JAN),
        _prediction(3, old, None),  # an API prediction of no snapshot
        _prediction(4, recent, JAN),
    ]
    insert_predictions(engine, rows)
    for number, age in ((1, older), (2, old), (3, old), (4, recent), (5, recent)):
        _age_outcome(engine, insert_outcome(engine, number, False, JAN), age)
    reports = Path(settings.reports_dir)
    reports.mkdir(parents=True)
    outside = settings.data_dir / "elsewhere.json"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text("{}")
    files = {name: reports / name for name in ("a.json", "a.md", "a.html", "b.json", "c.json")}
    for path in files.values():
        path.write_text("report")
    _drift_run(
        engine,
        older,
        {"json": str(files["a.json"]), "markdown": str(files["a.md"]), "html": str(files["a.html"])},
    )
    _drift_run(engine, old, {"json": str(files["b.json"]), "markdown": str(outside)})
    keep_run = _drift_run(engine, recent, {"json": str(files["c.json"])})
    return {
        "recent_ids": {rows[1]["prediction_id"], rows[5]["prediction_id"]},
        "files": files,
        "outside": outside,
        "keep_run": keep_run,
    }


def test_purge_removes_exactly_the_old_rows_in_chunks(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=db_url)
    engine = get_engine(db_url)
    made = _purge_fixture(settings)
    assert _count(engine, latest_scores) == 3

    dry = privacy.purge(settings, privacy.PurgeRequest(365, dry_run=True))
    assert dry.exit_code == 0 and dry.error is None
    assert dry.counts.as_dict() == {"predictions": 4, "latest_scores": 1, "outcomes": 3, "drift_runs": 2}
    assert dry.report_files == 4  # a.json, a.md, a.html, b.json; never the file outside reports_dir
    assert (_count(engine, Prediction), _count(engine, Outcome), _count(engine, DriftRun)) == (6, 5, 3)
    assert all(p.exists() for p in made["files"].values())
    assert list_audit(engine, action="retention.purge") == []

    version = data_versions.read(engine)
    outcome = privacy.purge(settings, privacy.PurgeRequest(365, batch_size=2, actor="tester"))
    assert outcome.exit_code == 0 and outcome.error is None
    assert outcome.counts.as_dict() == dry.counts.as_dict() and outcome.report_files == 4

    with engine.connect() as conn:
        kept = set(conn.execute(sa.select(Prediction.prediction_id)).scalars())
        latest = {(r.employee_number, r.prediction_id) for r in conn.execute(sa.select(latest_scores))}
        runs = list(conn.execute(sa.select(DriftRun.run_id)).scalars())
    assert kept == made["recent_ids"]
    assert {n for n, _ in latest} == {1, 4} and {p for _, p in latest} == made["recent_ids"]
    assert _count(engine, Outcome) == 2 and runs == [made["keep_run"]]
    assert data_versions.read(engine) > version  # the summary's cache follows
    assert [p.name for p in made["files"].values() if p.exists()] == ["c.json"]
    assert made["outside"].exists()
    [event] = list_audit(engine, action="retention.purge")
    assert event["actor"] == "tester" and event["subject"] == "older-than:365d"
    assert event["detail"]["outcome"] == "purged" and event["detail"]["removed"]["predictions"] == 4

    again = privacy.purge(settings, privacy.PurgeRequest(365))
    assert again.counts.as_dict() == dict.fromkeys(
        ("predictions", "latest_scores", "outcomes", "drift_runs"), 0
    )
    assert (
        privacy.purge(settings, privacy.PurgeRequest(5)).counts.predictions == 2
    )  # everything is older than 5 days


def test_purge_uses_the_retention_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, retention_days=30)
    upgrade(settings.db_url)
    now = utcnow()
    insert_predictions(
        get_engine(settings.db_url),
        [_prediction(1, now - dt.timedelta(days=31), None), _prediction(2, now, None)],
    )
    outcome = privacy.purge(settings, privacy.PurgeRequest())
    assert outcome.days == 30 and outcome.counts.predictions == 1
    assert privacy.purge_lines(outcome)[1].split() == ["predictions", "1"]


# --- one employee ----------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)


def _employee_fixture(settings: Settings) -> dict[str, Any]:
    """TARGET and OTHER in every table and file that can hold an employee."""
    engine = get_engine(settings.db_url)
    records = pd.DataFrame(
        [
            {**EXAMPLE_RECORD, "EmployeeNumber": n, SNAPSHOT_DATE: day}
            for n in (TARGET, OTHER)
            for day in (JAN, FEB)
        ]
    )
    insert_employees(engine, records, source="test.csv")
    now = utcnow()
    preds = {n: [_prediction(n, now, JAN), _prediction(n, now, FEB)] for n in (TARGET, OTHER)}
    insert_predictions(engine, [*preds[TARGET], *preds[OTHER]])
    outcome_id = insert_outcome(engine, TARGET, True, FEB, prediction_id=preds[TARGET][1]["prediction_id"])
    other_outcome = insert_outcome(engine, OTHER, False, FEB)
    record_audit(
        engine, "api-user", "feedback", str(outcome_id), {"prediction_id": preds[TARGET][1]["prediction_id"]}
    )
    record_audit(engine, "api-user", "feedback", str(other_outcome), {"prediction_id": None})
    record_audit(engine, "hr", "employee.note", "something", {"employee_number": TARGET, "why": "test"})
    record_audit(engine, "admin", "user.create", "alice", {"role": "viewer"})

    job = settings.data_dir / "score_jobs" / JOB_ID
    job.mkdir(parents=True)
    _write_csv(job / "input.csv", [["EmployeeNumber", "Age"], [OTHER, 30], [TARGET, 41], [OTHER + 1, 50]])
    _write_csv(job / "result.csv", [["EmployeeNumber", "probability"], [OTHER, 0.1], [TARGET, 0.7]])
    _write_csv(
        job / "issues.csv",
        [
            ["line", "column", "severity", "reason"],
            [3, "Age", "warning", "odd"],
            [2, "Age", "warning", "odd"],
        ],
    )
    status = {
        "job_id": JOB_ID,
        "status": "done",
        "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        "issues": [{"line": 3}, {"line": 2}],
    }
    (job / "status.json").write_text(json.dumps(status))

    folder = Path(settings.reference_dir)
    folder.mkdir(parents=True)
    sample = pd.DataFrame(
        {
            "EmployeeNumber": [TARGET, OTHER, 5],
            "Age": [41, 30, 50],
            "split": ["train", "train", "holdout"],
            "probability": [0.9, 0.1, 0.2],
            "risk_band": ["high", "low", "low"],
        }
    )
    sample.to_parquet(folder / "reference.parquet", index=False)
    meta = {
        "created_at": "2026-01-01",
        "model_name": "m",
        "model_version": "1",
        "run_id": "r",
        "threshold": 0.3,
        "threshold_rule": "f1",
        "rows": 3,
        "rows_by_split": {"train": 2, "holdout": 1},
        "metrics": {"roc_auc": 0.8},
    }
    (folder / "reference.json").write_text(json.dumps(meta))
    (folder / "PROVENANCE.md").write_text(render_provenance(meta))
    return {"job": job, "outcome_id": outcome_id}


def _table_counts(engine: sa.Engine, number: int) -> dict[str, int]:
    return {name: len(rows) for name, rows in db.employee_rows(engine, number).items()}


def test_export_holds_every_row_of_the_employee_and_none_of_another(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=db_url)
    _employee_fixture(settings)
    outcome = privacy.export_employee(settings, TARGET, "dpo")
    assert outcome.exit_code == 0 and outcome.error is None
    data = outcome.data
    counts = {name: len(rows) for name, rows in data["tables"].items()}
    assert counts == {"employees": 2, "predictions": 2, "latest_scores": 2, "outcomes": 1, "audit_log": 2}
    [job] = data["files"]["score_jobs"]
    assert job["job_id"] == JOB_ID and job["input.csv"] == [{"EmployeeNumber": str(TARGET), "Age": "41"}]
    assert job["result.csv"] == [{"EmployeeNumber": str(TARGET), "probability": "0.7"}]
    assert [i["line"] for i in job["issues.csv"]] == ["3"]  # the target's row is line 3 of the upload
    [ref] = data["files"]["reference_data"]
    assert ref["file"] == "reference.parquet" and [r["EmployeeNumber"] for r in ref["rows"]] == [TARGET]
    text = privacy.to_json(data)
    assert json.loads(text)["employee_number"] == TARGET
    assert str(OTHER) not in text and "alice" not in text
    [event] = list_audit(get_engine(db_url), action="employee.export")
    assert event["actor"] == "dpo" and event["subject"] == f"employee:{TARGET}"
    assert event["detail"]["outcome"] == "exported" and event["detail"]["rows"]["predictions"] == 2


def test_forget_removes_everything_about_the_employee_only(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=db_url)
    engine = get_engine(db_url)
    made = _employee_fixture(settings)
    privacy.export_employee(settings, TARGET, "dpo")  # an audit event naming them, to pseudonymise
    other_before = _table_counts(engine, OTHER)
    totals = {t: _count(engine, t) for t in (employees, Prediction, latest_scores, Outcome, AuditEvent)}
    version = data_versions.read(engine)

    outcome = privacy.forget_employee(settings, TARGET, "dpo", reference="DSAR-17")
    assert outcome.exit_code == 0 and outcome.error is None
    assert outcome.rows == {
        "latest_scores": 2,
        "predictions": 2,
        "outcomes": 1,
        "employees": 2,
        "audit_log": 3,
    }
    assert outcome.files == {"score_jobs": 2, "reference_data": 1, "mlflow_runs": 0}
    assert (_count(engine, employees), _count(engine, Prediction), _count(engine, latest_scores)) == (
        totals[employees] - 2,
        totals[Prediction] - 2,
        totals[latest_scores] - 2,
    )
    assert _count(engine, Outcome) == totals[Outcome] - 1
    assert _count(engine, AuditEvent) == totals[AuditEvent] + 1  # pseudonymised, not deleted; plus the forget
    assert data_versions.read(engine) > version
    assert _table_counts(engine, OTHER) == other_before

    audit = list_audit(engine, limit=1000)
    assert str(TARGET) not in json.dumps(audit, default=str)  # no trace of the number left
    forget = next(e for e in audit if e["action"] == "employee.forget")
    assert forget["actor"] == "dpo" and forget["subject"] == "forget:DSAR-17"
    assert forget["detail"]["outcome"] == "forgotten" and forget["detail"]["rows"]["predictions"] == 2
    feedback = next(
        e
        for e in audit
        if e["action"] == "feedback"
        and e["subject"] != str(made["outcome_id"])
        and e["detail"]["prediction_id"] is None
    )
    assert feedback["actor"] == "api-user"  # the other employee's feedback event is untouched
    assert sum(e["subject"] == "forgotten:DSAR-17" for e in audit) == 2  # the feedback and the export events

    job = made["job"]
    assert pd.read_csv(job / "input.csv")["EmployeeNumber"].tolist() == [OTHER, OTHER + 1]
    assert pd.read_csv(job / "result.csv")["EmployeeNumber"].tolist() == [OTHER]
    assert pd.read_csv(job / "issues.csv")["line"].tolist() == [2]
    assert json.loads((job / "status.json").read_text())["issues"] == [{"line": 2}]
    assert stat.S_IMODE(os.stat(job / "input.csv").st_mode) == 0o600
    folder = Path(settings.reference_dir)
    assert pd.read_parquet(folder / "reference.parquet")["EmployeeNumber"].tolist() == [OTHER, 5]
    meta = json.loads((folder / "reference.json").read_text())
    assert meta["rows"] == 2 and meta["rows_by_split"] == {"train": 1, "holdout": 1}
    assert "| rows here | 2 (train: 1, holdout: 1) |" in (folder / "PROVENANCE.md").read_text()

    after = privacy.export_employee(settings, TARGET, "dpo")
    assert after.exit_code == 1 and after.data == {}
    assert after.error is not None and f"nothing is stored about employee {TARGET}" in after.error
    assert all(n == 0 for n in _table_counts(engine, TARGET).values())
    assert list_audit(engine, action="employee.export", limit=1)[0]["subject"] == "employee:unknown"
    again = privacy.forget_employee(settings, TARGET, "dpo")
    assert again.exit_code == 1 and again.rows == {}


def test_forget_waits_for_a_running_score_job(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url)
    made = _employee_fixture(settings)
    status = json.loads((made["job"] / "status.json").read_text())
    (made["job"] / "status.json").write_text(json.dumps({**status, "status": "running"}))
    outcome = privacy.forget_employee(settings, TARGET, "dpo", reference="R1")
    assert outcome.exit_code == 1 and outcome.error is not None and JOB_ID in outcome.error
    engine = get_engine(sqlite_url)
    assert _table_counts(engine, TARGET)["employees"] == 2  # nothing deleted
    assert str(TARGET) in (made["job"] / "input.csv").read_text()
    [event] = list_audit(engine, action="employee.forget")
    assert event["detail"] == {"outcome": "refused", "reference": "R1"}


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def cli_settings(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {
        "ATTRITION_DATABASE_URL": sqlite_url,
        "ATTRITION_DATA_DIR": str(tmp_path / "var"),
        "ATTRITION_REPORTS_DIR": str(tmp_path / "reports"),
        "ATTRITION_REFERENCE_DIR": str(tmp_path / "reference_data"),
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    yield get_settings()
    reset_settings()


def test_cli_export_and_forget(cli_settings: Settings, tmp_path: Path) -> None:
    _employee_fixture(cli_settings)
    runner = CliRunner()
    unknown = runner.invoke(app, ["export-employee", "42"])
    assert unknown.exit_code == 1 and "nothing is stored about employee 42" in unknown.output

    out = tmp_path / "export.json"
    done = runner.invoke(app, ["export-employee", str(TARGET), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (
        stat.S_IMODE(out.stat().st_mode) == 0o600 and json.loads(out.read_text())["employee_number"] == TARGET
    )
    exists = runner.invoke(app, ["export-employee", str(TARGET), "--out", str(out)])
    assert exists.exit_code == 1 and "cannot create" in exists.output
    printed = runner.invoke(app, ["export-employee", str(TARGET)])
    assert (
        printed.exit_code == 0
        and json.loads(printed.stdout)["tables"]["employees"][0]["EmployeeNumber"] == TARGET
    )

    declined = runner.invoke(app, ["forget-employee", str(TARGET)], input="n\n")
    assert declined.exit_code == 1 and "nothing deleted" in declined.output
    assert _table_counts(get_engine(cli_settings.db_url), TARGET)["employees"] == 2
    forgot = runner.invoke(app, ["forget-employee", str(TARGET), "--yes", "--reference", "T-9"])
    assert forgot.exit_code == 0, forgot.output
    assert "audit reference T-9" in forgot.output and "employees" in forgot.output
    assert runner.invoke(app, ["forget-employee", str(TARGET), "--yes"]).exit_code == 1
    assert runner.invoke(app, ["export-employee", "0"]).exit_code == 2  # not an EmployeeNumber


def test_cli_purge(cli_settings: Settings) -> None:
    engine = get_engine(cli_settings.db_url)
    insert_predictions(engine, [_prediction(1, utcnow() - dt.timedelta(days=400), None)])
    runner = CliRunner()
    bad = runner.invoke(app, ["purge", "--older-than", "a year"])
    assert bad.exit_code == 2 and "expected a number of days such as 30d" in bad.output
    dry = runner.invoke(app, ["purge", "--older-than", "365d", "--dry-run"])
    assert dry.exit_code == 0 and "would remove" in dry.output and _count(engine, Prediction) == 1
    done = runner.invoke(app, ["purge"])
    assert done.exit_code == 0 and "removed what was stored before" in done.output
    assert "predictions             1" in done.output and _count(engine, Prediction) == 0


def test_a_purge_stopped_by_the_database_reports_what_it_removed(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url)
    engine = get_engine(sqlite_url)
    insert_predictions(engine, [_prediction(n, utcnow() - dt.timedelta(days=400), None) for n in (1, 2, 3)])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE drift_runs"))  # the last table the purge reaches
    outcome = privacy.purge(settings, privacy.PurgeRequest(365, batch_size=2))
    assert outcome.exit_code == 1 and outcome.error is not None and "purge stopped" in outcome.error
    assert outcome.counts.predictions == 3 and _count(engine, Prediction) == 0  # committed chunks stay
    [event] = list_audit(engine, action="retention.purge")
    assert event["detail"]["outcome"] == "failed" and event["detail"]["removed"]["predictions"] == 3
