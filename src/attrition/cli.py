"""The ``attrition`` command line: each command parses its options, calls a job, echoes its result.

The jobs (``attrition.jobs``) are imported on first use, so ``attrition --help`` loads no
model, database or monitoring stack. Exit codes are the jobs' (each command's help says them).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from attrition import jobs
from attrition.cli_notify import notify_app
from attrition.cli_users import keys_app, users_app
from attrition.config import SEVERITIES, Settings, config_dir, get_settings
from attrition.data.scenarios import DRIFT_SCENARIOS
from attrition.jobs.base import Outcome

app = typer.Typer(
    help="Employee attrition platform: data, training, scoring, serving, drift.", no_args_is_help=True
)


def _group(name: str, help: str) -> typer.Typer:
    group = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


db_app = _group("db", "App database schema.")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(notify_app, name="notify")
serve_app = _group("serve", "Run a service.")
drift_app = _group("drift", "Drift monitoring: compare current data with the reference.")

_DAY = ["%Y-%m-%d"]
_Snapshot = Annotated[
    datetime | None,
    typer.Option("--snapshot-date", formats=_DAY, help="Employees snapshot (default: the latest)."),
]
_Actor = Annotated[
    str | None, typer.Option("--actor", help="Who is acting, for the audit trail (default: $USER).")
]
_Reason = Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")]


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    settings = _settings_or_exit()
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # Alembic's plugin and migration chatter; the command says where the schema is
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _settings_or_exit() -> Settings:
    """The settings, read before any command runs: an invalid one is one line on stderr and exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(error) for error in exc.errors())
        typer.echo(f"error: invalid setting: {problems}", err=True)
    except (ValueError, yaml.YAMLError) as exc:  # an unreadable configs/*.yaml
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        typer.echo(
            f"error: invalid settings file{_unreadable_yaml()}: {text or type(exc).__name__}", err=True
        )
    raise typer.Exit(2)


def _unreadable_yaml() -> str:
    """`` <path>`` of the first configs/*.yaml that does not parse (the parser's message cannot say)."""
    folder = config_dir()
    for path in sorted(folder.glob("*.yaml")) if folder else []:
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeError):
            return f" {path}"
    return ""


def _setting_problem(error: Any) -> str:
    """``training.trials = 0 (ATTRITION_TRAINING__TRIALS or configs/training.yaml): expected >= 1``."""
    loc = error["loc"]
    name = ".".join(str(part) for part in loc)
    env = "ATTRITION_" + "__".join(part.upper() for part in loc if isinstance(part, str))
    where = f"configs/{loc[0]}.yaml" if len(loc) > 1 else "configs/attrition.yaml"
    expected = _EXPECTED.get(error["type"], "").format(**error.get("ctx") or {}) or error["msg"]
    shown = repr(error["input"])[:80] if "input" in error else "missing"
    if _SECRET.search(name):  # a token, a password in a URL: never echoed
        shown = "***"
    return f"{name} = {shown} ({env} or {where}): expected {expected}"


_SECRET = re.compile(r"secret|password|url", re.IGNORECASE)


#: What a setting must be, by pydantic error type (the others use pydantic's own message).
_EXPECTED = {
    "greater_than_equal": "a value >= {ge}",
    "greater_than": "a value > {gt}",
    "less_than_equal": "a value <= {le}",
    "less_than": "a value < {lt}",
    "int_parsing": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
    "literal_error": "one of {expected}",
}


def _finish(outcome: Outcome, label: str = "error") -> None:
    """The job's error on stderr and its exit code; nothing when it did its work."""
    if outcome.error:
        typer.echo(f"{label}: {outcome.error}", err=True)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _one_source(snapshot_date: datetime | None, csv: Path | None) -> None:
    if csv is not None and snapshot_date is not None:
        raise typer.BadParameter("give either --snapshot-date or --csv, not both", param_hint="--csv")


