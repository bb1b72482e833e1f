"""``train_model``: checked data -> split -> search -> calibrated model -> holdout metrics, fairness, SHAP.

The holdout (``settings.holdout_fraction``, stratified, seeded) is cut first and
never seen by the search, the refit or the threshold choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from attrition.config import TrainingSettings
from attrition.data.validation import REQUIRED_COLUMNS, SchemaError, validate_frame
from attrition.schema import ALL_COLUMNS, ATTRITION_NO, ATTRITION_YES, SNAPSHOT_DATE, TARGET
from attrition.serving.explain import Contributions, global_importance
from attrition.serving.model import AttritionModel
from attrition.training import plots
from attrition.training.evaluation import classification_metrics, confusion_counts, evaluate, labels_of
from attrition.training.fairness import FairnessReport, fairness_report
from attrition.training.final import fit_final
from attrition.training.proxies import proxy_report
from attrition.training.search import SearchOutcome, run_search
from attrition.training.threshold import ThresholdChoice

__all__ = [
    "FairnessReport",
    "TrainingDataError",
    "TrainingResult",
    "check_training_frame",
    "evaluate",
    "fairness_report",
    "search_trials",
    "train_model",
]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
_SHOWN_ISSUES = 5


class TrainingDataError(ValueError):
    """The training data cannot train a model; the message says what is wrong and where."""


def check_training_frame(frame: pd.DataFrame, settings: TrainingSettings) -> pd.DataFrame:
    """Typed contract columns of ``frame`` or a :class:`TrainingDataError` naming the problem.

    Record validity is the ingest's (``data.validation.validate_frame``); on top,
    training needs a label on every row, enough rows and both classes, with at least
    two leavers and two stayers per CV fold.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TrainingDataError(f"training data must be a pandas DataFrame, got {type(frame).__name__}")
    required = [*REQUIRED_COLUMNS, TARGET]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"training data is missing required column(s): {', '.join(missing)}")
    if len(frame) < settings.min_rows:
        raise TrainingDataError(
            f"training data has {len(frame)} rows; at least {settings.min_rows} are needed "
            "(training.min_rows)"
        )
    try:
        result = validate_frame(frame, first_row_number=1)
    except SchemaError as exc:  # pragma: no cover - columns were checked above
        raise TrainingDataError(f"training data does not fit the contract: {exc}") from exc
    if result.errors:
        shown = "; ".join(
            f"row {i.row}, {i.column}: {i.reason}" + (f" (value {i.value!r})" if i.value is not None else "")
            for i in result.errors[:_SHOWN_ISSUES]
        )
        more = (
            f"; and {len(result.errors) - _SHOWN_ISSUES} more" if len(result.errors) > _SHOWN_ISSUES else ""
        )
        raise TrainingDataError(
            f"training data has {result.rejected_rows} invalid row(s) (rows counted from 1): {shown}{more}"
        )
    typed = result.valid[list(ALL_COLUMNS)].reset_index(drop=True)
    unlabelled = int(typed[TARGET].isna().sum())
    if unlabelled:
        raise TrainingDataError(
            f"{unlabelled} row(s) have no {TARGET} value; training needs {ATTRITION_YES!r} or {ATTRITION_NO!r} "
            "on every row"
        )
    counts = typed[TARGET].value_counts()
    if len(counts) < 2:
        raise TrainingDataError(
            f"training data has one class only: {TARGET} is {counts.index[0]!r} on all {len(typed)} rows; "
            f"a model needs both leavers ({ATTRITION_YES!r}) and stayers ({ATTRITION_NO!r})"
        )
    needed = 2 * settings.cv_folds
    if counts.min() < needed:
        raise TrainingDataError(
            f"only {counts.min()} row(s) with {TARGET}={counts.idxmin()!r}; at least {needed} are needed "
            f"(two per cross-validation fold, training.cv_folds={settings.cv_folds})"
        )
    return typed


