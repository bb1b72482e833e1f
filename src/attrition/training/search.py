"""Hyperparameter search: an Optuna study over three model families, scored by stratified K-fold ROC-AUC.

Why it is built this way:

* The folds are fixed (seeded ``StratifiedKFold``) and their features are computed
  once per study: ``FeatureBuilder`` is deterministic given its fit data, so fitting
  it inside every trial would give the same matrices, only slower.
* The pruner sees the running mean AUC after each fold, so a poor configuration is
  stopped after two folds instead of five.
* With an RDB ``storage`` (PostgreSQL in production, a SQLite file in tests)
  several processes load the same study (``load_if_exists``) and
  ``MaxTrialsCallback`` counts finished trials (complete + pruned) across all of
  them, so together they run ``n_trials`` — at most one extra per other worker,
  because a trial still running elsewhere is not counted until it finishes.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, Trial, TrialState
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from attrition.config import BOOSTING, FOREST, LOGISTIC, MODEL_FAMILIES, TrainingSettings
from attrition.features import FeatureBuilder

logger = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = MODEL_FAMILIES
_PREFIX: dict[str, str] = {LOGISTIC: "lr_", FOREST: "rf_", BOOSTING: "hgb_"}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

Progress = Callable[[int, int], None]


def suggest_config(trial: Trial, families: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Pick a family and its hyperparameters; returns the family and un-prefixed params.

    Tree sizes are capped (forest <= 150 trees of depth <= 8, boosting <= 300 trees of
    <= 32 leaves): exact TreeSHAP costs trees x leaves x depth^2 per record, and these
    caps keep one explanation in milliseconds.
    """
    family = str(trial.suggest_categorical("family", list(families)))
    if family == LOGISTIC:
        raw = {
            "lr_C": trial.suggest_float("lr_C", 1e-3, 10.0, log=True),
            "lr_class_weight": trial.suggest_categorical("lr_class_weight", [None, "balanced"]),
        }
    elif family == FOREST:
        raw = {
            "rf_n_estimators": trial.suggest_int("rf_n_estimators", 50, 150, step=25),
            "rf_max_depth": trial.suggest_int("rf_max_depth", 3, 8),
            "rf_min_samples_leaf": trial.suggest_int("rf_min_samples_leaf", 1, 30, log=True),
            "rf_max_features": trial.suggest_float("rf_max_features", 0.1, 0.5),
            "rf_class_weight": trial.suggest_categorical(
                "rf_class_weight", [None, "balanced", "balanced_subsample"]
            ),
        }
    elif family == BOOSTING:
        raw = {
            "hgb_learning_rate": trial.suggest_float("hgb_learning_rate", 0.01, 0.3, log=True),
            "hgb_max_iter": trial.suggest_int("hgb_max_iter", 50, 300, step=25),
            "hgb_max_leaf_nodes": trial.suggest_int("hgb_max_leaf_nodes", 4, 32, log=True),
            "hgb_l2_regularization": trial.suggest_float("hgb_l2_regularization", 1e-6, 10.0, log=True),
            "hgb_class_weight": trial.suggest_categorical("hgb_class_weight", [None, "balanced"]),
        }
    else:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")
    return family, strip_prefix(family, raw)


def strip_prefix(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """Trial params (``rf_max_depth``) -> estimator params (``max_depth``) of that family."""
    prefix = _PREFIX[family]
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def estimator_steps(family: str, params: dict[str, Any], seed: int) -> list[tuple[str, BaseEstimator]]:
    """The pipeline steps after feature engineering; the last step is always named ``model``."""
    if family == LOGISTIC:
        return [
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=5000, random_state=seed, **params)),
        ]
    if family == FOREST:
        return [("model", RandomForestClassifier(random_state=seed, n_jobs=1, **params))]
    if family == BOOSTING:
        return [("model", HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params))]
    raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")


def build_pipeline(family: str, params: dict[str, Any], exclude: Sequence[str], seed: int) -> Pipeline:
    """Raw records -> features -> estimator (uncalibrated)."""
    return Pipeline(
        [("features", FeatureBuilder(exclude=tuple(exclude))), *estimator_steps(family, params, seed)]
    )


@dataclass(frozen=True)
class Fold:
    """One CV fold with its features already computed."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


def prepare_folds(
    frame: pd.DataFrame, y: np.ndarray, exclude: Sequence[str], folds: int, seed: int
) -> list[Fold]:
    """Seeded stratified folds; the feature builder is fitted on each fold's training part only."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    prepared = []
    for train_idx, valid_idx in splitter.split(np.zeros(len(y)), y):
        builder = FeatureBuilder(exclude=tuple(exclude)).fit(frame.iloc[train_idx])
        prepared.append(
            Fold(
                builder.transform(frame.iloc[train_idx]),
                y[train_idx],
                builder.transform(frame.iloc[valid_idx]),
                y[valid_idx],
            )
        )
    return prepared


