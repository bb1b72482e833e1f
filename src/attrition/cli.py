"""The ``attrition`` command line: every job is a command over a package function."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from attrition.config import get_settings

app = typer.Typer(
    help="Employee attrition platform: data, training, scoring, serving, drift.", no_args_is_help=True
)
db_app = typer.Typer(help="App database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(
    help="API keys of the prediction API (stored hashed, shown once).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
serve_app = typer.Typer(help="Run a service.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
drift_app = typer.Typer(
    help="Drift monitoring: compare current data with the reference.", no_args_is_help=True
)
app.add_typer(drift_app, name="drift")


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    level = logging.DEBUG if verbose else getattr(logging, get_settings().log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the app database tables (ATTRITION_DATABASE_URL or the SQLite default)."""
    from attrition.db.migrate import upgrade

    url = get_settings().db_url
    upgrade(url)
    typer.echo(f"database at {_safe_url(url)} is at revision {revision}")


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="CSV file to write.")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of employees.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed: same seed, same bytes.")] = 42,
    snapshot_date: Annotated[
        datetime | None,
        typer.Option(
            "--snapshot-date", formats=["%Y-%m-%d"], help="Add a snapshot_date column (YYYY-MM-DD)."
        ),
    ] = None,
    drift: Annotated[
        str | None,
        typer.Option("--drift", help="Drift scenario to simulate; an unknown name lists the valid ones."),
    ] = None,
) -> None:
    """Write a synthetic IBM-HR-like workforce as CSV: the embedded default data."""
    from rich.progress import Progress

    from attrition.data.generator import DRIFT_SCENARIOS, generate_workforce, write_csv
    from attrition.schema import ATTRITION_YES, TARGET

    if drift is not None and drift not in DRIFT_SCENARIOS:
        valid = ", ".join(DRIFT_SCENARIOS)
        raise typer.BadParameter(
            f"unknown scenario {drift!r}; expected one of: {valid}", param_hint="--drift"
        )
    with Progress(transient=True, disable=rows < 100_000) as progress:
        task = progress.add_task("generating", total=None)
        day = snapshot_date.date() if snapshot_date else None
        frame = generate_workforce(rows, seed, snapshot_date=day, drift=drift)
        progress.update(task, description="writing CSV", total=rows, completed=0)
        write_csv(frame, out, progress=lambda done, _total: progress.update(task, completed=done))
    rate = (frame[TARGET] == ATTRITION_YES).mean()
    summary = f"seed {seed}, drift {drift or 'none'}, attrition {rate:.1%}"
    typer.echo(f"wrote {rows:,} employees to {out} ({summary})")


