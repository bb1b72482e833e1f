"""Bring a fresh deployment to a usable state: ``attrition bootstrap``, the compose stack's one-shot.

Steps, each skipped when its result is already there (so a second run changes nothing):
migrate the app database; create the first admin user when no admin exists; ingest a
synthetic workforce when the employees table is empty; train and promote a champion when
none is registered; score the latest snapshot with the champion when it has no batch
predictions yet. Every step is an existing job (database, users, generate + ingest,
train, score); this module only decides whether to run it and says what happened.

Exit codes: 0 done (or nothing to do); 1 a step failed (the message names it; later steps
are not run); 2 no admin exists and no password was given.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from attrition.config import CHAMPION, Settings
from attrition.db.engine import get_engine
from attrition.db.repositories import query_predictions, snapshot_dates
from attrition.jobs import database, generate, ingest, score, train, users
from attrition.jobs.base import Outcome
from attrition.registry.store import RegistryError, alias_version, configure

ADMIN_NAME_ENV = "ATTRITION_BOOTSTRAP_ADMIN_NAME"
ADMIN_PASSWORD_ENV = "ATTRITION_BOOTSTRAP_ADMIN_PASSWORD"
ACTOR = "bootstrap"
ADMIN_ROLE = "admin"
#: The sample workforce: fixed seed and snapshot date, so every fresh stack starts from the same data.
SAMPLE_SEED = 42
SAMPLE_SNAPSHOT = dt.date(2026, 1, 31)
EXIT_FAILED, EXIT_NO_PASSWORD = 1, 2


@dataclass(frozen=True)
class BootstrapRequest:
    """The first admin (its password never on a command line), the sample size, the search budget."""

    admin_name: str = "admin"
    admin_password: str | None = None
    rows: int = 2000
    trials: int = 5
    seed: int = SAMPLE_SEED
    snapshot_date: dt.date = SAMPLE_SNAPSHOT


@dataclass(kw_only=True)
class BootstrapOutcome(Outcome):
    """One line per step saying what it did or why it skipped."""

    lines: list[str] = field(default_factory=list)


class _StepFailed(Exception):
    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


Step = Callable[[Settings, BootstrapRequest], str]


def bootstrap(settings: Settings, request: BootstrapRequest | None = None) -> BootstrapOutcome:
    """Run the steps in order; stop at the first that fails."""
    request = request or BootstrapRequest()
    outcome = BootstrapOutcome()
    steps: list[Step] = [_migrate, _admin, _sample_data, _champion, _scores]
    for step in steps:
        try:
            outcome.lines.append(step(settings, request))
        except _StepFailed as exc:
            outcome.exit_code, outcome.error = exc.exit_code, str(exc)
            break
    return outcome


def _migrate(settings: Settings, _request: BootstrapRequest) -> str:
    migrated = database.migrate_database(settings)
    if migrated.error:
        raise _StepFailed(EXIT_FAILED, f"database: {migrated.error}")
    return f"database: {migrated.url} at revision {migrated.revision}"


def _admin(settings: Settings, request: BootstrapRequest) -> str:
    admins = [u.name for u in users.listing(settings) if u.role == ADMIN_ROLE and u.active]
    if admins:
        return f"admin: skipped, admin user {admins[0]!r} exists"
    if not request.admin_password:
        raise _StepFailed(
            EXIT_NO_PASSWORD,
            f"admin: no admin user exists and {ADMIN_PASSWORD_ENV} is not set; set it to the first "
            f"admin's password (at least 12 characters) and run again",
        )
    created = users.create(settings, request.admin_name, ADMIN_ROLE, request.admin_password, actor=ACTOR)
    if created.error:
        raise _StepFailed(EXIT_FAILED, f"admin: {created.error}")
    return f"admin: created admin user {request.admin_name!r}"


def _sample_data(settings: Settings, request: BootstrapRequest) -> str:
    stored = snapshot_dates(get_engine(settings.db_url))
    if stored:
        return f"employees: skipped, {len(stored)} snapshot(s) stored (latest {stored[-1]})"
    with tempfile.TemporaryDirectory(prefix="attrition-bootstrap-") as tmp:
        csv = Path(tmp) / "sample_workforce.csv"
        generate.generate(generate.GenerateRequest(csv, rows=request.rows, seed=request.seed))
        ingested = ingest.ingest(settings, ingest.IngestRequest(csv, request.snapshot_date))
    if ingested.report is None:
        raise _StepFailed(EXIT_FAILED, f"employees: sample data not ingested: {ingested.error}")
    return (
        f"employees: ingested {ingested.report.stored:,} synthetic employees "
        f"(seed {request.seed}, snapshot {request.snapshot_date})"
    )


def _champion(settings: Settings, request: BootstrapRequest) -> str:
    current = _champion_version(settings)
    if current is not None:
        return f"champion: skipped, {settings.model_name} version {current} is champion"
    trained = train.train_and_register(
        settings,
        train.TrainRequest(
            trials=request.trials, promote=True, actor=ACTOR, reason="bootstrap: first champion"
        ),
    )
    if trained.exit_code or trained.version is None:
        raise _StepFailed(EXIT_FAILED, f"champion: {_training_failure(trained)}")
    return f"champion: trained and promoted {settings.model_name} version {trained.version}"


def _training_failure(trained: train.TrainOutcome) -> str:
    decision = trained.promotion.decision if trained.promotion else None
    if trained.error or decision is None:
        return trained.error or "training registered no model"
    return f"version {trained.version} registered as challenger, not promoted: {decision.message()}"


def _scores(settings: Settings, _request: BootstrapRequest) -> str:
    version = _champion_version(settings)
    engine = get_engine(settings.db_url)
    _rows, logged = query_predictions(engine, source="batch", model_version=version, limit=1)
    if logged:
        return f"scores: skipped, version {version} has {logged:,} batch predictions"
    scored = score.score(settings, score.ScoreRequest())
    if scored.report is None or scored.exit_code == 2:
        raise _StepFailed(EXIT_FAILED, f"scores: {scored.error}")
    report = scored.report
    return f"scores: scored {report.rows_scored:,} employees with version {report.model_version}"


def _champion_version(settings: Settings) -> str | None:
    try:
        return alias_version(configure(settings), settings.model_name, CHAMPION)
    except RegistryError as exc:
        raise _StepFailed(EXIT_FAILED, f"champion: {exc}") from exc
