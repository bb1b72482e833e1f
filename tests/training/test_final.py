"""Final fit: calibration method by data size, threshold from out-of-fold calibrated predictions."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from attrition.config import TrainingSettings
from attrition.training.evaluation import expected_calibration_error, labels_of
from attrition.training.final import calibration_method, fit_final
from attrition.training.search import LOGISTIC, SearchOutcome, build_pipeline
from attrition.training.threshold import choose_threshold


def outcome(family: str = LOGISTIC) -> SearchOutcome:
    return SearchOutcome(optuna.create_study(), family, {"C": 0.05, "class_weight": None}, 0.8, 0.5)


def test_calibration_method_follows_data_size() -> None:
    settings = TrainingSettings(isotonic_min_rows=5000)
    method, reason = calibration_method(1200, settings)
    assert method == "sigmoid" and "1200 training rows < 5000" in reason
    method, reason = calibration_method(40_000, settings)
    assert method == "isotonic" and "40000 training rows >= 5000" in reason
    method, reason = calibration_method(100, settings.model_copy(update={"calibration": "isotonic"}))
    assert method == "isotonic" and "set in settings" in reason


def test_threshold_comes_from_out_of_fold_calibrated_predictions(workforce: pd.DataFrame) -> None:
    frame = workforce.iloc[:1200]
    y = labels_of(frame)
    settings = TrainingSettings()
    final = fit_final(frame, y, outcome(), settings)
    assert final.oof_probability.shape == (1200,)
    # Independently: honest out-of-fold decision scores on the same seeded folds, through the fitted calibrator.
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    base = build_pipeline(
        LOGISTIC, {"C": 0.05, "class_weight": None}, settings.protected_attributes, settings.seed
    )
    scores = cross_val_predict(base, frame, y, cv=folds, method="decision_function")
    calibrator = final.model.pipeline.calibrated_classifiers_[0].calibrators[0]
    np.testing.assert_allclose(final.oof_probability, calibrator.predict(scores), atol=1e-12)
    assert final.threshold == choose_threshold(y, final.oof_probability, "f2")
    assert final.model.threshold == final.threshold.threshold
    # Out-of-fold calibrated probabilities are honest: mean close to the base rate, low ECE.
    assert final.oof_probability.mean() == pytest.approx(y.mean(), abs=0.02)
    assert expected_calibration_error(y, final.oof_probability) < 0.05


def test_cost_rule_and_isotonic_calibration_reach_the_model(workforce: pd.DataFrame) -> None:
    frame = workforce.iloc[:1200]
    y = labels_of(frame)
    settings = TrainingSettings(
        threshold_rule="cost", cost_missed_leaver=1.0, cost_intervention=3.0, calibration="isotonic"
    )
    final = fit_final(frame, y, outcome(), settings)
    f2 = fit_final(frame, y, outcome(), TrainingSettings(calibration="isotonic"))
    assert final.model.threshold_rule == "cost" and final.model.calibration == "isotonic"
    assert final.threshold.threshold > f2.threshold.threshold  # expensive interventions: flag fewer
    # Contributions stay additive behind the isotonic (piecewise-linear, flat in places) map.
    records = workforce.iloc[1200:1400]
    result = final.model.contributions(records)
    total = result.base + result.values.sum(axis=1).to_numpy()
    assert np.abs(total - final.model.predict_proba(records)).max() < 1e-6
