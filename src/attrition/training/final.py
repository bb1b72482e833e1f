"""Final model: refit the best configuration on the training split, calibrate, choose the threshold.

Calibration uses ``CalibratedClassifierCV(ensemble=False)``: the calibrator is fitted
on out-of-fold scores of the training split, and the estimator is refitted on the
whole split, so the served model is ONE pipeline behind ONE monotone map (simple to
explain exactly; see serving.explain).

Method (``settings.calibration="auto"``): sigmoid (Platt) below
``isotonic_min_rows`` training rows, isotonic above. Isotonic regression is
non-parametric and, on a few hundred leavers, fits a staircase to noise
(overconfident steps, ties); the two-parameter sigmoid is stable there. With
thousands of rows isotonic can correct miscalibration a sigmoid cannot
(e.g. a forest's squashed extremes).

The threshold is chosen on the out-of-fold calibrated probabilities: the same
folds' out-of-fold scores (recomputed with the same seeded splits, so they equal
the ones the calibrator saw) mapped through the fitted calibrator. The map is
monotone, so this ranks records exactly as honest out-of-fold scores do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from attrition.config import TrainingSettings
from attrition.serving.explain import ShapExplainer
from attrition.serving.model import AttritionModel
from attrition.training.search import SearchOutcome, build_pipeline
from attrition.training.threshold import ThresholdChoice, choose_threshold


@dataclass(frozen=True)
class FinalFit:
    model: AttritionModel
    oof_probability: np.ndarray
    threshold: ThresholdChoice
    calibration_reason: str


def calibration_method(train_rows: int, settings: TrainingSettings) -> tuple[str, str]:
    """The calibration method and why it was chosen."""
    if settings.calibration != "auto":
        return settings.calibration, f"{settings.calibration}: set in settings (training.calibration)"
    if train_rows >= settings.isotonic_min_rows:
        return "isotonic", (
            f"isotonic: {train_rows} training rows >= {settings.isotonic_min_rows}, enough for the "
            "non-parametric map to correct any monotone miscalibration"
        )
    return "sigmoid", (
        f"sigmoid: {train_rows} training rows < {settings.isotonic_min_rows}; isotonic regression would "
        "overfit a staircase to so few leavers, Platt scaling's two parameters are stable"
    )


def fit_final(
    frame: pd.DataFrame, y: np.ndarray, search: SearchOutcome, settings: TrainingSettings
) -> FinalFit:
    """Refit + calibrate the best configuration on the training split and choose the threshold."""
    exclude = settings.protected_attributes if settings.exclude_protected_from_features else []
    base = build_pipeline(search.best_family, search.best_params, exclude, settings.seed)
    folds = StratifiedKFold(n_splits=settings.cv_folds, shuffle=True, random_state=settings.seed)
    method, reason = calibration_method(len(frame), settings)
    response = "decision_function" if hasattr(base, "decision_function") else "predict_proba"
    with threadpool_limits(limits=settings.threads):
        calibrated = CalibratedClassifierCV(base, method=method, cv=folds, ensemble=False).fit(frame, y)
        oof_raw = cross_val_predict(clone(base), frame, y, cv=folds, method=response)
    if response == "predict_proba":
        oof_raw = oof_raw[:, 1]
    inner = calibrated.calibrated_classifiers_[0]
    calibrator = inner.calibrators[0]
    oof = np.asarray(calibrator.predict(oof_raw), dtype=np.float64)
    choice = choose_threshold(
        y,
        oof,
        settings.threshold_rule,
        cost_missed_leaver=settings.cost_missed_leaver,
        cost_intervention=settings.cost_intervention,
    )
    fitted_base = inner.estimator
    builder = fitted_base.named_steps["features"]
    model = AttritionModel(
        pipeline=calibrated,
        threshold=choice.threshold,
        risk_bands=settings.risk_bands.model_copy(),
        input_columns=list(builder.input_columns_),
        protected_attributes=list(settings.protected_attributes),
        protected_excluded=settings.exclude_protected_from_features,
        threshold_rule=settings.threshold_rule,
        explainer=ShapExplainer(fitted_base, calibrator, search.best_family, frame),
        family=search.best_family,
        calibration=method,
        feature_names=list(builder.feature_names_out_),
        derived_excluded=list(builder.derived_excluded_),
    )
    return FinalFit(model, oof, choice, reason)
