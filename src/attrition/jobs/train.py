"""Train and register a model: ``attrition train`` and the drift service's retraining, one workflow.

Steps: the settings' overrides; the training records (a contract CSV, records in hand,
or an employees snapshot, whose dates travel into the run's provenance); a preflight
(MLflow reachable, the audit table there) *before* the search, not after it; the search,
fit, calibration and audit; registration as challenger; promotion when asked.

Exit codes: 0 trained (and promoted, when asked); 1 the registry failed or promotion
was refused; 2 the records cannot train a model (nothing registered, no alias moved).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from attrition.audit import AuditOutcome
from attrition.config import Settings
from attrition.db.engine import get_engine
from attrition.db.repositories import load_employees, record_audit
from attrition.errors import short_error
from attrition.jobs.base import Outcome, Progress
from attrition.jobs.promote import PromoteOutcome, PromoteRequest, promote_version
from attrition.registry.runs import log_and_register
from attrition.registry.store import RegistryError, default_actor, preflight
from attrition.schema import SNAPSHOT_DATE
from attrition.training.pipeline import TrainingDataError, TrainingResult, search_trials, train_model
from attrition.training.search import SearchOutcome

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class TrainRequest:
    """What to train on and what to do with the model (None: the settings' value).

    Records: ``records`` when given (``source`` says where they came from), else ``csv``,
    else the employees snapshot ``snapshot_date`` (default: the latest).
    ``search_only``: an extra worker of a parallel search on ``storage``: trials only.
    """

    trials: int | None = None
    timeout_seconds: float | None = None
    seed: int | None = None
    storage: str | None = None
    study_name: str | None = None
    snapshot_date: dt.date | None = None
    csv: Path | None = None
    records: pd.DataFrame | None = None
    source: str | None = None
    search_only: bool = False
    promote: bool = False
    actor: str | None = None
    reason: str | None = None


@dataclass(kw_only=True)
class TrainOutcome(Outcome):
    """What training produced, as far as it got (see the module docstring for the exit codes)."""

    source: str | None = None
    search: SearchOutcome | None = None  # a search-only worker's share of the study
    result: TrainingResult | None = None
    version: str | None = None
    promotion: PromoteOutcome | None = None


def train_and_register(
    settings: Settings, request: TrainRequest | None = None, progress: Progress | None = None
) -> TrainOutcome:
    """Search, fit, calibrate, audit and register a model; promote it when asked.

    A whole training (not a search-only worker's share) is an audit event, ended or failed.
    """
    request = request or TrainRequest()
    settings = with_overrides(settings, request)
    outcome = _train(settings, request, progress)
    if not request.search_only:
        _audit_training(settings, request, outcome)
    return outcome


def _audit_training(settings: Settings, request: TrainRequest, outcome: TrainOutcome) -> None:
    """``model.train`` with the version registered (or the error) and where the records came from."""
    registered = outcome.version is not None
    detail = {
        "version": outcome.version,
        "source": outcome.source,
        "trials": settings.training.trials,
        "promote": request.promote,
        "reason": request.reason,
        "exit_code": outcome.exit_code,
        "error": None if registered else (outcome.error or "not registered").splitlines()[0][:500],
    }
    result = AuditOutcome.OK if registered else AuditOutcome.FAILED
    actor = request.actor or default_actor()
    try:
        record_audit(get_engine(settings.db_url), actor, "model.train", settings.model_name, detail, result)
    except sa.exc.SQLAlchemyError as exc:
        logger.error("training by %s not audited: %s", actor, short_error(exc))


def _train(settings: Settings, request: TrainRequest, progress: Progress | None) -> TrainOutcome:
    try:
        frame, source = training_records(settings, request)
    except TrainingDataError as exc:
        return TrainOutcome(exit_code=2, error=str(exc))
    if request.search_only:
        return _search_only(settings, request, frame, source)
    try:
        preflight(settings)
    except RegistryError as exc:
        return TrainOutcome(exit_code=1, error=str(exc), source=source)
    try:
        result = train_model(
            frame,
            settings.training,
            storage=request.storage or settings.optuna_storage,
            study_name=request.study_name,
            progress=progress,
        )
    except TrainingDataError as exc:
        return TrainOutcome(exit_code=2, error=str(exc), source=source)
    outcome = TrainOutcome(source=source, result=result)
    try:
        outcome.version = log_and_register(result, settings, actor=request.actor, source=source)
    except RegistryError as exc:
        outcome.exit_code, outcome.error = 1, str(exc)
        return outcome
    if request.promote:
        promotion = PromoteRequest(outcome.version, request.actor, request.reason)
        outcome.promotion = promote_version(settings, promotion)
        outcome.exit_code, outcome.error = outcome.promotion.exit_code, outcome.promotion.error
    return outcome


def with_overrides(settings: Settings, request: TrainRequest) -> Settings:
    """``settings`` with the request's trials, timeout and seed where it gives them."""
    overrides = {"trials": request.trials, "timeout_seconds": request.timeout_seconds, "seed": request.seed}
    given = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update={"training": settings.training.model_copy(update=given)})


def training_records(settings: Settings, request: TrainRequest) -> tuple[pd.DataFrame, str]:
    """The records to train on and where they came from; TrainingDataError when there are none."""
    if request.records is not None:
        return request.records, request.source or f"records ({len(request.records):,} rows)"
    if request.csv is not None:
        try:
            return pd.read_csv(request.csv, dtype=str), f"csv:{request.csv.name}"
        except (OSError, UnicodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise TrainingDataError(f"cannot read training CSV {request.csv}: {exc}") from exc
    day = request.snapshot_date
    frame = load_employees(get_engine(settings.db_url), day)
    if frame.empty:
        which = f"snapshot {day}" if day else "the employees table"
        raise TrainingDataError(
            f"no employees in {which}; ingest a CSV first (`attrition ingest FILE`) or pass --csv FILE"
        )
    return frame, f"employees@{frame[SNAPSHOT_DATE].max()}"


def _search_only(settings: Settings, request: TrainRequest, frame: pd.DataFrame, source: str) -> TrainOutcome:
    """A worker's share of the trials; the process without ``search_only`` registers the model."""
    storage = request.storage or settings.optuna_storage
    if not storage:
        raise ValueError("a search-only worker needs the storage of the shared study")
    try:
        search = search_trials(frame, settings.training, storage=storage, study_name=request.study_name)
    except TrainingDataError as exc:
        return TrainOutcome(exit_code=2, error=str(exc), source=source)
    logger.info(
        "search-only worker: %d trials in study %s", len(search.study.trials), search.study.study_name
    )
    return TrainOutcome(source=source, search=search)


def summary_lines(outcome: TrainOutcome, model_name: str) -> list[str]:
    """What training did, for a person: the search, or the holdout figures and fairness; the registration."""
    lines = []
    search, result = outcome.search, outcome.result
    if search is not None:
        lines.append(
            f"study {search.study.study_name}: {len(search.study.trials)} trials; best so far "
            f"{search.best_family} (CV ROC-AUC {search.cv_roc_auc:.4f}); nothing registered (--search-only)"
        )
    if result is not None:
        m, model = result.metrics, result.model
        lines.append(
            f"best {result.best_family}: holdout ROC-AUC {m['roc_auc']:.4f} "
            f"[{m.get('roc_auc_ci_low', float('nan')):.4f}, {m.get('roc_auc_ci_high', float('nan')):.4f}], "
            f"PR-AUC {m['pr_auc']:.4f}, recall {m['recall']:.3f} at threshold {model.threshold:.4f} "
            f"({model.threshold_rule}); fairness gate {'passed' if result.fairness.passed else 'FAILED'}"
        )
        lines += [f"  fairness: {failure}" for failure in result.fairness.failures]
    if outcome.version is not None:
        lines.append(f"registered {model_name} version {outcome.version} as challenger")
    return lines
