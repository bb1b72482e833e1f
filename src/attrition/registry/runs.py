"""One MLflow run per training: parameters, metrics, tags, artifacts, the model, a version.

:func:`log_and_register` logs a :class:`~attrition.training.pipeline.TrainingResult`,
registers the model and points ``challenger`` at the new version.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from attrition.config import CHALLENGER, Settings
from attrition.registry.aliases import ACTION_CHALLENGER, move_alias
from attrition.registry.store import (
    FAIRNESS_ARTIFACT,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SUMMARY_ARTIFACT,
    audit_engine,
    configure,
    default_actor,
    experiment_id,
    git_commit,
    jsonable,
)
from attrition.schema import ALL_COLUMNS, ATTRITION_YES, RECORD_COLUMNS, TARGET
from attrition.serving.pyfunc import AttritionPyfunc

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from attrition.serving.model import AttritionModel
    from attrition.training.pipeline import TrainingResult

logger = logging.getLogger(__name__)


#: Rows of training + holdout data kept with the run as the drift reference sample.
REFERENCE_SAMPLE_ROWS = 20_000

_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "shap", "cloudpickle", "pyarrow")


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
    engine = audit_engine(settings)
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
    move_alias(client, settings, engine, CHALLENGER, version, actor, "trained", ACTION_CHALLENGER)
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
        "best_params": jsonable(result.best_params),
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "confusion": {k: int(v) for k, v in result.confusion.items()},
        "threshold": float(model.threshold),
        "threshold_rule": model.threshold_rule,
        "risk_bands": model.risk_bands.model_dump(),
        "fairness": jsonable(result.fairness.to_dict()),
        "fairness_passed": bool(result.fairness.passed),
        "proxies": jsonable(result.proxies),
        "global_importance": {k: float(v) for k, v in result.global_importance.items()},
        "input_columns": list(model.input_columns),
        "protected_attributes": list(model.protected_attributes),
        "protected_excluded": bool(model.protected_excluded),
        "model": jsonable(model.card_info()),
        "threshold_choice": jsonable(result.threshold.to_dict()),
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
            "history": search_history(result.study.trials),
        },
        "training_settings": jsonable(settings.training.model_dump()),
        "git_commit": git_commit(),
    }


#: Trials kept in the summary's search history (the first ones; the count says how many ran).
MAX_HISTORY = 1000


def search_history(trials: Sequence[FrozenTrial]) -> list[dict[str, Any]]:
    """One row per trial for the model card's search chart: score, family, state, time, settings.

    ``cv_roc_auc`` is the trial's objective (mean over the folds it ran; a pruned trial's is
    its last reported mean); the parameters keep the search space's names.
    """
    rows = []
    for trial in trials[:MAX_HISTORY]:
        value = trial.value if trial.value is not None else _last_report(trial)
        start, end = trial.datetime_start, trial.datetime_complete
        rows.append(
            {
                "number": trial.number,
                "family": trial.user_attrs.get("family") or trial.params.get("family"),
                "state": trial.state.name.lower(),
                "cv_roc_auc": None if value is None or not np.isfinite(value) else round(float(value), 5),
                "cv_pr_auc": trial.user_attrs.get("cv_pr_auc"),
                "seconds": round((end - start).total_seconds(), 2) if start and end else None,
                "params": jsonable({k: v for k, v in trial.params.items() if k != "family"}),
            }
        )
    return rows


def _last_report(trial: FrozenTrial) -> float | None:
    steps = trial.intermediate_values
    return float(steps[max(steps)]) if steps else None


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
    # The training reports include the trial table and the optimisation history.
    result.write_artifacts(root / "reports")
    _write_json(root / FAIRNESS_ARTIFACT, result.fairness.to_dict())
    _write_json(root / SUMMARY_ARTIFACT, summary)
    (root / HOLDOUT_ARTIFACT).parent.mkdir(parents=True, exist_ok=True)
    _contract(result.holdout_frame).to_parquet(root / HOLDOUT_ARTIFACT, index=False)
    _reference_sample(result).to_parquet(root / REFERENCE_SAMPLE_ARTIFACT, index=False)


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


def _input_example(holdout: pd.DataFrame) -> pd.DataFrame:
    """Five generated records typed like the holdout: the example travels with every copy of the
    model, so it is nobody's record (a forget could not reach it)."""
    from attrition.data.generator import generate_workforce

    columns = [c for c in RECORD_COLUMNS if c in holdout.columns]
    synthetic = generate_workforce(5, seed=0)[columns]
    return synthetic.astype({c: holdout[c].dtype for c in columns}).reset_index(drop=True)


def _log_model(model: AttritionModel, holdout: pd.DataFrame) -> Any:
    example = _input_example(holdout)
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


def _contract(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in ALL_COLUMNS if c in frame.columns]].reset_index(drop=True)


def _positive(frame: pd.DataFrame) -> np.ndarray:
    if TARGET not in frame:
        return np.array([], dtype=float)
    return (frame[TARGET].astype(str) == ATTRITION_YES).to_numpy(dtype=float)


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


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(payload), indent=2, sort_keys=True), encoding="utf-8")