@app.command("ingest")
def ingest(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="CSV with the contract's columns and a header.")
    ],
    snapshot_date: Annotated[
        datetime | None,
        typer.Option(
            "--snapshot-date",
            formats=["%Y-%m-%d"],
            help="Date the export describes (YYYY-MM-DD); default: the file's snapshot_date column, else today.",
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read and stored per chunk.")
    ] = 50_000,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite stored rows (same EmployeeNumber and snapshot date) whose values differ "
            "from the file's; without it they are reported and the stored values kept.",
        ),
    ] = False,
) -> None:
    """Validate a CSV and store its good rows in the employees table.

    Every issue goes to <FILE stem>.rejects.csv beside FILE. Exit 0: all rows stored or already
    present (warnings allowed, including rows that differ from the stored snapshot); 1: some rows
    rejected (malformed CSV lines included), the good ones stored; 2: nothing ingested.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy.exc import SQLAlchemyError

    from attrition.data.ingest import IngestError, ingest_csv, summary_lines
    from attrition.db.engine import get_engine

    size = file.stat().st_size if file.is_file() else None
    bar = (
        TextColumn("ingesting"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*bar, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("ingest", total=size, rows=0)
            report = ingest_csv(
                file,
                get_engine(),
                snapshot_date.date() if snapshot_date else None,
                chunk_rows=chunk_rows,
                progress=lambda rows, done: progress.update(task, completed=done, rows=rows),
                replace=replace,
            )
    except IngestError as exc:
        typer.echo(f"error: {exc}", err=True)
        if exc.issues_path:
            typer.echo(f"issues report: {exc.issues_path}", err=True)
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        typer.echo(f"database error: {exc}\nrows stored before it are kept; re-running is safe", err=True)
        raise typer.Exit(2) from exc
    for line in summary_lines(report):
        typer.echo(line)
    if report.rejected_rows:
        raise typer.Exit(1)


# --- model lifecycle: train, promote, rollback, score, model card ------------------------------

_ACTOR = typer.Option("--actor", help="Who is acting, for the audit trail (default: $USER).")
_Snapshot = Annotated[
    datetime | None,
    typer.Option("--snapshot-date", formats=["%Y-%m-%d"], help="Employees snapshot (default: the latest)."),
]


@app.command("train")
def train(
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="Optuna trials (default: training.trials).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Stop the search after S seconds.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Seed of split, sampler and models.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna RDB URL: parallel train processes share the study."),
    ] = None,
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Optuna study to create or join.")
    ] = None,
    snapshot_date: _Snapshot = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", dir_okay=False, help="Train on a contract CSV instead.")
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote to champion if it passes the gates.")
    ] = False,
    search_only: Annotated[
        bool,
        typer.Option(
            "--search-only",
            help="Extra worker of a parallel search (needs --storage): run trials, register nothing.",
        ),
    ] = False,
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Search, fit, calibrate and audit a model; log it to MLflow as the challenger.

    Parallel search: start one `attrition train --storage URL` and any number of
    `attrition train --storage URL --search-only` on the same data; they share the trials
    and only the first registers a model.

    Exit 0: trained (and promoted, with --promote); 1: promotion refused or registry error;
    2: the training data cannot train a model (nothing registered, no alias moved).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from attrition.registry.runs import log_and_register
    from attrition.registry.store import RegistryError, preflight
    from attrition.training.pipeline import TrainingDataError, train_model

    settings = get_settings()
    overrides = {"trials": trials, "timeout_seconds": timeout, "seed": seed}
    training = settings.training.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    settings = settings.model_copy(update={"training": training})
    if search_only and (storage is None or promote):
        raise typer.BadParameter(
            "needs --storage (the shared study) and no --promote", param_hint="--search-only"
        )
    frame, source = _training_frame(snapshot_date, csv)
    if search_only:
        _search_only(frame, training, storage or "", study_name)
        return
    try:
        preflight(settings)  # MLflow reachable, audit table there: before the search, not after
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    columns = (TextColumn("optuna trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("search", total=training.trials)
            result = train_model(
                frame,
                training,
                storage=storage,
                study_name=study_name,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except TrainingDataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    m = result.metrics
    typer.echo(
        f"best {result.best_family}: holdout ROC-AUC {m['roc_auc']:.4f} "
        f"[{m.get('roc_auc_ci_low', float('nan')):.4f}, {m.get('roc_auc_ci_high', float('nan')):.4f}], "
        f"PR-AUC {m['pr_auc']:.4f}, recall {m['recall']:.3f} at threshold {result.model.threshold:.4f} "
        f"({result.model.threshold_rule}); fairness gate {'passed' if result.fairness.passed else 'FAILED'}"
    )
    for failure in result.fairness.failures:
        typer.echo(f"  fairness: {failure}")
    try:
        version = log_and_register(result, settings, actor=actor, source=source)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"registered {settings.model_name} version {version} as challenger")
    if promote:
        _promote_and_report(settings, version, actor)


def _search_only(frame: Any, training: Any, storage: str, study_name: str | None) -> None:
    """A worker's share of the trials; the process without --search-only registers the model."""
    from attrition.training.pipeline import TrainingDataError, search_trials

    try:
        outcome = search_trials(frame, training, storage=storage, study_name=study_name)
    except TrainingDataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"study {outcome.study.study_name}: {len(outcome.study.trials)} trials; best so far "
        f"{outcome.best_family} (CV ROC-AUC {outcome.cv_roc_auc:.4f}); nothing registered (--search-only)"
    )


