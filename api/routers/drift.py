"""``GET /v1/drift/...``: the drift job's runs (the ``drift_runs`` table), newest first."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from api.deps import Context, Viewer
from api.errors import ApiError
from api.routers._common import AUTH_ERRORS, database, errors
from api.schemas import DriftRunDetail, DriftRunPage, DriftRunStatus, DriftRunSummary, DriftSeverity
from attrition.db.drift_runs import get_drift_run, list_drift_runs

router = APIRouter(prefix="/v1/drift", tags=["drift"])

NO_RUN_YET = (
    "no drift run recorded yet: run `attrition drift run` or start the drift service `python -m monitoring`"
)
NO_HTML_REPORT = (
    "drift run {run_id!r} has no HTML report{why}: run `attrition drift run` without --no-html "
    "(GET /v1/drift/runs/{run_id} has its results as JSON)"
)
#: Evidently's page is self-contained: inline scripts and styles, data: images and fonts; nothing external.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'{origins}"
)
_REPORT_EXAMPLE = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Drift report</title></head>..."
_SCAN = 50  # rows per query while looking past runs still in progress


def _latest_finished(engine: sa.Engine) -> dict[str, Any] | None:
    """The newest run whose status is not "running" (a crashed job can leave several behind)."""
    offset = 0
    while True:
        rows, total = list_drift_runs(engine, limit=_SCAN, offset=offset)
        finished = next((row for row in rows if row["status"] != "running"), None)
        if finished is not None or offset + _SCAN >= total:
            return finished
        offset += _SCAN


@router.get(
    "/latest",
    response_model=DriftRunDetail,
    summary="The newest finished drift run",
    responses=errors(*AUTH_ERRORS, 404, 503),
)
def latest_drift_run(caller: Viewer, ctx: Context) -> DriftRunDetail:
    """The most recent run that is no longer in progress, with its full results (404 before the first)."""
    with database("read the drift runs"):
        row = _latest_finished(ctx.engine)
    if row is None:
        raise ApiError(404, NO_RUN_YET)
    return DriftRunDetail.from_row(row)


@router.get(
    "/runs",
    response_model=DriftRunPage,
    summary="Drift runs",
    responses=errors(*AUTH_ERRORS, 422, 503),
)
def list_runs(
    caller: Viewer,
    ctx: Context,
    status: Annotated[DriftRunStatus | None, Query(description="Only runs with this status")] = None,
    severity: Annotated[DriftSeverity | None, Query(description="Only runs with this verdict")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DriftRunPage:
    """Newest first, without the per-feature results (``GET /v1/drift/runs/{run_id}`` has them)."""
    with database("read the drift runs"):
        rows, total = list_drift_runs(
            ctx.engine, limit=limit, offset=offset, status=status, severity=severity
        )
    items = [DriftRunSummary.from_row(row) for row in rows]
    return DriftRunPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/runs/{run_id}",
    response_model=DriftRunDetail,
    summary="One drift run in full",
    responses=errors(*AUTH_ERRORS, 404, 422, 503),
)
def drift_run(
    caller: Viewer, ctx: Context, run_id: Annotated[str, Path(min_length=1, max_length=36)]
) -> DriftRunDetail:
    """Verdict, reasons, per-feature statistics, prediction, performance and fairness drift."""
    with database("read the drift run"):
        row = get_drift_run(ctx.engine, run_id)
    if row is None:
        raise ApiError(404, f"no drift run {run_id!r}: GET /v1/drift/runs lists the recorded ones")
    return DriftRunDetail.from_row(row)


def _json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``errors()`` for an HTML route: its errors are still ``ErrorResponse`` JSON."""
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {
        code: {"description": entry["description"], "content": {"application/json": {"schema": schema}}}
        for code, entry in errors(*codes).items()
    }


def _html_report_path(row: dict[str, Any], reports_dir: FilePath) -> FilePath | None:
    """The run's HTML report, only if the row names one that resolves inside ``reports_dir``."""
    results = row.get("results")
    reports = results.get("reports") if isinstance(results, dict) else None
    named = reports.get("html") if isinstance(reports, dict) else None
    if not isinstance(named, str):
        fallback = row.get("report_path")
        named = fallback if isinstance(fallback, str) and fallback.endswith(".html") else None
    if not named:
        return None
    try:
        root = reports_dir.resolve()
        path = FilePath(named).resolve()  # relative paths: as the job wrote them, from the working dir
    except (OSError, RuntimeError, ValueError):
        return None
    if path.suffix != ".html" or not path.is_relative_to(root):
        return None
    return path


@router.get(
    "/runs/{run_id}/report",
    response_class=HTMLResponse,
    summary="A drift run's Evidently HTML report",
    responses={
        200: {
            "content": {"text/html": {"example": _REPORT_EXAMPLE}},
            "description": "The report page, for embedding (inline scripts only, nothing external)",
        },
        **_json_errors(*AUTH_ERRORS, 404, 422, 503),
    },
)
def drift_run_report(
    caller: Viewer, ctx: Context, run_id: Annotated[str, Path(min_length=1, max_length=36)]
) -> HTMLResponse:
    """The HTML report the drift job wrote for this run (404 for runs without one, e.g. ``--no-html``)."""
    with database("read the drift run"):
        row = get_drift_run(ctx.engine, run_id)
    if row is None:
        raise ApiError(404, f"no drift run {run_id!r}: GET /v1/drift/runs lists the recorded ones")
    reports_dir = FilePath(ctx.settings.reports_dir)
    path = _html_report_path(row, reports_dir)
    if path is None:
        why = " (the check failed)" if row.get("status") == "error" else ""
        raise ApiError(404, NO_HTML_REPORT.format(run_id=run_id, why=why))
    try:
        body = path.read_bytes()
    except OSError:
        raise ApiError(
            404,
            f"the HTML report of drift run {run_id!r} is gone from {reports_dir}: "
            "run `attrition drift run` again for a new one",
        ) from None
    origins = "".join(f" {o}" for o in ctx.settings.serving.cors_origins if _csp_source(o))
    return HTMLResponse(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": REPORT_CSP.format(origins=origins),
            "Content-Disposition": "inline",
            "Cache-Control": "private, max-age=300",
        },
    )


def _csp_source(origin: str) -> bool:
    """A CORS origin usable as a frame-ancestors source (no wildcard, nothing that ends the directive)."""
    return (
        origin != "*"
        and not any(c in origin for c in " ;,'\"")
        and origin.startswith(("http://", "https://"))
    )