def _estimator(family: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    steps = estimator_steps(family, params, seed)
    return Pipeline(steps) if len(steps) > 1 else steps[0][1]


def make_objective(folds: list[Fold], families: Sequence[str], seed: int) -> Callable[[Trial], float]:
    """Mean fold ROC-AUC; reports the running mean after each fold so the pruner can stop early."""
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial: Trial) -> float:
        family, params = suggest_config(trial, families)
        trial.set_user_attr("family", family)
        trial.set_user_attr("worker", worker)
        aucs: list[float] = []
        pr_aucs: list[float] = []
        for step, fold in enumerate(folds):
            model = _estimator(family, params, seed).fit(fold.X_train, fold.y_train)
            scores = model.predict_proba(fold.X_valid)[:, 1]
            aucs.append(float(roc_auc_score(fold.y_valid, scores)))
            pr_aucs.append(float(average_precision_score(fold.y_valid, scores)))
            trial.report(float(np.mean(aucs)), step)
            if trial.should_prune():
                trial.set_user_attr("cv_pr_auc", float(np.mean(pr_aucs)))
                raise optuna.TrialPruned()
        trial.set_user_attr("cv_pr_auc", float(np.mean(pr_aucs)))
        trial.set_user_attr("cv_roc_auc_std", float(np.std(aucs)))
        return float(np.mean(aucs))

    return objective


@dataclass(frozen=True)
class SearchOutcome:
    """What the final fit needs from the study."""

    study: optuna.Study
    best_family: str
    best_params: dict[str, Any]
    cv_roc_auc: float
    cv_pr_auc: float


def open_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna RDB storage; retried because workers started together race to create its tables."""
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(url)
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == attempts:
                raise
            logger.info("optuna storage not ready (attempt %d of %d), retrying", attempt, attempts)
            time.sleep(0.2 * attempt + random.random() * 0.3)
    raise AssertionError("unreachable")  # pragma: no cover


def create_study(seed: int, storage: str | None = None, study_name: str | None = None) -> optuna.Study:
    """Seeded TPE + median pruner (no pruning before 5 trials or on the first fold); joins an existing study."""
    return optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        storage=open_storage(storage) if storage else None,
        study_name=study_name,
        load_if_exists=True,
    )


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards the shared budget (complete or pruned, any worker)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_search(
    frame: pd.DataFrame,
    y: np.ndarray,
    settings: TrainingSettings,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    progress: Progress | None = None,
) -> SearchOutcome:
    """Run (or join) the study until ``settings.trials`` trials are finished in total, or the timeout."""
    exclude = settings.protected_attributes if settings.exclude_protected_from_features else []
    folds = prepare_folds(frame, y, exclude, settings.cv_folds, settings.seed)
    study = create_study(settings.seed, storage, study_name)
    total = settings.trials
    remaining = total - count_finished(study)
    logger.info("study %s: %d of %d trials already finished", study.study_name, total - remaining, total)

    def report(study: optuna.Study, trial: FrozenTrial) -> None:
        done = min(count_finished(study), total)
        logger.debug("trial %d %s value=%s", trial.number, trial.state.name, trial.value)
        if progress is not None:
            progress(done, total)

    if remaining > 0:
        # Capped threads: OpenMP oversubscription on a busy machine makes HistGradientBoosting 10x slower.
        with threadpool_limits(limits=settings.threads):
            study.optimize(
                make_objective(folds, settings.families, settings.seed),
                n_trials=remaining,
                timeout=settings.timeout_seconds,
                callbacks=[MaxTrialsCallback(total, states=FINISHED), report],
                gc_after_trial=False,
            )
    return outcome_of(study)


def outcome_of(study: optuna.Study) -> SearchOutcome:
    """Best complete trial as a family + estimator params."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise RuntimeError(
            f"study {study.study_name!r} has no completed trial (timeout too short, or every trial failed)"
        )
    best = study.best_trial
    family = str(best.params["family"])
    return SearchOutcome(
        study=study,
        best_family=family,
        best_params=strip_prefix(family, best.params),
        cv_roc_auc=float(best.value if best.value is not None else np.nan),
        cv_pr_auc=float(best.user_attrs.get("cv_pr_auc", np.nan)),
    )