@contextmanager
def _progress(
    kind: str, *, total: float | None = None, disable: bool = False, stderr: bool = True, **fields: Any
) -> Iterator[Callable[..., None]]:
    """A transient progress bar of ``kind`` (generate, ingest, train, score); yields its ``update``."""
    from rich.console import Console  # rich's progress machinery only for commands that show it
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = {
        "generate": Progress.get_default_columns(),
        "ingest": (TextColumn("ingesting"), BarColumn(), TextColumn("{task.fields[rows]:,} rows")),
        "train": (TextColumn("optuna trials"), BarColumn(), MofNCompleteColumn()),
        "score": (TextColumn("scoring {task.completed:,} rows"),),
    }[kind]
    elapsed = () if kind == "generate" else (TimeElapsedColumn(),)
    console = Console(stderr=True) if stderr else None
    with Progress(*columns, *elapsed, console=console, transient=True, disable=disable) as bar:
        task = bar.add_task(fields.pop("description", kind), total=total, **fields)
        yield lambda **update: bar.update(task, **update)


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(dir_okay=False, help="CSV file to write.")],
    rows: Annotated[int, typer.Option(min=1, help="Number of employees.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: same seed, same bytes.")] = 42,
    snapshot_date: Annotated[
        datetime | None, typer.Option(formats=_DAY, help="Add a snapshot_date column (YYYY-MM-DD).")
    ] = None,
    drift: Annotated[
        str | None, typer.Option(help="Drift scenario to simulate; an unknown name lists the valid ones.")
    ] = None,
) -> None:
    """Write a synthetic IBM-HR-like workforce as CSV: the embedded default data."""
    if drift is not None and drift not in DRIFT_SCENARIOS:
        valid = ", ".join(DRIFT_SCENARIOS)
        raise typer.BadParameter(
            f"unknown scenario {drift!r}; expected one of: {valid}", param_hint="--drift"
        )
    day = _day(snapshot_date)
    request = jobs.generate.GenerateRequest(out, rows=rows, seed=seed, snapshot_date=day, drift=drift)
    with _progress("generate", disable=rows < 100_000, stderr=False, description="generating") as update:
        outcome = jobs.generate.generate(
            request, lambda done, total: update(description="writing CSV", completed=done, total=total)
        )
    summary = f"seed {seed}, drift {drift or 'none'}, attrition {outcome.attrition_rate:.1%}"
    typer.echo(f"wrote {outcome.rows:,} employees to {out} ({summary})")


