"""One drift check end to end: windows -> analysis -> records, reports, alerts, retraining.

What a run leaves behind, whatever its outcome:

* a ``drift_runs`` row, inserted as "running" before any work (a crash leaves a
  trace) and completed with status, severity, results, report path, retraining;
* ``reports/drift_<timestamp>_<run>.{json,md,html}`` and ``drift_latest.{json,md}``
  (the Markdown is what the scheduled workflow puts in its issue);
* metrics in the MLflow monitoring experiment;
* alerts, at or above ``monitoring.alert_on``.

Exit status (the CLI's and the drift service's): ``EXIT_OK`` no action needed,
``EXIT_DRIFT`` severity at or above ``fail_on``, ``EXIT_ERROR`` the check could not
be done, ``EXIT_INSUFFICIENT`` too few rows for a verdict. An error is never
reported as "no drift": it has its own status, exit code and Markdown.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from attrition.config import MONITORING_EXPERIMENT, SEVERITIES, RiskBands, Settings
from attrition.db.engine import get_engine
from attrition.db.models import utcnow
from attrition.db.repositories import insert_drift_run, load_employees, update_drift_run
from attrition.drift.alerts import Alert, alert_sinks, fire_alerts
from attrition.drift.analysis import run_drift_analysis
from attrition.drift.result import DriftResult, json_safe
from attrition.drift.severity import at_least
from attrition.drift.windows import Reference, Window, load_current, load_predictor, load_reference

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INSUFFICIENT = 0, 1, 2, 3


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


@dataclass
class DriftRunOutcome:
    """What one run found and where it wrote it."""

    run_id: str
    status: str  # ok | insufficient_data | error
    severity: str | None
    exit_code: int
    markdown: str
    result: DriftResult | None = None
    reports: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    retrain: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def run_drift_check(settings: Settings, request: DriftRequest | None = None) -> DriftRunOutcome:
    """Run one drift check and record it everywhere; never raises for a failed check."""
    request = request or DriftRequest()
    m = settings.monitoring
    fail_on = request.fail_on or m.fail_on
    run_id = uuid.uuid4().hex
    engine = get_engine(settings.db_url)
    started = utcnow()
    try:
        _record_start(engine, run_id, started, request)
    except sa.exc.SQLAlchemyError as exc:
        return _failed(settings, run_id, f"cannot record the run in the app database: {_short(exc)}", None)
    try:
        reference, current, result, notes = _analyse(settings, engine, request)
    except Exception as exc:  # any failure is this run's error, recorded as such, never "no drift"
        logger.exception("drift run %s failed", run_id)
        return _failed(settings, run_id, _short(exc), engine)
    outcome = DriftRunOutcome(
        run_id,
        result.status,
        result.severity,
        _exit_code(result, fail_on),
        _markdown(result, notes, run_id),
        result,
        notes=notes,
    )
    try:
        outcome.reports = _write_reports(settings, outcome, reference, current, request.html)
    except OSError as exc:
        message = (
            f"the verdict ({result.severity}) was reached but its reports could not be written: {_short(exc)}"
        )
        return _failed(settings, run_id, message, engine)
    outcome.notes += _log_to_mlflow(settings, outcome, reference, current)
    outcome.alerts = _alert(settings, outcome)
    if request.retrain_on and result.severity and at_least(result.severity, request.retrain_on):
        outcome.retrain = retrain(settings, current)
    _record_finish(engine, outcome, reference, current)
    return outcome


# --- analysis --------------------------------------------------------------------------------


def _analyse(
    settings: Settings, engine: sa.Engine, request: DriftRequest
) -> tuple[Reference, Window, DriftResult, list[str]]:
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
    result = run_drift_analysis(
        reference.frame,
        current.frame,
        settings,
        reference_probabilities=reference.probabilities if current.probabilities is not None else None,
        current_probabilities=current.probabilities,
        threshold=meta.get("threshold", model.threshold if model is not None else None),
        bands=bands,
        current_labels=current.labels,
        reference_metrics=meta.get("metrics") or None,
        importance=meta.get("global_importance") or None,
    )
    return reference, current, result, notes


def _exit_code(result: DriftResult, fail_on: str) -> int:
    if result.severity is None:
        return EXIT_INSUFFICIENT
    return EXIT_DRIFT if at_least(result.severity, fail_on) else EXIT_OK


def _markdown(result: DriftResult, notes: list[str], run_id: str) -> str:
    text = result.to_markdown()
    if notes:
        text += "\n### Notes\n\n" + "".join(f"- {n}\n" for n in notes)
    return text + f"\n_Drift run `{run_id}`._\n"


def _failed(settings: Settings, run_id: str, error: str, engine: sa.Engine | None) -> DriftRunOutcome:
    """The outcome of a check that could not be done: recorded, reported, exit EXIT_ERROR."""
    markdown = f"## Attrition drift check: ERROR\n\nThe check could not be done: {error}\n\n_Drift run `{run_id}`._\n"
    outcome = DriftRunOutcome(run_id, "error", None, EXIT_ERROR, markdown, error=error)
    try:
        outcome.reports = _write_reports(settings, outcome, None, None, html=False)
    except OSError as exc:
        outcome.notes.append(f"reports not written: {exc}")
    if engine is not None:
        try:
            update_drift_run(
                engine, run_id, {"status": "error", "finished_at": utcnow(), "error": error, "results": None}
            )
        except sa.exc.SQLAlchemyError as exc:
            outcome.notes.append(f"drift_runs row not completed: {_short(exc)}")
    return outcome


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500] if text else ''}".rstrip(": ")


# --- records and reports ---------------------------------------------------------------------


def _record_start(engine: sa.Engine, run_id: str, started: dt.datetime, request: DriftRequest) -> None:
    insert_drift_run(
        engine,
        {
            "run_id": run_id,
            "started_at": started,
            "status": "running",
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
        logger.error("drift run %s: could not record the result: %s", outcome.run_id, _short(exc))
        outcome.notes.append(f"drift_runs row not completed: {_short(exc)}")


def _model_version(reference: Reference, current: Window) -> str | None:
    version = reference.meta.get("model_version")
    if version is None and "model_version" in current.frame.columns and len(current.frame):
        version = current.frame["model_version"].iloc[-1]
    return None if version is None else str(version)


def _write_reports(
    settings: Settings,
    outcome: DriftRunOutcome,
    reference: Window | None,
    current: Window | None,
    html: bool,
) -> dict[str, str]:
    """JSON, Markdown and (with a verdict) HTML reports, plus ``drift_latest.*`` copies."""
    folder = Path(settings.reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"drift_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}_{outcome.run_id[:8]}"
    body = _report_json(outcome)
    paths = {"json": stem.with_suffix(".json"), "markdown": stem.with_suffix(".md")}
    paths["json"].write_text(json.dumps(body, indent=2), encoding="utf-8")
    paths["markdown"].write_text(outcome.markdown, encoding="utf-8")
    if html and outcome.result is not None and reference is not None and current is not None:
        from attrition.drift.evidently_report import write_html_report

        try:
            paths["html"] = write_html_report(
                reference.frame, current.frame, outcome.result, stem.with_suffix(".html"), settings.monitoring
            )
        except Exception as exc:  # Evidently's rendering; the verdict and the other reports stand
            logger.error("drift run %s: HTML report not written: %s", outcome.run_id, _short(exc))
            outcome.notes.append(f"HTML report not written: {_short(exc)}")
    for kind in ("json", "markdown"):
        shutil.copyfile(paths[kind], folder / f"drift_latest{paths[kind].suffix}")
    return {kind: str(path) for kind, path in paths.items()}


def _report_json(outcome: DriftRunOutcome) -> dict[str, Any]:
    head = {"run_id": outcome.run_id, "exit_code": outcome.exit_code, "notes": outcome.notes}
    if outcome.result is None:
        return json_safe(head | {"status": outcome.status, "severity": None, "error": outcome.error})
    return json_safe(head | outcome.result.to_dict())


# --- MLflow, alerts, retraining --------------------------------------------------------------


def _log_to_mlflow(
    settings: Settings, outcome: DriftRunOutcome, reference: Window, current: Window
) -> list[str]:
    """Metrics of the run in the monitoring experiment; a failure is a note, not a lost verdict."""
    from attrition.registry.store import configure, experiment_id

    result = outcome.result
    assert result is not None
    try:
        client = configure(settings)
        experiment = experiment_id(client, settings, MONITORING_EXPERIMENT)
        run = client.create_run(
            experiment,
            run_name=f"drift-{outcome.run_id[:8]}",
            tags={"drift_run_id": outcome.run_id, "status": result.status, "severity": str(result.severity)},
        )
        for name, value in drift_metrics(result).items():
            client.log_metric(run.info.run_id, name, value)
        client.log_param(run.info.run_id, "reference", reference.description[:250])
        client.log_param(run.info.run_id, "current", current.description[:250])
        for path in outcome.reports.values():
            client.log_artifact(run.info.run_id, path)
        client.set_terminated(run.info.run_id)
    except Exception as exc:  # the verdict stands without MLflow; say so loudly
        logger.error("drift run %s: MLflow metrics not logged: %s", outcome.run_id, _short(exc))
        return [f"MLflow metrics not logged: {_short(exc)}"]
    return []


def drift_metrics(result: DriftResult) -> dict[str, float]:
    """The numbers a monitoring dashboard plots, one per name."""
    metrics: dict[str, float] = {
        "reference_rows": float(result.reference_rows),
        "current_rows": float(result.current_rows),
    }
    if result.severity is not None:
        metrics["severity_level"] = float(SEVERITIES.index(result.severity))
        metrics["drifted_features"] = float(len(result.drifted_features))
        metrics["drifted_share"] = float(result.drifted_share)
    for feature in result.features:
        if feature.tested and feature.psi is not None:
            metrics[f"psi.{feature.column}"] = float(feature.psi)
    if result.domain is not None:
        metrics["domain_classifier_auc"] = float(result.domain.roc_auc)
    if result.prediction is not None:
        metrics["prediction_psi"] = float(result.prediction.psi)
        metrics["prediction_mean"] = float(result.prediction.current_mean)
    for kind, perf in (("realised", result.performance), ("estimated", result.estimated_performance)):
        for name, estimate in (perf.metrics if perf else {}).items():
            metrics[f"{kind}.{name}"] = float(estimate.value)
    return {k: v for k, v in metrics.items() if v == v}  # NaN is not a metric


def _alert(settings: Settings, outcome: DriftRunOutcome) -> list[dict[str, Any]]:
    result = outcome.result
    if result is None or result.severity is None:
        return []
    alert = replace(Alert.from_result(outcome.run_id, result, outcome.reports), markdown=outcome.markdown)
    m = settings.monitoring
    return fire_alerts(alert, alert_sinks(m), m.alert_on)


def retrain(settings: Settings, current: Window) -> dict[str, Any]:
    """Train on the newest labelled data and let the promotion gate decide; the outcome as a dict.

    Training data: the current window when it carries outcomes for every row,
    else the latest employees snapshot.
    """
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register
    from attrition.schema import SNAPSHOT_DATE
    from attrition.training.pipeline import train_model

    started = utcnow()
    try:
        if current.labels is not None and not np.isnan(current.labels).any():
            frame, source = current.frame, current.description
        else:
            frame = load_employees(get_engine(settings.db_url))
            source = f"employees@{frame[SNAPSHOT_DATE].max()}" if len(frame) else "employees (empty)"
            frame = frame.drop(columns=SNAPSHOT_DATE)
        result = train_model(frame, settings.training)
        version = log_and_register(result, settings, actor="drift-monitor", source=source)
        decision = promote(settings, version, actor="drift-monitor", reason="drift retraining trigger")
    except Exception as exc:  # recorded with the drift run; the drift verdict still stands
        logger.exception("retraining after drift failed")
        return {"triggered": True, "started_at": started.isoformat(), "error": _short(exc)}
    logger.info("retraining after drift: version %s, promoted %s", version, decision.promoted)
    return {
        "triggered": True,
        "started_at": started.isoformat(),
        "source": source,
        "version": version,
        "roc_auc": result.metrics.get("roc_auc"),
        "promoted": decision.promoted,
        "reasons": list(decision.reasons),
    }
