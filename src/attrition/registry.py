"""MLflow: tracking setup, one run per training, the registered model and its aliases.

Aliases: ``challenger`` is the latest trained candidate, ``champion`` the model that
serves. A challenger becomes champion only through :func:`promote`, which checks the
fairness gate, a metric floor and (when a champion exists) that the challenger is not
worse than the champion *on the challenger's holdout*. Every alias move is recorded in
the app database's audit table and as tags on the model versions involved, so
:func:`rollback` can find the previous champion.

Nothing happens at import: :func:`configure` points MLflow at ``settings.tracking_uri``
(a local SQLite store in the data dir by default, or an ``mlflow server`` URL).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PyFuncModel
from mlflow.pyfunc.model import PythonModel
from sqlalchemy.engine import make_url

from attrition.config import CHALLENGER, CHAMPION, TRAINING_EXPERIMENT, Settings
from attrition.db.engine import get_engine
from attrition.db.repositories import list_audit, record_audit
from attrition.schema import ALL_COLUMNS, RECORD_COLUMNS, TARGET

if TYPE_CHECKING:
    from attrition.model import AttritionModel
    from attrition.training.pipeline import TrainingResult

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
HOLDOUT_ARTIFACT = "data/holdout.parquet"
REFERENCE_SAMPLE_ARTIFACT = "data/reference_sample.parquet"
SUMMARY_ARTIFACT = "summary/training_summary.json"
FAIRNESS_ARTIFACT = "fairness/fairness_report.json"
TRIALS_ARTIFACT = "optuna/trials.csv"
HISTORY_ARTIFACT = "optuna/optimization_history.png"
#: Rows of training + holdout data kept with the run as the drift reference sample.
REFERENCE_SAMPLE_ROWS = 20_000
#: Audit actions of alias moves (the audit table's ``action`` column).
ACTION_CHALLENGER = "set_challenger"
ACTION_PROMOTE = "promote"
ACTION_REFUSED = "promotion_refused"
ACTION_ROLLBACK = "rollback"
_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "shap", "cloudpickle", "pyarrow")


class RegistryError(Exception):
    """The registry cannot do what was asked; the message says what to do about it."""


# --- setup -----------------------------------------------------------------------------------


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow (fluent API and a client) at the configured tracking store."""
    uri = settings.tracking_uri
    if uri.startswith("sqlite:"):
        database = make_url(uri).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    check_reachable(uri)
    # No tqdm bars from artifact downloads in CLI output and logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast (instead of MLflow's long retries) when a tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status != 200:
                raise RegistryError(f"MLflow server at {safe_uri(uri)} answered HTTP {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise RegistryError(
            f"MLflow tracking server at {safe_uri(uri)} is not reachable ({exc}). Start it "
            "(e.g. `docker compose up -d mlflow`) or point ATTRITION_MLFLOW_TRACKING_URI at a running one."
        ) from exc


def safe_uri(uri: str) -> str:
    """The URI without a password, for messages and logs."""
    if "://" in uri and "@" in uri.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def experiment_id(client: MlflowClient, settings: Settings, name: str = TRAINING_EXPERIMENT) -> str:
    """An experiment (default: training), created on first use (artifacts under ``settings.artifact_root``)."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    remote = settings.tracking_uri.startswith(("http://", "https://"))
    # A server decides where artifacts go unless an artifact root is configured explicitly.
    location = settings.artifact_root if (settings.mlflow_artifact_root or not remote) else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:  # another process created it in between
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def default_actor() -> str:
    """Who is acting: $USER, else the login name, else ``unknown``."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def preflight(settings: Settings) -> None:
    """Fail before a long training run when its result could not be logged or recorded."""
    configure(settings)
    _audit_engine(settings)


def _audit_engine(settings: Settings) -> sa.Engine:
    """The app database, checked *before* any alias moves so a move is never left unrecorded."""
    engine = get_engine(settings.db_url)
    if not sa.inspect(engine).has_table("audit_log"):
        raise RegistryError(
            "The app database has no audit_log table, so alias moves cannot be recorded. "
            "Run `attrition db upgrade` first."
        )
    return engine


