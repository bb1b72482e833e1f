"""One employee's rows in the MLflow runs: the holdout and reference-sample tables of each training run.

Training logs those tables with every run (the model card and the drift reference are built
from them), so a forget that stopped at the app database would leave the person's record in
MLflow. ``attrition export-employee`` lists the rows; ``forget-employee`` rewrites each table
without them, in place (the same artifact path, so the model card and the reference still
load). The model's input example is generated, not taken from the data (``registry/runs.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.engine import make_url

from attrition.config import TRAINING_EXPERIMENT, Settings
from attrition.errors import short_error
from attrition.registry.store import HOLDOUT_ARTIFACT, REFERENCE_SAMPLE_ARTIFACT, RegistryError, configure
from attrition.schema import ID_COLUMN

#: The per-employee tables a training run logs.
EMPLOYEE_TABLES = (HOLDOUT_ARTIFACT, REFERENCE_SAMPLE_ARTIFACT)


def _run_ids(client: MlflowClient) -> list[str]:
    """Every run of the training experiment, deleted ones too (their artifacts are still stored)."""
    experiment = client.get_experiment_by_name(TRAINING_EXPERIMENT)
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id], run_view_type=3, max_results=50_000)  # 3: ALL
    return [run.info.run_id for run in runs]


def _tables(client: MlflowClient, run_id: str, tmp: Path) -> Iterator[tuple[str, Path]]:
    """(artifact path, local copy) of each employee table the run has."""
    names = {info.path for info in client.list_artifacts(run_id, "data")}
    for artifact in EMPLOYEE_TABLES:
        if artifact in names:
            yield artifact, Path(client.download_artifacts(run_id, artifact, str(tmp / run_id)))


def _hits(frame: pd.DataFrame, number: int) -> pd.Series:
    if ID_COLUMN not in frame:
        return pd.Series(False, index=frame.index)
    return pd.to_numeric(frame[ID_COLUMN], errors="coerce") == number


def _no_store(settings: Settings) -> bool:
    """A local tracking store not created yet holds no run (and is not created just to look)."""
    uri = settings.tracking_uri
    if not uri.startswith("sqlite:"):
        return False
    database = make_url(uri).database
    return bool(database) and database != ":memory:" and not Path(str(database)).exists()


def run_lines(settings: Settings, number: int) -> list[dict[str, Any]]:
    """Per run and table: the employee's rows, for the export (RegistryError when MLflow fails)."""
    if _no_store(settings):
        return []
    try:
        return _run_lines(configure(settings), number)
    except MlflowException as exc:
        raise RegistryError(f"MLflow could not list the runs' tables: {short_error(exc)}") from None


def _run_lines(client: MlflowClient, number: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run_id in _run_ids(client):
            for artifact, path in _tables(client, run_id, Path(tmp)):
                frame = pd.read_parquet(path)
                rows = frame[_hits(frame, number)]
                if len(rows):
                    found.append({"run_id": run_id, "artifact": artifact, "rows": rows.to_dict("records")})
    return found


def forget_runs(settings: Settings, number: int) -> int:
    """Rewrite each run table holding the employee without their rows; returns the rows removed."""
    if _no_store(settings):
        return 0
    try:
        return _forget_runs(configure(settings), number)
    except MlflowException as exc:
        raise RegistryError(f"MLflow could not rewrite the runs' tables: {short_error(exc)}") from None


def _forget_runs(client: MlflowClient, number: int) -> int:
    removed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for run_id in _run_ids(client):
            for artifact, path in _tables(client, run_id, Path(tmp)):
                frame = pd.read_parquet(path)
                hits = _hits(frame, number)
                if not hits.any():
                    continue
                frame[~hits].reset_index(drop=True).to_parquet(path, index=False)
                client.log_artifact(run_id, str(path), str(Path(artifact).parent))
                removed += int(hits.sum())
    return removed
