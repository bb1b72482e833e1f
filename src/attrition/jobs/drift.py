"""One drift check end to end: windows -> analysis -> records, reports, metrics, alerts, retraining.

What a run leaves behind, whatever its outcome:

* a ``drift_runs`` row, inserted as "running" before any work (a crash leaves a
  trace) and completed with status, severity, results, report path, retraining;
* its reports and MLflow metrics (``attrition.drift.reports``);
* alerts, at or above ``monitoring.alert_on``;
* with ``retrain_on``, at or above it: a model trained, registered and put to the
  promotion gate by the job of ``attrition train --promote`` (``jobs.train``).

Exit status (the CLI's and the drift service's): ``EXIT_OK`` no action needed,
``EXIT_DRIFT`` severity at or above ``fail_on``, ``EXIT_ERROR`` the check could not
be done, ``EXIT_INSUFFICIENT`` too few rows for a verdict. An error is never
reported as "no drift": it has its own status, exit code and Markdown.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from attrition.config import RiskBands, Settings, at_least
from attrition.db.drift_runs import close_interrupted, insert_drift_run, this_runner, update_drift_run
from attrition.db.engine import get_engine
from attrition.db.models import utcnow
from attrition.drift.alerts import Alert, alert_sinks, fire_alerts
from attrition.drift.analysis import run_drift_analysis
from attrition.drift.reports import error_markdown, log_metrics, verdict_markdown, write_reports
from attrition.drift.result import DriftResult, json_safe
from attrition.drift.windows import (
    DriftInputError,
    Reference,
    Window,
    load_current,
    load_predictor,
    load_reference,
)
from attrition.errors import short_error
from attrition.jobs.base import Outcome
from attrition.jobs.train import TrainOutcome, TrainRequest, train_and_register
from attrition.schema import ATTRITION_NO, ATTRITION_YES, SNAPSHOT_DATE, TARGET

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INSUFFICIENT = 0, 1, 2, 3
#: Who retrains after drift, in the registry's audit trail.
RETRAIN_ACTOR = "drift-monitor"


def parse_days(value: str) -> int:
    """``30d`` or ``30`` -> 30 (a window of days, as the CLI and the drift service take it)."""
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"expected a number of days such as 30d, got {value!r}")
    return int(text)


@dataclass
class DriftRequest:
    """What to compare and what to do about it (None: the settings' defaults)."""

    current_snapshot: dt.date | None = None
    current_csv: Path | None = None
    window_days: int | None = None
    reference_csv: Path | None = None
    fail_on: str | None = None
    retrain_on: str | None = None
    html: bool = True


@dataclass(kw_only=True)
class DriftRunOutcome(Outcome):
    """What one run found and where it wrote it (``status``: ok | insufficient_data | error)."""

    run_id: str
    status: str
    severity: str | None
    markdown: str
    result: DriftResult | None = None
    reports: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    retrain: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def run_drift_check(settings: Settings, request: DriftRequest | None = None) -> DriftRunOutcome:
    """Run one drift check and record it everywhere; never raises for a failed check."""
    request = request or DriftRequest()
    run_id = uuid.uuid4().hex
    engine = get_engine(settings.db_url)
    try:
        _record_start(engine, run_id, request)
    except sa.exc.SQLAlchemyError as exc:
        error = f"cannot record the run in the app database: {short_error(exc)}"
        return _failed(settings, run_id, error, None)
    try:
        reference, current, result, notes = _analyse(settings, engine, request)
    except DriftInputError as exc:  # a window that cannot be compared (wrong header, no data): no traceback
        logger.error("drift run %s cannot be done: %s", run_id, exc)
        return _failed(settings, run_id, short_error(exc), engine)
    except Exception as exc:  # any failure is this run's error, recorded as such, never "no drift"
        logger.exception("drift run %s failed", run_id)
        return _failed(settings, run_id, short_error(exc), engine)
    outcome = DriftRunOutcome(
        run_id=run_id,
        status=result.status,
        severity=result.severity,
        exit_code=_exit_code(result, request.fail_on or settings.monitoring.fail_on),
        markdown=verdict_markdown(result, notes, run_id),
        result=result,
        notes=notes,
    )
    html = (reference, current, result) if request.html else None
    try:
        outcome.reports, unwritten = write_reports(settings, run_id, _report(outcome), outcome.markdown, html)
    except OSError as exc:
        error = f"the verdict ({result.severity}) was reached but its reports could not be written: {short_error(exc)}"
        return _failed(settings, run_id, error, engine)
    outcome.notes += unwritten
    outcome.notes += log_metrics(settings, run_id, result, (reference, current), outcome.reports)
    outcome.alerts = _alert(settings, outcome)
    if request.retrain_on and result.severity and at_least(result.severity, request.retrain_on):
        outcome.retrain = retrain(settings, current)
    _record_finish(engine, outcome, reference, current)
    return outcome


# --- analysis --------------------------------------------------------------------------------


def _analyse(
    settings: Settings, engine: sa.Engine, request: DriftRequest
) -> tuple[Reference, Window, DriftResult, list[str]]:
    """Both windows, scored by the champion, and the verdict on them."""
    predictor, why_not = load_predictor(settings)
    reference = load_reference(settings, request.reference_csv, predictor)
    current = load_current(
        settings,
        engine,
        predictor,
        snapshot=request.current_snapshot,
        csv=request.current_csv,
        window_days=request.window_days,
    )
    notes = [*reference.notes, *current.notes]
    if why_not:
        notes.append(f"no champion to score with, features compared only: {why_not}")
    meta = reference.meta
    model = predictor.model if predictor is not None else None
    bands = model.risk_bands if model is not None else None
    if bands is None and meta.get("risk_bands"):
        bands = RiskBands(**meta["risk_bands"])
    if current.probabilities is None:  # nothing to compare the reference's scores with
        reference = replace(reference, probabilities=None)
    result = run_drift_analysis(
        reference,
        current,
        settings,
        threshold=meta.get("threshold", model.threshold if model is not None else None),
        bands=bands,
        reference_metrics=meta.get("metrics") or None,
        importance=meta.get("global_importance") or None,
    )
    return reference, current, result, notes


def _exit_code(result: DriftResult, fail_on: str) -> int:
    if result.severity is None:
        return EXIT_INSUFFICIENT
    return EXIT_DRIFT if at_least(result.severity, fail_on) else EXIT_OK


def _failed(settings: Settings, run_id: str, error: str, engine: sa.Engine | None) -> DriftRunOutcome:
    """The outcome of a check that could not be done: recorded, reported, exit EXIT_ERROR."""
    outcome = DriftRunOutcome(
        run_id=run_id,
        status="error",
        severity=None,
        exit_code=EXIT_ERROR,
        markdown=error_markdown(run_id, error),
        error=error,
    )
    try:
        outcome.reports, _ = write_reports(settings, run_id, _report(outcome), outcome.markdown, None)
    except OSError as exc:
        outcome.notes.append(f"reports not written: {exc}")
    if engine is not None:
        try:
            update_drift_run(
                engine, run_id, {"status": "error", "finished_at": utcnow(), "error": error, "results": None}
            )
        except sa.exc.SQLAlchemyError as exc:
            outcome.notes.append(f"drift_runs row not completed: {short_error(exc)}")
    return outcome


def _report(outcome: DriftRunOutcome) -> dict[str, Any]:
    """The JSON report's content: the run, and the verdict or the error."""
    head = {"run_id": outcome.run_id, "exit_code": outcome.exit_code, "notes": outcome.notes}
    if outcome.result is None:
        return head | {"status": outcome.status, "severity": None, "error": outcome.error}
    return head | outcome.result.to_dict()


# --- the drift_runs row ----------------------------------------------------------------------


def _record_start(engine: sa.Engine, run_id: str, request: DriftRequest) -> None:
    for dead in close_interrupted(engine):
        logger.warning("drift run %s was interrupted before it finished: recorded as an error", dead)
    insert_drift_run(
        engine,
        {
            "run_id": run_id,
            "started_at": utcnow(),
            "status": "running",
            "runner": this_runner(),
            "reference_description": str(request.reference_csv or "reference_data"),
            "current_description": _requested_current(request),
            "reference_rows": 0,
            "current_rows": 0,
        },
    )


def _requested_current(request: DriftRequest) -> str:
    if request.current_csv is not None:
        return f"csv:{request.current_csv.name}"
    if request.window_days is not None:
        return f"predictions, last {request.window_days} days"
    return f"employees@{request.current_snapshot or 'latest'}"


def _record_finish(
    engine: sa.Engine, outcome: DriftRunOutcome, reference: Reference, current: Window
) -> None:
    result = outcome.result
    assert result is not None
    results = result.to_dict() | {
        "notes": outcome.notes,
        "alerts": outcome.alerts,
        "reports": outcome.reports,
    }
    values = {
        "finished_at": utcnow(),
        "status": outcome.status,
        "severity": outcome.severity,
        "reference_description": reference.description,
        "current_description": current.description,
        "reference_rows": result.reference_rows,
        "current_rows": result.current_rows,
        "model_version": _model_version(reference, current),
        "results": json_safe(results),
        "report_path": outcome.reports.get("json"),
        "retrain": json_safe(outcome.retrain),
    }
    try:
        update_drift_run(engine, outcome.run_id, values)
    except sa.exc.SQLAlchemyError as exc:
        logger.error("drift run %s: could not record the result: %s", outcome.run_id, short_error(exc))
        outcome.notes.append(f"drift_runs row not completed: {short_error(exc)}")


def _model_version(reference: Reference, current: Window) -> str | None:
    version = reference.meta.get("model_version")
    if version is None and "model_version" in current.frame.columns and len(current.frame):
        version = current.frame["model_version"].iloc[-1]
    return None if version is None else str(version)


# --- alerts, retraining ----------------------------------------------------------------------


def _alert(settings: Settings, outcome: DriftRunOutcome) -> list[dict[str, Any]]:
    result = outcome.result
    if result is None or result.severity is None:
        return []
    alert = replace(Alert.from_result(outcome.run_id, result, outcome.reports), markdown=outcome.markdown)
    m = settings.monitoring
    return fire_alerts(alert, alert_sinks(m), m.alert_on)


def retrain(settings: Settings, current: Window) -> dict[str, Any]:
    """``attrition train --promote`` after drift (the same job); what it did, as the run records it.

    Training records: the current window when it carries an outcome for every row (with
    its snapshot date when it is a snapshot), else the latest employees snapshot.
    """
    record: dict[str, Any] = {"triggered": True, "started_at": utcnow().isoformat()}
    try:
        outcome = train_and_register(settings, retrain_request(current))
    except Exception as exc:  # recorded with the drift run; the drift verdict still stands
        logger.exception("retraining after drift failed")
        return record | {"error": short_error(exc)}
    return record | _retrain_record(outcome)


def retrain_request(current: Window) -> TrainRequest:
    """Train on the labelled current window, else on the latest snapshot; promote through the gates."""
    request = TrainRequest(promote=True, actor=RETRAIN_ACTOR, reason="drift retraining trigger")
    labels = current.labels
    if labels is None or np.isnan(labels).any():
        return request
    records = current.frame.assign(**{TARGET: np.where(labels == 1, ATTRITION_YES, ATTRITION_NO)})
    if current.snapshot is not None and SNAPSHOT_DATE not in records.columns:
        records[SNAPSHOT_DATE] = current.snapshot
    return replace(request, records=records, source=current.description)


def _retrain_record(outcome: TrainOutcome) -> dict[str, Any]:
    record: dict[str, Any] = {"source": outcome.source}
    if outcome.result is not None:
        record["roc_auc"] = outcome.result.metrics.get("roc_auc")
        record["snapshot_dates"] = list(outcome.result.snapshot_dates)
    if outcome.version is not None:
        record["version"] = outcome.version
    decision = outcome.promotion.decision if outcome.promotion is not None else None
    if decision is not None:
        record["promoted"], record["reasons"] = decision.promoted, list(decision.reasons)
    if outcome.error:
        record["error"] = outcome.error
        logger.error("retraining after drift failed: %s", outcome.error)
    else:
        logger.info(
            "retraining after drift: version %s, promoted %s", outcome.version, record.get("promoted")
        )
    return record