def _training_frame(snapshot_date: datetime | None, csv: Path | None) -> tuple[Any, str]:
    """Training records from a contract CSV or the employees table; exit 2 when there are none."""
    import pandas as pd

    from attrition.db.engine import get_engine
    from attrition.db.repositories import load_employees

    if csv is not None:
        if snapshot_date is not None:
            raise typer.BadParameter("give either --snapshot-date or --csv, not both", param_hint="--csv")
        try:
            return pd.read_csv(csv, dtype=str), f"csv:{csv.name}"
        except (OSError, UnicodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            typer.echo(f"error: cannot read training CSV {csv}: {exc}", err=True)
            raise typer.Exit(2) from exc
    day = snapshot_date.date() if snapshot_date else None
    frame = load_employees(get_engine(), day)
    if frame.empty:
        which = f"snapshot {day}" if day else "the employees table"
        typer.echo(
            f"error: no employees in {which}; ingest a CSV first (`attrition ingest FILE`) or pass --csv FILE",
            err=True,
        )
        raise typer.Exit(2)
    return frame, f"employees@{frame['snapshot_date'].max()}"


def _promote_and_report(settings: Any, version: str | None, actor: str | None) -> None:
    from attrition.registry.aliases import promote as promote_version
    from attrition.registry.store import RegistryError

    try:
        decision = promote_version(settings, version, actor=actor)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(decision.message())
    if not decision.promoted:
        raise typer.Exit(1)
    typer.echo(f"reference data for drift monitoring written to {settings.reference_dir}")


@app.command("promote")
def promote_cmd(
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version to promote (default: challenger).")
    ] = None,
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Make the challenger (or --version) champion if it passes the fairness, floor and champion gates.

    Exit 1 when refused (the reasons are printed; no alias moves).
    """
    _promote_and_report(get_settings(), None if version is None else str(version), actor)


@app.command("rollback")
def rollback_cmd(actor: Annotated[str | None, _ACTOR] = None) -> None:
    """Point champion back at the version it replaced (recorded in the audit trail)."""
    from attrition.registry.aliases import rollback
    from attrition.registry.store import RegistryError

    settings = get_settings()
    try:
        decision = rollback(settings, actor=actor)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"champion rolled back: version {decision.previous_champion} -> {decision.version}")


@app.command("score")
def score(
    snapshot_date: _Snapshot = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", dir_okay=False, help="Score a contract CSV instead.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write predictions (.csv or .parquet).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows scored per chunk.")] = 50_000,
) -> None:
    """Score employees with the champion; log every prediction; flag the high-risk ones.

    Exit 1 when rows were rejected (the good ones are scored), 2 when nothing could be scored.
    """
    from rich.console import Console
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from attrition.serving.loader import ModelNotAvailable
    from attrition.serving.scoring import ScoringError, score_batch

    settings = get_settings()
    if csv is not None and snapshot_date is not None:
        raise typer.BadParameter("give either --snapshot-date or --csv, not both", param_hint="--csv")
    columns = (TextColumn("scoring {task.completed:,} rows"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("score", total=None)
            report = score_batch(
                settings,
                snapshot_date=snapshot_date.date() if snapshot_date else None,
                csv=csv,
                out=out,
                chunk_rows=chunk_rows,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
    except (ScoringError, ModelNotAvailable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    bands = ", ".join(f"{band} {count:,}" for band, count in report.band_counts.items())
    typer.echo(
        f"scored {report.rows_scored:,} of {report.rows_read:,} rows with {report.model_name} version "
        f"{report.model_version} ({report.rows_per_second:,.0f} rows/s); {report.rows_logged:,} logged as batch "
        f"{report.batch_id}"
    )
    typer.echo(f"risk bands: {bands}; HIGH RISK (high + critical): {report.high_risk:,}")
    if out is not None:
        typer.echo(f"predictions written to {out}")
    for issue in report.issues[:20]:
        typer.echo(f"  line {issue.row}, {issue.column}: {issue.severity}: {issue.reason}", err=True)
    if report.rows_rejected:
        typer.echo(f"{report.rows_rejected:,} row(s) rejected ({report.issue_count:,} issues)", err=True)
        raise typer.Exit(1)


@app.command("model-card")
def model_card(
    fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
) -> None:
    """Describe the champion: data, metrics with intervals, threshold, fairness, factors, limitations."""
    from attrition.model_card import build_card, to_json, write_card
    from attrition.registry.store import RegistryError
    from attrition.serving.loader import ModelNotAvailable

    if fmt not in ("markdown", "json"):
        raise typer.BadParameter(f"expected markdown or json, got {fmt!r}", param_hint="--format")
    settings = get_settings()
    try:
        card = build_card(settings)
    except (ModelNotAvailable, RegistryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    path = write_card(settings, card)
    if fmt == "json":
        typer.echo(to_json(card))
    else:
        typer.echo(path.read_text(encoding="utf-8"))
        typer.echo(f"(written to {path})", err=True)


# --- drift monitoring ------------------------------------------------------------------------


def _days(value: str | None) -> int | None:
    """``30d`` or ``30`` -> 30."""
    if value is None:
        return None
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise typer.BadParameter(
            f"expected a number of days such as 30d, got {value!r}", param_hint="--window"
        )
    return int(text)


def _severity(value: str | None, option: str) -> str | None:
    from attrition.config import SEVERITIES

    if value is not None and value not in SEVERITIES:
        raise typer.BadParameter(f"expected one of {', '.join(SEVERITIES)}, got {value!r}", param_hint=option)
    return value


@drift_app.command("run")
def drift_run(
    current_snapshot: Annotated[
        datetime | None,
        typer.Option(
            "--current-snapshot", formats=["%Y-%m-%d"], help="Employees snapshot (default: latest)."
        ),
    ] = None,
    current_csv: Annotated[
        Path | None,
        typer.Option("--current-csv", dir_okay=False, help="A contract CSV as the current window."),
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="Predictions logged in the last N days, e.g. 30d.")
    ] = None,
    reference_csv: Annotated[
        Path | None,
        typer.Option(
            "--reference-csv", dir_okay=False, help="Compare against this CSV, not the champion's data."
        ),
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 at or above: none/moderate/severe/critical.")
    ] = None,
    retrain_on: Annotated[
        str | None, typer.Option("--retrain-on", help="Train + promote at or above this severity.")
    ] = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write the Evidently HTML report.")] = True,
) -> None:
    """Compare the current window with the reference: severity, reports, alerts, MLflow metrics.

    Exit 0: no action needed; 1: drift at or above --fail-on (default monitoring.fail_on);
    2: the check could not be done (never reported as "no drift"); 3: too few rows for a verdict.
    """
    from attrition.drift.job import DriftRequest, run_drift_check

    sources = [x for x in (current_snapshot, current_csv, window) if x is not None]
    if len(sources) > 1:
        raise typer.BadParameter("give one of --current-snapshot, --current-csv, --window")
    request = DriftRequest(
        current_snapshot=current_snapshot.date() if current_snapshot else None,
        current_csv=current_csv,
        window_days=_days(window),
        reference_csv=reference_csv,
        fail_on=_severity(fail_on, "--fail-on"),
        retrain_on=_severity(retrain_on, "--retrain-on"),
        html=html,
    )
    outcome = run_drift_check(get_settings(), request)
    typer.echo(outcome.markdown)
    for kind, path in outcome.reports.items():
        typer.echo(f"{kind} report: {path}", err=True)
    if outcome.retrain:
        typer.echo(f"retraining: {outcome.retrain}", err=True)
    if outcome.error:
        typer.echo(f"error: {outcome.error}", err=True)
    raise typer.Exit(outcome.exit_code)


@drift_app.command("set-reference")
def drift_set_reference() -> None:
    """Rewrite the reference data (reference_data/) from the current champion."""
    from attrition.registry.aliases import refresh_reference
    from attrition.registry.store import RegistryError

    settings = get_settings()
    try:
        version = refresh_reference(settings)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"reference data of champion version {version} written to {settings.reference_dir}")


# --- API keys and the API server -------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (unique).")],
    role: Annotated[str, typer.Option("--role", help="viewer, predictor or admin.")],
) -> None:
    """Create a key; the key itself is printed once, alone on the last line."""
    from attrition.db.engine import get_engine
    from attrition.keys import ApiKeyError, create_key

    try:
        key = create_key(get_engine(), name, role, actor=_user())
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created API key {name!r} with role {role}; store it now, it is not shown again:")
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Option("--name", help="Name of the key to revoke.")]) -> None:
    """Revoke a key (running APIs stop accepting it within serving.api_key_cache_seconds)."""
    from attrition.db.engine import get_engine
    from attrition.keys import ApiKeyError, revoke_key

    try:
        info = revoke_key(get_engine(), name, actor=_user())
    except ApiKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"revoked API key {info.name!r} (prefix {info.prefix})")


@keys_app.command("list")
def keys_list() -> None:
    """Every key: name, role, prefix, created, status (never the key)."""
    from attrition.db.engine import get_engine
    from attrition.keys import list_keys

    keys = list_keys(get_engine())
    if not keys:
        typer.echo("no API keys; create one with `attrition keys create --name N --role R`")
        return
    typer.echo(f"{'name':<24} {'role':<10} {'prefix':<9} {'created (UTC)':<20} status")
    for k in keys:
        status = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{k.name:<24} {k.role:<10} {k.prefix:<9} {k.created_at:%Y-%m-%d %H:%M:%S}  {status}")


def _user() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@serve_app.command("api")
def serve_api(
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default: serving.host).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: serving.port).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default: serving.workers).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log each request line.")
    ] = True,
) -> None:
    """Run the prediction API with uvicorn (the api/ package of this checkout, or of the working directory)."""
    import uvicorn

    serving = get_settings().serving
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or serving.host,
        port=port or serving.port,
        workers=workers or serving.workers,
        app_dir=_services_dir(),
        access_log=access_log,
        log_level=get_settings().log_level.lower(),
    )


def _services_dir() -> str:
    """Where the api/ package lives: the repository root of this checkout, else the working directory."""
    root = Path(__file__).resolve().parents[2]
    return str(root) if (root / "api" / "app.py").is_file() else "."


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":  # pragma: no cover
    app()