# --- the logged model ------------------------------------------------------------------------


class AttritionPyfunc(PythonModel):
    """MLflow wrapper: raw contract records in; probability, label and risk band out.

    The wrapped :class:`AttritionModel` carries the fitted pipeline (feature engineering
    inside), the decision threshold and the risk bands, so they travel with the model.
    """

    def __init__(self, model: AttritionModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input)


def unwrap(loaded: PyFuncModel) -> AttritionModel:
    """The AttritionModel inside a loaded pyfunc."""
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, AttritionPyfunc):
        raise RegistryError(f"the registered model is a {type(wrapper).__name__}, not an attrition model")
    return wrapper.model


def load_model_version(settings: Settings, version: str) -> AttritionModel:
    """Load one registered version (``models:/<name>/<version>``) as an AttritionModel."""
    configure(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
    return unwrap(loaded)


# --- logging a training run ------------------------------------------------------------------


def log_and_register(
    result: TrainingResult,
    settings: Settings,
    *,
    actor: str | None = None,
    source: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> str:
    """Log a training run to MLflow, register the model and point ``challenger`` at it.

    ``source`` says where the training data came from (``employees@2026-10-31``,
    ``csv:workforce.csv``). Returns the new model version. Raises RegistryError before
    logging anything when the app database cannot record the alias move.
    """
    client = configure(settings)
    engine = _audit_engine(settings)
    actor = actor or default_actor()
    summary = training_summary(result, settings, source=source)
    with mlflow.start_run(experiment_id=experiment_id(client, settings), run_name=_run_name(result)) as run:
        mlflow.log_params(_params(result, settings))
        mlflow.log_metrics(_metrics(result))
        mlflow.set_tags({**_tags(result, summary), **dict(extra_tags or {})})
        with tempfile.TemporaryDirectory() as tmp:
            _write_run_files(result, summary, Path(tmp))
            mlflow.log_artifacts(tmp)
        model_info = _log_model(result.model, result.holdout_frame)
    version = _register(client, settings, model_info.model_uri, run.info.run_id, summary)
    _move_alias(client, settings, engine, CHALLENGER, version, actor, "trained", ACTION_CHALLENGER)
    logger.info(
        "logged run %s, registered %s version %s as challenger", run.info.run_id, settings.model_name, version
    )
    return version


def training_summary(
    result: TrainingResult, settings: Settings, *, source: str | None = None
) -> dict[str, Any]:
    """Everything the model card, the reference data and promotion need, as plain JSON."""
    model = result.model
    train_y = _positive(result.train_frame)
    holdout_y = _positive(result.holdout_frame)
    return {
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_name": settings.model_name,
        "family": result.best_family,
        "best_params": _jsonable(result.best_params),
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "confusion": {k: int(v) for k, v in result.confusion.items()},
        "threshold": float(model.threshold),
        "threshold_rule": model.threshold_rule,
        "risk_bands": model.risk_bands.model_dump(),
        "fairness": _jsonable(result.fairness.to_dict()),
        "fairness_passed": bool(result.fairness.passed),
        "global_importance": {k: float(v) for k, v in result.global_importance.items()},
        "input_columns": list(model.input_columns),
        "protected_attributes": list(model.protected_attributes),
        "protected_excluded": bool(model.protected_excluded),
        "model": _jsonable(model.card_info()),
        "threshold_choice": _jsonable(result.threshold.to_dict()),
        "calibration_reason": result.calibration_reason,
        "timings": {k: round(float(v), 3) for k, v in result.timings.items()},
        "data": {
            "source": source,
            "fingerprint": result.data_fingerprint,
            "rows_train": len(result.train_frame),
            "rows_holdout": len(result.holdout_frame),
            "rows_total": len(result.train_frame) + len(result.holdout_frame),
            "attrition_rate_train": float(train_y.mean()) if len(train_y) else None,
            "attrition_rate_holdout": float(holdout_y.mean()) if len(holdout_y) else None,
            "snapshot_dates": result.snapshot_dates,
        },
        "search": {
            "trials": len(result.study.trials),
            "complete_trials": sum(t.state.name == "COMPLETE" for t in result.study.trials),
            "study_name": result.study.study_name,
        },
        "training_settings": _jsonable(settings.training.model_dump()),
        "git_commit": git_commit(),
    }


def _run_name(result: TrainingResult) -> str:
    return f"train-{result.best_family}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"


def _params(result: TrainingResult, settings: Settings) -> dict[str, str]:
    params = {"family": result.best_family}
    params |= {f"model.{k}": _short(v) for k, v in result.best_params.items()}
    params |= {f"training.{k}": _short(v) for k, v in _flatten(settings.training.model_dump()).items()}
    return params


def _metrics(result: TrainingResult) -> dict[str, float]:
    metrics = {k: float(v) for k, v in result.metrics.items() if np.isfinite(v)}
    metrics |= {f"confusion_{k}": float(v) for k, v in result.confusion.items()}
    metrics["fairness_passed"] = float(result.fairness.passed)
    return metrics


def _tags(result: TrainingResult, summary: Mapping[str, Any]) -> dict[str, str]:
    data = summary["data"]
    tags = {
        "family": result.best_family,
        "data_fingerprint": result.data_fingerprint,
        "data_source": str(data.get("source") or "dataframe"),
        "rows_train": str(data["rows_train"]),
        "rows_holdout": str(data["rows_holdout"]),
        "class_balance": (
            f"attrition rate train={data['attrition_rate_train']:.4f} holdout={data['attrition_rate_holdout']:.4f}"
        ),
        "threshold_rule": summary["threshold_rule"],
        "threshold": f"{summary['threshold']:.6f}",
        "protected_attributes": ",".join(summary["protected_attributes"]),
        "protected_excluded": str(summary["protected_excluded"]).lower(),
        "fairness_passed": str(summary["fairness_passed"]).lower(),
    }
    commit = summary.get("git_commit")
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    return tags


def _write_run_files(result: TrainingResult, summary: Mapping[str, Any], root: Path) -> None:
    """Everything logged as run artifacts, laid out under ``root``."""
    written = {p.name for p in result.write_artifacts(root / "reports")}
    _write_json(root / FAIRNESS_ARTIFACT, result.fairness.to_dict())
    _write_json(root / SUMMARY_ARTIFACT, summary)
    # The trial table and optimisation history, unless the training reports already hold them.
    if not written & {"trials.csv"}:
        (root / TRIALS_ARTIFACT).parent.mkdir(parents=True, exist_ok=True)
        result.study.trials_dataframe().to_csv(root / TRIALS_ARTIFACT, index=False)
    if not any(name.startswith("optimization_history") for name in written):
        (root / HISTORY_ARTIFACT).parent.mkdir(parents=True, exist_ok=True)
        _plot_history(result, root / HISTORY_ARTIFACT)
    (root / HOLDOUT_ARTIFACT).parent.mkdir(parents=True, exist_ok=True)
    _contract(result.holdout_frame).to_parquet(root / HOLDOUT_ARTIFACT, index=False)
    _reference_sample(result).to_parquet(root / REFERENCE_SAMPLE_ARTIFACT, index=False)


def _plot_history(result: TrainingResult, path: Path) -> None:
    if not any(t.state.name == "COMPLETE" for t in result.study.trials):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna's ExperimentalWarning
        plot_optimization_history(result.study)
    figure = plt.gcf()
    figure.set_size_inches(8, 5)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _reference_sample(result: TrainingResult) -> pd.DataFrame:
    """Training + holdout records (capped), so drift is measured against what the model learned from."""
    frame = pd.concat(
        [
            _contract(result.train_frame).assign(split="train"),
            _contract(result.holdout_frame).assign(split="holdout"),
        ],
        ignore_index=True,
    )
    if len(frame) > REFERENCE_SAMPLE_ROWS:
        frame = frame.sample(n=REFERENCE_SAMPLE_ROWS, random_state=0).sort_index()
    return frame.reset_index(drop=True)


def _log_model(model: AttritionModel, holdout: pd.DataFrame) -> Any:
    example = _contract(holdout)[[c for c in RECORD_COLUMNS if c in holdout.columns]].head(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # integer-column and pickling hints
        signature = infer_signature(example, model.predict(example))
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            python_model=AttritionPyfunc(model),
            signature=signature,
            input_example=example,
            pip_requirements=_pinned_requirements(),
        )


def _register(
    client: MlflowClient, settings: Settings, model_uri: str, run_id: str, summary: Mapping[str, Any]
) -> str:
    metrics = summary["metrics"]
    tags = {
        "run_id": run_id,
        "family": summary["family"],
        "trained_at": summary["trained_at"],
        "threshold": f"{summary['threshold']:.6f}",
        "threshold_rule": summary["threshold_rule"],
        "risk_bands": json.dumps(summary["risk_bands"]),
        "roc_auc": f"{metrics.get('roc_auc', float('nan')):.4f}",
        "fairness_passed": str(summary["fairness_passed"]).lower(),
        "data_fingerprint": summary["data"]["fingerprint"],
        "requires": "the attrition package (pip install the project) to unpickle the model",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registered = mlflow.register_model(model_uri, settings.model_name, tags=tags)
    return str(registered.version)


# --- aliases ---------------------------------------------------------------------------------


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def _model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version {version!r}: {exc.message}") from exc


def _move_alias(
    client: MlflowClient,
    settings: Settings,
    engine: sa.Engine,
    alias: str,
    version: str,
    actor: str,
    reason: str,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> str | None:
    """Point ``alias`` at ``version``; record who, when, why and from which version."""
    name = settings.model_name
    previous = alias_version(client, name, alias)
    at = _now()
    client.set_registered_model_alias(name, alias, version)
    for key, value in {
        f"{alias}_set_at": at,
        f"{alias}_set_by": actor,
        f"{alias}_set_reason": reason,
        f"{alias}_previous": previous or "",
    }.items():
        client.set_model_version_tag(name, version, key, value)
    record_audit(
        engine,
        actor,
        action,
        f"{name}@{alias}",
        {"from_version": previous, "to_version": version, "reason": reason, "at": at, **dict(detail or {})},
    )
    logger.info("alias %s of %s: %s -> %s (%s, by %s)", alias, name, previous, version, action, actor)
    return previous


# --- promotion -------------------------------------------------------------------------------


@dataclass
class PromotionDecision:
    """What promotion decided and why (``promoted`` False = no alias moved)."""

    promoted: bool
    version: str
    previous_champion: str | None
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        head = (
            f"version {self.version} promoted to {CHAMPION} (was {self.previous_champion or 'none'})"
            if self.promoted
            else f"version {self.version} NOT promoted"
        )
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(
    settings: Settings,
    version: str | int | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> PromotionDecision:
    """Make ``version`` (default: the challenger) champion if it passes every gate.

    Gates: the fairness gate passed; holdout ROC-AUC >= ``min_roc_auc``; and, when a
    champion exists, both are evaluated on the challenger's holdout and the challenger
    may trail by at most ``max_roc_auc_drop``. (The champion may have trained on some of
    those rows, which favours the champion: a conservative comparison.) A refused
    promotion moves no alias and is recorded in the audit table.
    """
    client = configure(settings)
    engine = _audit_engine(settings)
    actor = actor or default_actor()
    name = settings.model_name
    if version is None:
        version = alias_version(client, name, CHALLENGER)
        if version is None:
            raise RegistryError(f"model {name!r} has no {CHALLENGER}: train one with `attrition train`")
    version = str(version)
    candidate = _model_version(client, name, version)
    champion = alias_version(client, name, CHAMPION)
    decision = PromotionDecision(promoted=False, version=version, previous_champion=champion)
    if champion == version:
        decision.reasons.append(f"version {version} is already the {CHAMPION}")
        return decision
    _check_gates(settings, client, candidate, champion, decision)
    if decision.reasons:
        _record_refusal(client, settings, engine, decision, actor)
        return decision
    why = reason or "passed promotion gates"
    decision.reasons.append(why)
    # A promoted challenger stops being the challenger; the promotion event records that too.
    clear_challenger = alias_version(client, name, CHALLENGER) == version
    detail = {"checks": _jsonable(decision.checks), "challenger_cleared": clear_challenger}
    _move_alias(client, settings, engine, CHAMPION, version, actor, why, ACTION_PROMOTE, detail)
    if clear_challenger:
        client.delete_registered_model_alias(name, CHALLENGER)
    if champion is not None:
        client.set_model_version_tag(name, champion, "replaced_by", version)
        client.set_model_version_tag(name, champion, "replaced_at", _now())
    decision.promoted = True
    _write_reference(settings, client, version)
    return decision


def _check_gates(
    settings: Settings,
    client: MlflowClient,
    candidate: ModelVersion,
    champion: str | None,
    decision: PromotionDecision,
) -> None:
    """Fill ``decision.checks``; append a reason for every gate that fails."""
    gate = settings.training
    run = client.get_run(str(candidate.run_id))
    fairness_passed = run.data.tags.get("fairness_passed") == "true"
    roc_auc = run.data.metrics.get("roc_auc", float("nan"))
    decision.checks |= {
        "fairness_passed": fairness_passed,
        "roc_auc": roc_auc,
        "min_roc_auc": gate.min_roc_auc,
    }
    if not fairness_passed:
        failures = _fairness_failures(client, str(candidate.run_id))
        decision.reasons.append("fairness gate failed" + (f": {'; '.join(failures)}" if failures else ""))
    if not roc_auc >= gate.min_roc_auc:
        decision.reasons.append(f"holdout ROC-AUC {roc_auc:.4f} is below the floor {gate.min_roc_auc:.4f}")
    if champion is None or decision.reasons:
        return
    holdout = load_run_frame(client, str(candidate.run_id), HOLDOUT_ARTIFACT)
    from attrition.training.evaluation import evaluate

    challenger_auc = evaluate(load_model_version(settings, str(candidate.version)), holdout)["roc_auc"]
    champion_auc = evaluate(load_model_version(settings, champion), holdout)["roc_auc"]
    drop = champion_auc - challenger_auc
    decision.checks |= {
        "champion_version": champion,
        "champion_roc_auc_on_holdout": champion_auc,
        "challenger_roc_auc_on_holdout": challenger_auc,
        "roc_auc_drop": drop,
        "max_roc_auc_drop": gate.max_roc_auc_drop,
        "holdout_rows": len(holdout),
    }
    if drop > gate.max_roc_auc_drop:
        decision.reasons.append(
            f"ROC-AUC {challenger_auc:.4f} on its holdout is {drop:.4f} below champion version {champion} "
            f"({champion_auc:.4f}); the tolerance is {gate.max_roc_auc_drop:.4f}"
        )


def _fairness_failures(client: MlflowClient, run_id: str) -> list[str]:
    try:
        summary = load_run_json(client, run_id, FAIRNESS_ARTIFACT)
    except Exception:  # the reason without detail is still the reason
        return []
    failures = summary.get("failures") or []
    return [str(f) for f in failures]


def _record_refusal(
    client: MlflowClient, settings: Settings, engine: sa.Engine, decision: PromotionDecision, actor: str
) -> None:
    name = settings.model_name
    reasons = "; ".join(decision.reasons)
    client.set_model_version_tag(name, decision.version, "promotion_refused_at", _now())
    client.set_model_version_tag(name, decision.version, "promotion_refused_reason", reasons[:4000])
    record_audit(
        engine,
        actor,
        ACTION_REFUSED,
        f"{name}@{CHAMPION}",
        {"version": decision.version, "champion": decision.previous_champion, "reasons": decision.reasons}
        | {"checks": _jsonable(decision.checks)},
    )
    logger.warning("promotion of %s version %s refused: %s", name, decision.version, reasons)


def rollback(settings: Settings, *, actor: str | None = None, reason: str | None = None) -> PromotionDecision:
    """Point ``champion`` back at the champion it replaced (from tags, else the audit trail)."""
    client = configure(settings)
    engine = _audit_engine(settings)
    actor = actor or default_actor()
    name = settings.model_name
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"model {name!r} has no {CHAMPION} to roll back")
    target = _previous_champion(client, engine, name, current)
    if target is None:
        raise RegistryError(f"{CHAMPION} version {current} has no previous champion to roll back to")
    why = reason or f"rollback from version {current}"
    # The restored version keeps its own history: its previous champion stays what it was.
    key = f"{CHAMPION}_previous"
    history = _model_version(client, name, target).tags.get(key)
    _move_alias(
        client, settings, engine, CHAMPION, target, actor, why, ACTION_ROLLBACK, {"rolled_back": current}
    )
    if history is None:
        client.delete_model_version_tag(name, target, key)
    else:
        client.set_model_version_tag(name, target, key, history)
    client.set_model_version_tag(name, current, "rolled_back_at", _now())
    client.set_model_version_tag(name, current, "rolled_back_by", actor)
    _write_reference(settings, client, target)
    return PromotionDecision(promoted=True, version=target, previous_champion=current, reasons=[why])


def _previous_champion(client: MlflowClient, engine: sa.Engine, name: str, current: str) -> str | None:
    """The champion ``current`` replaced when it was promoted (tag, else the audit trail).

    Rollbacks do not count: rolling back twice walks further back, never forward again.
    """
    tags = _model_version(client, name, current).tags
    key = f"{CHAMPION}_previous"
    if key in tags:
        return tags[key] or None
    for event in list_audit(engine, action=ACTION_PROMOTE, limit=1000):
        detail = event.get("detail") or {}
        if event["subject"] == f"{name}@{CHAMPION}" and str(detail.get("to_version")) == current:
            return str(detail["from_version"]) if detail.get("from_version") else None
    return None


def refresh_reference(settings: Settings) -> str:
    """Rewrite the drift reference data from the current champion; returns its version."""
    client = configure(settings)
    version = alias_version(client, settings.model_name, CHAMPION)
    if version is None:
        raise RegistryError(
            f"no {CHAMPION} of {settings.model_name!r} to take reference data from: "
            "train and promote one first (`attrition train --promote`)"
        )
    _write_reference(settings, client, version)
    return version


def _write_reference(settings: Settings, client: MlflowClient, version: str) -> None:
    from attrition.reference import write_reference

    run_id = str(_model_version(client, settings.model_name, version).run_id)
    write_reference(
        settings,
        load_model_version(settings, version),
        load_run_frame(client, run_id, REFERENCE_SAMPLE_ARTIFACT),
        model_version=version,
        summary=load_run_json(client, run_id, SUMMARY_ARTIFACT),
        run_id=run_id,
    )


# --- reading runs back -----------------------------------------------------------------------


def load_run_frame(client: MlflowClient, run_id: str, artifact: str) -> pd.DataFrame:
    """A parquet artifact of a run (the holdout, the reference sample)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, artifact, tmp)
        return pd.read_parquet(path)


def load_run_json(client: MlflowClient, run_id: str, artifact: str) -> dict[str, Any]:
    """A JSON artifact of a run (the training summary, the fairness report)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, artifact, tmp)
        return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def version_summary(settings: Settings, version: str) -> dict[str, Any]:
    """The training summary of a registered version, with its registry facts added."""
    client = configure(settings)
    mv = _model_version(client, settings.model_name, version)
    summary = load_run_json(client, str(mv.run_id), SUMMARY_ARTIFACT)
    summary |= {"model_version": str(mv.version), "run_id": mv.run_id, "version_tags": dict(mv.tags)}
    return summary


# --- helpers ---------------------------------------------------------------------------------


def git_commit() -> str | None:
    """The commit the code came from: $GITHUB_SHA / $GIT_COMMIT, else ``git rev-parse``."""
    for var in ("GITHUB_SHA", "GIT_COMMIT"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _contract(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in ALL_COLUMNS if c in frame.columns]].reset_index(drop=True)


def _positive(frame: pd.DataFrame) -> np.ndarray:
    if TARGET not in frame:
        return np.array([], dtype=float)
    return (frame[TARGET].astype(str) == "Yes").to_numpy(dtype=float)


def _pinned_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for package in _REQUIREMENTS:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pinned


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _short(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text[:500]


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy scalars and NaN become plain values."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | dt.datetime | Path):
        return str(value)
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=True), encoding="utf-8")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