def _snapshot_dates(frame: pd.DataFrame) -> list[str]:
    """The distinct snapshot dates of the training records (none for a CSV without them)."""
    if SNAPSHOT_DATE not in frame.columns:
        return []
    return sorted({str(d) for d in frame[SNAPSHOT_DATE].dropna().unique()})


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the contract columns' values, in contract column order (row order matters)."""
    columns = [c for c in ALL_COLUMNS if c in frame.columns]
    digest = hashlib.sha256(",".join(columns).encode())
    digest.update(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass
class TrainingResult:
    """Everything one training run produced (the registry logs it; see ``write_artifacts``)."""

    model: AttritionModel
    study: optuna.Study
    best_family: str
    best_params: dict[str, Any]
    metrics: dict[str, float]
    confusion: dict[str, int]
    fairness: FairnessReport
    global_importance: dict[str, float]
    train_frame: pd.DataFrame
    holdout_frame: pd.DataFrame
    data_fingerprint: str
    threshold: ThresholdChoice
    calibration_reason: str
    holdout_probability: np.ndarray
    holdout_contributions: Contributions
    explained_frame: pd.DataFrame  # the holdout rows behind holdout_contributions
    timings: dict[str, float] = field(default_factory=dict)
    snapshot_dates: list[str] = field(default_factory=list)  # HRIS snapshots the data came from
    proxies: dict[str, Any] = field(
        default_factory=dict
    )  # how well the inputs predict each protected attribute

    def write_artifacts(self, directory: Path) -> list[Path]:
        """Plots (PNG), reports (JSON) and the trial table (CSV) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        y = labels_of(self.holdout_frame)
        p = self.holdout_probability
        paths = [
            plots.roc_plot(y, p, directory / "roc_curve.png"),
            plots.pr_plot(y, p, self.model.threshold, directory / "pr_curve.png"),
            plots.calibration_plot(y, p, directory / "calibration.png"),
            plots.importance_plot(self.global_importance, directory / "shap_importance.png"),
            plots.beeswarm_plot(
                self.holdout_contributions.values, self.explained_frame, directory / "shap_beeswarm.png"
            ),
            plots.history_plot(self.study, directory / "optimization_history.png"),
        ]
        reports: dict[str, Any] = {
            "metrics.json": {"metrics": self.metrics, "confusion": self.confusion},
            "fairness.json": self.fairness.to_dict(),
            "global_importance.json": self.global_importance,
            "threshold.json": {**self.threshold.to_dict(), "risk_bands": self.model.risk_bands.model_dump()},
            "model_info.json": {
                **self.model.card_info(),
                "best_params": self.best_params,
                "calibration_reason": self.calibration_reason,
                "data_fingerprint": self.data_fingerprint,
                "train_rows": len(self.train_frame),
                "holdout_rows": len(self.holdout_frame),
            },
        }
        for name, content in reports.items():
            path = directory / name
            path.write_text(json.dumps(content, indent=2, default=str), encoding="utf-8")
            paths.append(path)
        trials = directory / "trials.csv"
        self.study.trials_dataframe().to_csv(trials, index=False)
        paths.append(trials)
        return paths


def train_model(
    frame: pd.DataFrame,
    settings: TrainingSettings,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Train, calibrate and audit a model on raw contract records with an ``Attrition`` label.

    ``storage``: Optuna RDB URL to share the study between processes; ``study_name``
    defaults to one derived from the data fingerprint and seed, so processes
    started on the same data join the same study.
    """
    data = check_training_frame(frame, settings)
    with threadpool_limits(limits=settings.threads):
        result = _train(data, settings, storage=storage, study_name=study_name, progress=progress)
    result.snapshot_dates = _snapshot_dates(frame)
    return result


def search_trials(
    frame: pd.DataFrame,
    settings: TrainingSettings,
    *,
    storage: str,
    study_name: str | None = None,
    progress: Progress | None = None,
) -> SearchOutcome:
    """Only the search: run trials of the shared study on ``storage`` and stop.

    The extra workers of a parallel search (``attrition train --search-only``): they
    split the same trials as ``train_model`` on the same data and seed, and leave
    the refit, audit and registration to the one process that runs ``train_model``,
    so the registry gets one version, not one per worker.
    """
    data = check_training_frame(frame, settings)
    train, _, y_train, _ = _split(data, settings)
    name = study_name or _default_study_name(data_fingerprint(data), settings, storage)
    with threadpool_limits(limits=settings.threads):
        return run_search(train, y_train, settings, storage=storage, study_name=name, progress=progress)


def _default_study_name(fingerprint: str, settings: TrainingSettings, storage: str | None) -> str | None:
    """Processes on the same data and seed join the same study (in-memory studies need no name)."""
    return f"attrition-{fingerprint[:12]}-seed{settings.seed}" if storage else None


def _split(
    data: pd.DataFrame, settings: TrainingSettings
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The stratified, seeded train / holdout split: the same in every process."""
    y_all = labels_of(data)
    train_idx, holdout_idx = train_test_split(
        np.arange(len(data)), test_size=settings.holdout_fraction, stratify=y_all, random_state=settings.seed
    )
    train, holdout = (
        data.iloc[train_idx].reset_index(drop=True),
        data.iloc[holdout_idx].reset_index(drop=True),
    )
    logger.info(
        "training on %d rows, holdout %d rows, leaver share %.3f", len(train), len(holdout), y_all.mean()
    )
    return train, holdout, y_all[train_idx], y_all[holdout_idx]


def _train(
    data: pd.DataFrame,
    settings: TrainingSettings,
    *,
    storage: str | None,
    study_name: str | None,
    progress: Progress | None,
) -> TrainingResult:
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    fingerprint = data_fingerprint(data)
    train, holdout, y_train, y_holdout = _split(data, settings)
    name = study_name or _default_study_name(fingerprint, settings, storage)
    search = run_search(train, y_train, settings, storage=storage, study_name=name, progress=progress)
    timings["search_seconds"] = time.perf_counter() - clock
    logger.info("best: %s cv_roc_auc=%.4f", search.best_family, search.cv_roc_auc)

    final = fit_final(train, y_train, search, settings)
    model = final.model
    timings["final_fit_seconds"] = time.perf_counter() - clock - timings["search_seconds"]

    probability = model.predict_proba(holdout)
    metrics = classification_metrics(
        y_holdout, probability, model.threshold, resamples=settings.bootstrap_resamples, seed=settings.seed
    )
    metrics.update(cv_roc_auc=search.cv_roc_auc, cv_pr_auc=search.cv_pr_auc)
    fairness = fairness_report(y_holdout, probability >= model.threshold, holdout, settings)
    proxies = proxy_report(data, model.input_columns, settings.protected_attributes, settings.seed)

    explained = holdout
    if len(holdout) > settings.shap_max_rows:
        explained = holdout.sample(settings.shap_max_rows, random_state=settings.seed)
    contributions = model.contributions(explained)
    timings["total_seconds"] = time.perf_counter() - clock
    logger.info(
        "holdout roc_auc=%.4f pr_auc=%.4f fairness=%s (%.1fs)",
        metrics["roc_auc"],
        metrics["pr_auc"],
        "passed" if fairness.passed else "FAILED",
        timings["total_seconds"],
    )
    return TrainingResult(
        model=model,
        study=search.study,
        best_family=search.best_family,
        best_params=search.best_params,
        metrics=metrics,
        confusion=confusion_counts(y_holdout, probability, model.threshold),
        fairness=fairness,
        proxies=proxies,
        global_importance=global_importance(contributions),
        train_frame=train,
        holdout_frame=holdout,
        data_fingerprint=fingerprint,
        threshold=final.threshold,
        calibration_reason=final.calibration_reason,
        holdout_probability=probability,
        holdout_contributions=contributions,
        explained_frame=explained,
        timings=timings,
    )
