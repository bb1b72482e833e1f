"""Where a drift run's verdict goes besides the database: report files and MLflow metrics.

Reports: ``reports/drift_<timestamp>_<run>.{json,md,html}`` and ``drift_latest.{json,md}``
(the Markdown is what the scheduled workflow puts in its issue). Metrics: one MLflow run
per check in the monitoring experiment. Neither failure loses the verdict: the caller
records it as a note or an error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrition.config import MONITORING_EXPERIMENT, SEVERITIES, Settings
from attrition.drift.result import DriftResult, json_safe
from attrition.drift.windows import Window
from attrition.errors import short_error
from attrition.registry.store import configure, experiment_id

logger = logging.getLogger(__name__)


def verdict_markdown(result: DriftResult, notes: list[str], run_id: str) -> str:
    """The verdict in Markdown, with the run's notes and id."""
    text = result.to_markdown()
    if notes:
        text += "\n### Notes\n\n" + "".join(f"- {n}\n" for n in notes)
    return text + f"\n_Drift run `{run_id}`._\n"


def error_markdown(run_id: str, error: str) -> str:
    """The Markdown of a check that could not be done (never "no drift")."""
    return f"## Attrition drift check: ERROR\n\nThe check could not be done: {error}\n\n_Drift run `{run_id}`._\n"


def write_reports(
    settings: Settings,
    run_id: str,
    body: Mapping[str, Any],
    markdown: str,
    html: tuple[Window, Window, DriftResult] | None,
) -> tuple[dict[str, str], list[str]]:
    """JSON, Markdown and (given the windows and verdict) HTML reports, plus ``drift_latest.*``.

    Returns the paths by kind and notes on what was not written (the HTML only; an
    OSError for the others is the caller's). On that OSError (a full disk) the run's partial
    files and the previous ``drift_latest.*`` are removed first: a stale "latest" would show an
    earlier verdict for a check that failed.
    """
    folder = Path(settings.reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"drift_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}_{run_id[:8]}"
    paths = {"json": stem.with_suffix(".json"), "markdown": stem.with_suffix(".md")}
    try:
        notes = _write_all(settings, run_id, paths, body, markdown, html)
    except OSError:  # a full or failing disk: leave no half report, no earlier run posing as the latest
        _discard([*paths.values(), stem.with_suffix(".html"), *_latest(folder)])
        raise
    return {kind: str(path) for kind, path in paths.items()}, notes


def _latest(folder: Path) -> list[Path]:
    return [folder / f"drift_latest{suffix}" for suffix in (".json", ".md")]


def _discard(paths: list[Path]) -> None:
    """Remove ``paths`` if they exist (unlinking needs no free space); a failure is logged."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.error("could not remove the partial report %s: %s", path.name, short_error(exc))


def _write_all(
    settings: Settings,
    run_id: str,
    paths: dict[str, Path],
    body: Mapping[str, Any],
    markdown: str,
    html: tuple[Window, Window, DriftResult] | None,
) -> list[str]:
    """Write the run's reports into ``paths`` (HTML added when given), then ``drift_latest.*``."""
    folder = paths["json"].parent
    paths["json"].write_text(json.dumps(json_safe(dict(body)), indent=2), encoding="utf-8")
    paths["markdown"].write_text(markdown, encoding="utf-8")
    notes: list[str] = []
    if html is not None:
        from attrition.drift.evidently_report import write_html_report  # Evidently: only when asked

        reference, current, result = html
        try:
            paths["html"] = write_html_report(
                reference.frame,
                current.frame,
                result,
                paths["json"].with_suffix(".html"),
                settings.monitoring,
            )
        except Exception as exc:  # Evidently's rendering; the verdict and the other reports stand
            logger.error("drift run %s: HTML report not written: %s", run_id, short_error(exc))
            notes.append(f"HTML report not written: {short_error(exc)}")
    for kind in ("json", "markdown"):
        shutil.copyfile(paths[kind], folder / f"drift_latest{paths[kind].suffix}")
    return notes


def log_metrics(
    settings: Settings,
    run_id: str,
    result: DriftResult,
    windows: tuple[Window, Window],
    reports: Mapping[str, str],
) -> list[str]:
    """The run's metrics, windows and reports in the monitoring experiment; a failure is a note."""
    reference, current = windows
    try:
        client = configure(settings)
        experiment = experiment_id(client, settings, MONITORING_EXPERIMENT)
        run = client.create_run(
            experiment,
            run_name=f"drift-{run_id[:8]}",
            tags={"drift_run_id": run_id, "status": result.status, "severity": str(result.severity)},
        )
        for name, value in drift_metrics(result).items():
            client.log_metric(run.info.run_id, name, value)
        client.log_param(run.info.run_id, "reference", reference.description[:250])
        client.log_param(run.info.run_id, "current", current.description[:250])
        for path in reports.values():
            client.log_artifact(run.info.run_id, path)
        client.set_terminated(run.info.run_id)
    except Exception as exc:  # the verdict stands without MLflow; say so loudly
        logger.error("drift run %s: MLflow metrics not logged: %s", run_id, short_error(exc))
        return [f"MLflow metrics not logged: {short_error(exc)}"]
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
