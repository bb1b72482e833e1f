"""The MLflow store: connection, experiments, versions, aliases and run artifacts read back.

Nothing happens at import: :func:`configure` points MLflow at ``settings.tracking_uri``
(a local SQLite store in the data dir by default, or an ``mlflow server`` URL). This
module reads; ``registry.runs`` writes training runs and ``registry.aliases`` moves
aliases.
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
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sqlalchemy.engine import make_url

from attrition.config import TRAINING_EXPERIMENT, Settings
from attrition.db.engine import get_engine

logger = logging.getLogger(__name__)


MODEL_ARTIFACT = "model"
HOLDOUT_ARTIFACT = "data/holdout.parquet"
REFERENCE_SAMPLE_ARTIFACT = "data/reference_sample.parquet"
SUMMARY_ARTIFACT = "summary/training_summary.json"
FAIRNESS_ARTIFACT = "fairness/fairness_report.json"


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
    audit_engine(settings)


def audit_engine(settings: Settings) -> sa.Engine:
    """The app database, checked *before* any alias moves so a move is never left unrecorded."""
    engine = get_engine(settings.db_url)
    if not sa.inspect(engine).has_table("audit_log"):
        raise RegistryError(
            "The app database has no audit_log table, so alias moves cannot be recorded. "
            "Run `attrition db upgrade` first."
        )
    return engine


# --- aliases and versions ---


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version {version!r}: {exc.message}") from exc


# --- reading runs back ---


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
    mv = model_version(client, settings.model_name, version)
    summary = load_run_json(client, str(mv.run_id), SUMMARY_ARTIFACT)
    summary |= {"model_version": str(mv.version), "run_id": mv.run_id, "version_tags": dict(mv.tags)}
    return summary


def run_experiment(settings: Settings, run_id: str) -> str | None:
    """The experiment id of a run (the MLflow UI's run page lives under it); None if the run is gone."""
    try:
        return str(configure(settings).get_run(run_id).info.experiment_id)
    except MlflowException:
        return None


# --- helpers ---


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


def jsonable(value: Any) -> Any:
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


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