@app.command("ingest")
def ingest(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="CSV with the contract's columns and a header.")
    ],
    snapshot_date: Annotated[
        datetime | None,
        typer.Option(
            formats=_DAY,
            help="Date the export describes (YYYY-MM-DD); default: the file's snapshot_date column, else today.",
        ),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows read and stored per chunk.")] = 50_000,
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
    request = jobs.ingest.IngestRequest(file, _day(snapshot_date), chunk_rows, replace)
    size = file.stat().st_size if file.is_file() else None
    with _progress("ingest", total=size, rows=0) as update:
        outcome = jobs.ingest.ingest(
            get_settings(), request, lambda rows, done: update(completed=done, rows=rows)
        )
    for line in outcome.summary:
        typer.echo(line)
    _finish(outcome, "database error" if outcome.database_failed else "error")


@app.command("train")
def train(
    trials: Annotated[
        int | None, typer.Option(min=1, help="Optuna trials (default: training.trials).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(min=1, help="Stop the search after S seconds.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of split, sampler and models.")] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna RDB URL: parallel train processes share the study (default: optuna_storage)."
        ),
    ] = None,
    study_name: Annotated[str | None, typer.Option(help="Optuna study to create or join.")] = None,
    snapshot_date: _Snapshot = None,
    csv: Annotated[Path | None, typer.Option(dir_okay=False, help="Train on a contract CSV instead.")] = None,
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
    actor: _Actor = None,
) -> None:
    """Search, fit, calibrate and audit a model; log it to MLflow as the challenger.

    Parallel search: start one `attrition train --storage URL` and any number of
    `attrition train --storage URL --search-only` on the same data; they share the trials
    and only the first registers a model.

    Exit 0: trained (and promoted, with --promote); 1: promotion refused or registry error;
    2: the training data cannot train a model (nothing registered, no alias moved).
    """
    _check_training_options(search_only, storage, promote, snapshot_date, csv)
    request = jobs.train.TrainRequest(
        trials=trials,
        timeout_seconds=timeout,
        seed=seed,
        storage=storage,
        study_name=study_name,
        snapshot_date=_day(snapshot_date),
        csv=csv,
        search_only=search_only,
        promote=promote,
        actor=actor,
    )
    settings = get_settings()
    with _progress("train", total=trials or settings.training.trials, disable=search_only) as update:
        outcome = jobs.train.train_and_register(
            settings, request, lambda done, total: update(completed=done, total=total)
        )
    _echo_training(outcome, settings)


def _check_training_options(
    search_only: bool, storage: str | None, promote: bool, snapshot_date: datetime | None, csv: Path | None
) -> None:
    if search_only and (storage is None or promote):
        raise typer.BadParameter(
            "needs --storage (the shared study) and no --promote", param_hint="--search-only"
        )
    _one_source(snapshot_date, csv)


def _echo_training(outcome: jobs.train.TrainOutcome, settings: Settings) -> None:
    for line in jobs.train.summary_lines(outcome, settings.model_name):
        typer.echo(line)
    if outcome.promotion is not None:
        _echo_promotion(outcome.promotion, settings)
    _finish(outcome)


def _echo_promotion(outcome: jobs.promote.PromoteOutcome, settings: Settings) -> None:
    if outcome.decision is None:
        return
    typer.echo(outcome.decision.message())
    if outcome.decision.promoted:
        typer.echo(f"reference data for drift monitoring written to {settings.reference_dir}")


@app.command("promote")
def promote_cmd(
    version: Annotated[
        int | None, typer.Option(min=1, help="Version to promote (default: challenger).")
    ] = None,
    actor: _Actor = None,
    reason: _Reason = None,
) -> None:
    """Make the challenger (or --version) champion if it passes the fairness, floor and champion gates.

    Exit 1 when refused (the reasons are printed; no alias moves).
    """
    settings = get_settings()
    version_ = None if version is None else str(version)
    request = jobs.promote.PromoteRequest(version_, actor=actor, reason=reason)
    outcome = jobs.promote.promote_version(settings, request)
    _echo_promotion(outcome, settings)
    _finish(outcome)


@app.command("rollback")
def rollback_cmd(actor: _Actor = None, reason: _Reason = None) -> None:
    """Point champion back at the version it replaced (recorded in the audit trail, with --reason)."""
    outcome = jobs.promote.rollback_champion(get_settings(), actor, reason)
    _finish(outcome)
    if outcome.decision is not None:
        decision = outcome.decision
        typer.echo(f"champion rolled back: version {decision.previous_champion} -> {decision.version}")


@app.command("score")
def score(
    snapshot_date: _Snapshot = None,
    csv: Annotated[Path | None, typer.Option(dir_okay=False, help="Score a contract CSV instead.")] = None,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write predictions (.csv or .parquet).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows scored per chunk.")] = 50_000,
    factors: Annotated[
        int, typer.Option(min=0, help="Top factors per prediction (0: none, the fastest).")
    ] = 3,
) -> None:
    """Score employees with the champion; log every prediction; flag the high-risk ones.

    Exit 1 when rows were rejected (the good ones are scored), 2 when nothing could be scored.
    """
    _one_source(snapshot_date, csv)
    request = jobs.score.ScoreRequest(
        _day(snapshot_date), csv=csv, out=out, chunk_rows=chunk_rows, factors=factors
    )
    with _progress("score") as update:
        outcome = jobs.score.score(get_settings(), request, lambda done, _total: update(completed=done))
    report = outcome.report
    for line in jobs.score.summary_lines(report) if report else []:
        typer.echo(line)
    for line in jobs.score.rejection_lines(report) if report else []:
        typer.echo(line, err=True)
    _finish(outcome)


@app.command("model-card")
def model_card(fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown") -> None:
    """Describe the champion: data, metrics with intervals, threshold, fairness, factors, limitations."""
    if fmt not in ("markdown", "json"):
        raise typer.BadParameter(f"expected markdown or json, got {fmt!r}", param_hint="--format")
    outcome = jobs.card.model_card(get_settings())
    _finish(outcome)
    if fmt == "json":
        typer.echo(outcome.json)
    else:
        typer.echo(outcome.markdown)
        typer.echo(f"(written to {outcome.path})", err=True)


def _window(value: str | None) -> int | None:
    """``--window 30d`` (or ``30``) -> 30."""
    try:
        return None if value is None else jobs.drift.parse_days(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from exc


def _severity(value: str | None, option: str) -> str | None:
    if value is not None and value not in SEVERITIES:
        raise typer.BadParameter(f"expected one of {', '.join(SEVERITIES)}, got {value!r}", param_hint=option)
    return value


@drift_app.command("run")
def drift_run(
    current_snapshot: Annotated[
        datetime | None, typer.Option(formats=_DAY, help="Employees snapshot (default: latest).")
    ] = None,
    current_csv: Annotated[
        Path | None, typer.Option(dir_okay=False, help="A contract CSV as the current window.")
    ] = None,
    window: Annotated[
        str | None, typer.Option(help="Predictions logged in the last N days, e.g. 30d.")
    ] = None,
    reference_csv: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Compare against this CSV, not the champion's data.")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="Exit 1 at or above: none/moderate/severe/critical.")
    ] = None,
    retrain_on: Annotated[str | None, typer.Option(help="Train + promote at or above this severity.")] = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write the Evidently HTML report.")] = True,
) -> None:
    """Compare the current window with the reference: severity, reports, alerts, MLflow metrics.

    Exit 0: no action needed; 1: drift at or above --fail-on (default monitoring.fail_on);
    2: the check could not be done (never reported as "no drift"); 3: too few rows for a verdict.
    """
    if sum(x is not None for x in (current_snapshot, current_csv, window)) > 1:
        raise typer.BadParameter("give one of --current-snapshot, --current-csv, --window")
    fail, retrain = _severity(fail_on, "--fail-on"), _severity(retrain_on, "--retrain-on")
    request = jobs.drift.DriftRequest(
        current_snapshot=_day(current_snapshot),
        current_csv=current_csv,
        window_days=_window(window),
        reference_csv=reference_csv,
        fail_on=fail,
        retrain_on=retrain,
        html=html,
    )
    outcome = jobs.drift.run_drift_check(get_settings(), request)
    typer.echo(outcome.markdown)
    for kind, path in outcome.reports.items():
        typer.echo(f"{kind} report: {path}", err=True)
    if outcome.retrain:
        typer.echo(f"retraining: {outcome.retrain}", err=True)
    _finish(outcome)


@drift_app.command("set-reference")
def drift_set_reference() -> None:
    """Rewrite the reference data (reference_data/) from the current champion."""
    settings = get_settings()
    outcome = jobs.reference.set_reference(settings)
    _finish(outcome)
    typer.echo(f"reference data of champion version {outcome.version} written to {settings.reference_dir}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Argument(help="head, base or a revision id; one older than the database's downgrades it.")
    ] = "head",
) -> None:
    """Create or migrate the app database tables (ATTRITION_DATABASE_URL or the SQLite default).

    Exit 2 for a revision the migrations do not know.
    """
    outcome = jobs.database.migrate_database(get_settings(), revision)
    _finish(outcome)
    typer.echo(f"database at {outcome.url} is at revision {outcome.revision}")


@app.command("bootstrap")
def bootstrap_cmd(
    admin_name: Annotated[
        str, typer.Option(envvar="ATTRITION_BOOTSTRAP_ADMIN_NAME", help="The first admin's sign-in name.")
    ] = "admin",
    rows: Annotated[
        int, typer.Option(min=1, help="Synthetic employees ingested into an empty table.")
    ] = 2000,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials of the first champion's search.")] = 5,
) -> None:
    """Prepare a fresh deployment; each step is skipped when already done, so re-running is safe.

    Migrates the database, creates the first admin (password from
    ATTRITION_BOOTSTRAP_ADMIN_PASSWORD, never the command line) when no admin exists,
    ingests a synthetic workforce into an empty employees table, trains and promotes a
    champion when none is registered, and scores the latest snapshot with it.

    Exit 1: a step failed; 2: no admin exists and ATTRITION_BOOTSTRAP_ADMIN_PASSWORD is not set.
    """
    from attrition.jobs import bootstrap  # not in jobs.__all__: imported here, on first use

    password = os.environ.get(bootstrap.ADMIN_PASSWORD_ENV) or None
    request = bootstrap.BootstrapRequest(admin_name, password, rows=rows, trials=trials)
    outcome = bootstrap.bootstrap(get_settings(), request)
    for line in outcome.lines:
        typer.echo(line)
    _finish(outcome)


@serve_app.command("api")
def serve_api(
    host: Annotated[str | None, typer.Option(help="Bind address (default: serving.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: serving.port).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: serving.workers).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log each request line.")
    ] = True,
) -> None:
    """Run the prediction API with uvicorn (the api/ package of this checkout, or of the working directory)."""
    request = jobs.serve.ServeRequest(host, port=port, workers=workers, access_log=access_log)
    jobs.serve.serve_api(get_settings(), request)


@serve_app.command("ui")
def serve_ui(
    host: Annotated[str | None, typer.Option(help="Bind address (default: ui.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: ui.port).")] = None,
    api_url: Annotated[
        str | None, typer.Option(help="The prediction API the UI calls (default: ui.api_url).")
    ] = None,
    app_file: Annotated[
        Path | None,
        typer.Option(
            "--app",
            envvar="ATTRITION_UI_APP",
            dir_okay=False,
            help="Streamlit app to run (default: frontend/streamlit_app.py of this checkout).",
        ),
    ] = None,
) -> None:
    """Run the Streamlit UI (headless, no usage statistics, XSRF protection on) until stopped.

    Exit 2 when the ui extra or the app file is missing.
    """
    request = jobs.serve.UiRequest(host, port=port, api_url=api_url, app=app_file)
    _finish(jobs.serve.serve_ui(get_settings(), request))


from attrition.cli_privacy import export_employee_cmd, forget_employee_cmd, purge_cmd  # noqa: E402

app.command("purge")(purge_cmd)
app.command("export-employee")(export_employee_cmd)
app.command("forget-employee")(forget_employee_cmd)

from attrition.cli_audit import audit_cmd  # noqa: E402

app.command("audit")(audit_cmd)


if __name__ == "__main__":  # pragma: no cover
    from attrition.entrypoint import main

    main()
