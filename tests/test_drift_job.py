"""The drift job (``run_drift_check`` / ``attrition drift run``) end to end with a real champion, DB and MLflow."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv
from mlflow import MlflowClient
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import MONITORING_EXPERIMENT, Settings
from attrition.data.generator import generate_workforce
from attrition.db.drift_runs import get_drift_run, list_drift_runs
from attrition.db.engine import get_engine
from attrition.db.repositories import insert_employees, insert_outcome, insert_predictions, list_audit
from attrition.drift.windows import Window
from attrition.jobs.drift import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_INSUFFICIENT,
    EXIT_OK,
    RETRAIN_ACTOR,
    DriftRequest,
    parse_days,
    retrain_request,
    run_drift_check,
)
from attrition.registry.aliases import ACTION_CHALLENGER, ACTION_PROMOTE, ACTION_REFUSED
from attrition.registry.store import version_summary
from attrition.serving.loader import Predictor

ROWS = 800


@pytest.fixture
def env(champion_env: ModelEnv, model_env: ModelEnv) -> ModelEnv:
    """A private champion with the reference data its promotion wrote."""
    shutil.copytree(model_env.settings.reference_dir, champion_env.settings.reference_dir)
    champion_env.settings.monitoring.domain_classifier = False  # its own tests cover it; keeps these fast
    return champion_env


def _csv(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_drifted_csv_writes_every_output_consistently(env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current, fail_on="moderate"))

    assert outcome.status == "ok" and outcome.error is None
    assert outcome.severity in ("moderate", "severe", "critical")
    assert outcome.exit_code == EXIT_DRIFT
    assert outcome.result is not None and "OverTime" in outcome.result.drifted_features
    # The champion scored the window: prediction drift, both performance views, fairness.
    assert outcome.result.prediction is not None and outcome.result.fairness is not None
    assert outcome.result.performance is not None  # the generated CSV carries outcomes
    assert outcome.result.estimated_performance is not None

    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and row["status"] == "ok" and row["severity"] == outcome.severity
    assert row["current_rows"] == ROWS and row["reference_rows"] == outcome.result.reference_rows
    assert row["model_version"] == env.version and row["finished_at"] is not None
    assert row["results"]["drifted_features"] == outcome.result.drifted_features

    report = json.loads(Path(outcome.reports["json"]).read_text())
    assert report["run_id"] == outcome.run_id and report["severity"] == outcome.severity
    assert report["exit_code"] == EXIT_DRIFT and row["report_path"] == outcome.reports["json"]
    markdown = Path(outcome.reports["markdown"]).read_text()
    assert markdown == outcome.markdown and "OverTime" in markdown and outcome.run_id in markdown
    html = Path(outcome.reports["html"]).read_text()
    assert "OverTime" in html and outcome.severity.upper() in html
    latest = Path(env.settings.reports_dir) / "drift_latest.md"
    assert latest.read_text() == markdown

    client = MlflowClient(tracking_uri=env.settings.tracking_uri)
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id], f"tags.drift_run_id = '{outcome.run_id}'")
    assert run.data.metrics["drifted_features"] == len(outcome.result.drifted_features)
    assert run.data.metrics["psi.OverTime"] == pytest.approx(outcome.result.by_column["OverTime"].psi)
    assert run.data.tags["severity"] == outcome.severity
    assert [a["sink"] for a in outcome.alerts] == ["log"] and outcome.alerts[0]["sent"]


def test_same_population_needs_no_action(env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "same.csv", generate_workforce(ROWS, seed=6))
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current, html=False))
    assert outcome.status == "ok" and outcome.severity == "none", outcome.markdown
    assert outcome.exit_code == EXIT_OK and outcome.alerts == []
    assert "html" not in outcome.reports


def test_fail_on_decides_the_exit_status(env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current, fail_on="critical", html=False))
    assert outcome.severity != "critical" and outcome.exit_code == EXIT_OK


def test_too_few_rows_is_insufficient_data_not_a_verdict(env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "small.csv", generate_workforce(50, seed=7, drift="overtime_surge"))
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current))
    assert outcome.status == "insufficient_data" and outcome.severity is None
    assert outcome.exit_code == EXIT_INSUFFICIENT and "INSUFFICIENT DATA" in outcome.markdown
    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and row["status"] == "insufficient_data" and row["severity"] is None


def test_an_error_is_recorded_as_an_error_never_as_no_drift(env: ModelEnv, tmp_path: Path) -> None:
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=tmp_path / "missing.csv"))
    assert outcome.status == "error" and outcome.exit_code == EXIT_ERROR and outcome.severity is None
    assert "missing.csv" in (outcome.error or "") and "ERROR" in outcome.markdown
    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and row["status"] == "error" and "missing.csv" in row["error"]
    report = json.loads(Path(outcome.reports["json"]).read_text())
    assert report["status"] == "error" and report["severity"] is None


def test_no_reference_data_is_an_error_that_says_what_to_do(champion_env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "same.csv", generate_workforce(ROWS, seed=6))
    outcome = run_drift_check(champion_env.settings, DriftRequest(current_csv=current))
    assert outcome.exit_code == EXIT_ERROR
    assert "attrition train --promote" in (outcome.error or "") and "--reference-csv" in (outcome.error or "")


def test_rows_breaking_the_contract_count_in_quality_and_are_not_scored(
    env: ModelEnv, tmp_path: Path
) -> None:
    frame = generate_workforce(ROWS, seed=8).astype({"Age": object, "Department": object})
    frame.loc[:9, "Age"] = "unknown"
    frame.loc[10:19, "Department"] = "Legal"  # a new category
    frame = frame.assign(Badge="x")  # an extra column
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=_csv(tmp_path, "bad.csv", frame)))
    assert outcome.status == "ok", outcome.error
    result = outcome.result
    assert result is not None and result.schema is not None
    assert result.schema.missing_in_current == [] and result.schema.extra_in_current == ["Badge"]
    assert result.by_column["Department"].new_values == ["Legal"]
    assert result.by_column["Age"].current_out_of_contract_rate == pytest.approx(10 / ROWS)
    assert any("20 of 800 rows break the record contract" in note for note in outcome.notes)


def test_a_missing_contract_column_means_the_check_cannot_be_done(env: ModelEnv, tmp_path: Path) -> None:
    frame = generate_workforce(ROWS, seed=8).drop(columns="DailyRate")
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=_csv(tmp_path, "bad.csv", frame)))
    assert outcome.status == "error" and outcome.exit_code == EXIT_ERROR and outcome.alerts == []
    assert "lacks 1 contract feature column(s): DailyRate" in (outcome.error or "")


def test_unscorable_rows_are_left_out_of_the_model_side_checks(env: ModelEnv, tmp_path: Path) -> None:
    frame = generate_workforce(ROWS, seed=9).astype({"Age": object})
    frame.loc[:19, "Age"] = "unknown"
    outcome = run_drift_check(
        env.settings, DriftRequest(current_csv=_csv(tmp_path, "some.csv", frame), html=False)
    )
    assert outcome.result is not None and outcome.result.prediction is not None
    assert outcome.result.estimated_performance is not None
    assert outcome.result.estimated_performance.rows == ROWS - 20
    assert any("20 of 800 rows" in note for note in outcome.notes)


def test_latest_snapshot_with_feedback_outcomes(env: ModelEnv) -> None:
    engine = get_engine(env.settings.db_url)
    snapshot = dt.date(2026, 11, 30)
    current = generate_workforce(ROWS, seed=10, snapshot_date=snapshot).assign(Attrition=None)
    insert_employees(engine, current, "test")
    # Feedback for 300 of them, after the snapshot: realised performance on those rows.
    truth = generate_workforce(ROWS, seed=10)["Attrition"].eq("Yes").to_numpy()
    for number, left in zip(current["EmployeeNumber"][:300], truth[:300], strict=True):
        insert_outcome(engine, int(number), bool(left), dt.date(2027, 2, 1))
    outcome = run_drift_check(env.settings, DriftRequest(html=False))
    assert outcome.status == "ok", outcome.error
    row = get_drift_run(engine, outcome.run_id)
    assert row is not None and row["current_description"] == f"employees@{snapshot}"
    assert outcome.result is not None and outcome.result.performance is not None
    assert outcome.result.performance.rows == 300


def test_logged_predictions_window(env: ModelEnv) -> None:
    engine = get_engine(env.settings.db_url)
    records = generate_workforce(ROWS, seed=12, drift="overtime_surge")
    scored = Predictor.load(env.settings).predict_frame(records)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "prediction_id": f"p{i}",
            "created_at": now - dt.timedelta(days=1),
            "employee_number": int(record["EmployeeNumber"]),
            "model_name": env.settings.model_name,
            "model_version": env.version,
            "probability": float(scored["probability"][i]),
            "threshold": 0.5,
            "label": bool(scored["label"][i]),
            "risk_band": str(scored["risk_band"][i]),
            "inputs": {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()},
            "source": "api",
        }
        for i, record in enumerate(records.to_dict("records"))
    ]
    insert_predictions(engine, rows)
    outcome = run_drift_check(env.settings, DriftRequest(window_days=7, html=False))
    assert outcome.status == "ok", outcome.error
    assert outcome.result is not None and "OverTime" in outcome.result.drifted_features
    assert outcome.result.prediction is not None
    np.testing.assert_allclose(outcome.result.prediction.current_mean, scored["probability"].mean())
    runs, total = list_drift_runs(engine)
    assert total == 1 and runs[0]["current_description"] == "predictions, last 7 days"


def test_reference_csv_for_ad_hoc_comparisons(env: ModelEnv, tmp_path: Path) -> None:
    reference = _csv(tmp_path, "ref.csv", generate_workforce(ROWS, seed=13))
    current = _csv(tmp_path, "cur.csv", generate_workforce(ROWS, seed=14, drift="pay_freeze"))
    outcome = run_drift_check(
        env.settings, DriftRequest(current_csv=current, reference_csv=reference, html=False)
    )
    assert outcome.result is not None and "PercentSalaryHike" in outcome.result.drifted_features
    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and row["reference_description"] == "csv:ref.csv"


@pytest.mark.slow
def test_retrain_on_critical_trains_and_records_the_promotion_decision(env: ModelEnv, tmp_path: Path) -> None:
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    outcome = run_drift_check(
        env.settings, DriftRequest(current_csv=current, retrain_on="moderate", html=False)
    )
    assert outcome.retrain is not None and outcome.retrain["triggered"], outcome.retrain
    assert "error" not in outcome.retrain and outcome.retrain["version"] == "2"
    assert isinstance(outcome.retrain["promoted"], bool) and outcome.retrain["reasons"]
    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and row["retrain"]["version"] == "2"
    below = run_drift_check(
        env.settings, DriftRequest(current_csv=current, retrain_on="critical", html=False)
    )
    assert below.retrain is None


def test_cli_drift_run_and_set_reference(
    env: ModelEnv, cli_env: Callable[[Settings], None], tmp_path: Path
) -> None:
    cli_env(env.settings)
    runner = CliRunner()
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    result = runner.invoke(
        app, ["drift", "run", "--current-csv", str(current), "--fail-on", "moderate", "--no-html"]
    )
    assert result.exit_code == EXIT_DRIFT, result.output
    assert "## Attrition drift check:" in result.stdout and "OverTime" in result.stdout
    assert runner.invoke(app, ["drift", "run", "--window", "thirty"]).exit_code == 2
    both = runner.invoke(app, ["drift", "run", "--window", "7d", "--current-csv", str(current)])
    assert both.exit_code == 2 and "one of" in both.output
    bad = runner.invoke(app, ["drift", "run", "--fail-on", "huge"])
    assert bad.exit_code == 2 and "moderate" in bad.output

    shutil.rmtree(env.settings.reference_dir)
    refreshed = runner.invoke(app, ["drift", "set-reference"])
    assert refreshed.exit_code == 0, refreshed.output
    assert (Path(env.settings.reference_dir) / "reference.parquet").is_file()


def test_unwritable_reports_are_an_error_not_a_lost_verdict(env: ModelEnv, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = env.settings.model_copy(update={"reports_dir": blocker})
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    outcome = run_drift_check(settings, DriftRequest(current_csv=current, html=False))
    assert outcome.status == "error" and outcome.exit_code == EXIT_ERROR
    assert "verdict (moderate)" in (outcome.error or "")
    row = get_drift_run(get_engine(settings.db_url), outcome.run_id)
    assert row is not None and row["status"] == "error" and "reports could not be written" in row["error"]


@pytest.mark.slow
def test_retraining_after_drift_is_the_train_job_and_keeps_the_snapshot_provenance(env: ModelEnv) -> None:
    engine = get_engine(env.settings.db_url)
    snapshot = dt.date(2026, 11, 30)
    insert_employees(
        engine, generate_workforce(ROWS, seed=5, snapshot_date=snapshot, drift="overtime_surge"), "t"
    )
    outcome = run_drift_check(env.settings, DriftRequest(retrain_on="moderate", html=False))
    assert outcome.status == "ok" and outcome.severity in ("moderate", "severe", "critical"), outcome.error
    retrain = outcome.retrain
    assert retrain is not None and "error" not in retrain, retrain
    # Trained on the labelled current snapshot, and the registry knows which snapshot it was.
    assert retrain["source"] == f"employees@{snapshot}" and retrain["snapshot_dates"] == [str(snapshot)]
    data = version_summary(env.settings, retrain["version"])["data"]
    assert data["source"] == f"employees@{snapshot}" and data["snapshot_dates"] == [str(snapshot)]
    assert data["rows_total"] == ROWS
    # Registered as challenger, then put to the promotion gate, both by the drift monitor.
    actions = {e["action"] for e in list_audit(engine) if e["actor"] == RETRAIN_ACTOR}
    assert ACTION_CHALLENGER in actions and bool(actions & {ACTION_PROMOTE, ACTION_REFUSED})
    assert retrain["promoted"] == (ACTION_PROMOTE in actions)
    row = get_drift_run(engine, outcome.run_id)
    assert row is not None and row["retrain"]["snapshot_dates"] == [str(snapshot)]


def test_retraining_runs_the_preflight_before_training(env: ModelEnv, tmp_path: Path) -> None:
    with get_engine(env.settings.db_url).begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_log"))
    current = _csv(tmp_path, "surge.csv", generate_workforce(ROWS, seed=5, drift="overtime_surge"))
    outcome = run_drift_check(env.settings, DriftRequest(current_csv=current, retrain_on="none", html=False))
    assert outcome.status == "ok" and outcome.exit_code == EXIT_OK  # the verdict stands
    retrain = outcome.retrain
    assert retrain is not None and retrain["triggered"] and "audit_log" in retrain["error"]
    assert retrain["source"] == "csv:surge.csv" and "roc_auc" not in retrain and "version" not in retrain
    row = get_drift_run(get_engine(env.settings.db_url), outcome.run_id)
    assert row is not None and "audit_log" in row["retrain"]["error"]


def test_the_retraining_records_come_from_the_current_window_when_it_has_every_outcome() -> None:
    frame = generate_workforce(ROWS, seed=3).drop(columns="Attrition")
    left = np.arange(ROWS) % 5 == 0
    labelled = retrain_request(
        Window(frame, "employees@2026-11-30", labels=left.astype(float), snapshot=dt.date(2026, 11, 30))
    )
    assert labelled.promote and labelled.actor == RETRAIN_ACTOR and labelled.source == "employees@2026-11-30"
    assert labelled.records is not None
    assert (labelled.records["Attrition"] == "Yes").tolist() == left.tolist()  # outcomes become the label
    assert set(labelled.records["snapshot_date"]) == {dt.date(2026, 11, 30)}
    partly = np.where(left, 1.0, np.nan)
    fallback = retrain_request(Window(frame, "employees@2026-11-30", labels=partly))
    assert fallback.records is None and fallback.snapshot_date is None  # the latest stored snapshot


@pytest.mark.parametrize(("text", "days"), [("30", 30), ("30d", 30), (" 7D ", 7), ("1", 1)])
def test_day_windows_read_the_same_for_the_cli_and_the_service(text: str, days: int) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["0", "0d", "thirty", "-3", "3.5d", "", "d"])
def test_a_bad_day_window_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=f"expected a number of days such as 30d, got {text!r}"):
        parse_days(text)
