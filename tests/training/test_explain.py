"""Explanations per original contract column: additivity, exactness per family, API shape, pickling."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import shap

from attrition.config import TrainingSettings
from attrition.schema import SPECS
from attrition.serving.explain import global_importance, source_mapping
from attrition.serving.model import AttritionModel
from attrition.training.search import FAMILIES, LOGISTIC

#: |base + sum(contributions) - predicted probability| allowed (float round-off only).
ADDITIVITY_TOLERANCE = 1e-6
PROTECTED = {"Gender", "Age", "MaritalStatus"}


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_add_up_to_the_calibrated_probability(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame, family: str
) -> None:
    model = family_models[family]
    records = workforce.iloc[1200:1500]
    result = model.contributions(records)
    probability = model.predict_proba(records)
    np.testing.assert_allclose(result.probability, probability, rtol=0, atol=1e-12)
    total = result.base + result.values.sum(axis=1).to_numpy()
    assert np.abs(total - probability).max() < ADDITIVITY_TOLERANCE
    assert 0.0 < result.base < 1.0
    # Reported against original contract columns only, and never a protected one.
    assert list(result.values.columns) == model.input_columns
    assert set(result.values.columns) <= set(SPECS) and not set(result.values.columns) & PROTECTED
    assert list(result.values.index) == list(records.index)


@pytest.mark.parametrize("family", FAMILIES)
def test_raw_shap_values_are_exact_in_the_estimator_output(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame, family: str
) -> None:
    explainer = family_models[family].explainer
    base, phi, raw = explainer.raw_shap(workforce.iloc[1200:1400])
    assert phi.shape == (200, len(explainer.feature_names))
    assert np.abs(base + phi.sum(axis=1) - raw).max() < 1e-6  # SHAP local accuracy


def test_logistic_values_equal_shap_linear_explainer(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame
) -> None:
    explainer = family_models[LOGISTIC].explainer
    model = explainer._model
    background = explainer._pre.transform(workforce.iloc[:1200])
    reference = shap.LinearExplainer(model, shap.maskers.Independent(background, max_samples=len(background)))
    X = explainer._pre.transform(workforce.iloc[1200:1250])
    expected = reference(X)
    base, phi, _ = explainer.raw_shap(workforce.iloc[1200:1250])
    np.testing.assert_allclose(phi, expected.values, atol=1e-8)
    assert base == pytest.approx(float(np.atleast_1d(expected.base_values)[0]))


def test_one_hot_and_engineered_features_fold_back_to_their_columns(
    family_models: dict[str, AttritionModel],
) -> None:
    explainer = family_models[LOGISTIC].explainer
    mapping = source_mapping(explainer._pre.named_steps["features"], explainer.columns)
    names, columns = explainer.feature_names, explainer.columns
    np.testing.assert_allclose(mapping.sum(axis=1), 1.0)  # every feature's value is handed out in full
    row = mapping[names.index("Department=Sales")]
    assert row[columns.index("Department")] == 1.0 and row.sum() == 1.0
    row = mapping[names.index("tenure_ratio")]
    assert row[columns.index("YearsAtCompany")] == row[columns.index("TotalWorkingYears")] == 0.5
    row = mapping[names.index("satisfaction_mean")]
    assert row[columns.index("WorkLifeBalance")] == 0.25


def test_explain_returns_top_factors_with_raw_values(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame
) -> None:
    model = family_models["hist_gradient_boosting"]
    records = workforce.iloc[1200:1203]
    explained = model.explain(records, top_k=4)
    full = model.contributions(records).values
    assert len(explained) == 3
    for i, factors in enumerate(explained):
        assert len(factors) == 4
        sizes = [abs(f["contribution"]) for f in factors]
        assert sizes == sorted(sizes, reverse=True)
        assert sizes[0] == pytest.approx(full.iloc[i].abs().max())
        for factor in factors:
            assert factor["value"] == records[factor["feature"]].iloc[i]
            assert factor["direction"] == ("raises" if factor["contribution"] > 0 else "lowers")
    json.dumps(explained)  # plain Python values
    assert model.explain(records.iloc[:1], top_k=100)[0].__len__() == len(model.input_columns)


def test_explainer_survives_pickling_and_rebuilds_lazily(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame
) -> None:
    model = family_models["random_forest"]
    records = workforce.iloc[1300:1320]
    before = model.contributions(records).values
    restored: AttritionModel = pickle.loads(pickle.dumps(model))
    assert restored.explainer._tree is None
    pd.testing.assert_frame_equal(restored.contributions(records).values, before)


def test_global_importance_is_mean_absolute_contribution(
    family_models: dict[str, AttritionModel], workforce: pd.DataFrame
) -> None:
    contributions = family_models[LOGISTIC].contributions(workforce.iloc[1200:1500])
    importance = global_importance(contributions)
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    top = next(iter(importance))
    assert importance[top] == pytest.approx(contributions.values[top].abs().mean())
    assert "OverTime" in list(importance)[:3]  # the generator's strongest driver


def test_protected_columns_are_explained_when_included(
    fit_family: Callable[..., AttritionModel], workforce: pd.DataFrame
) -> None:
    model = fit_family(
        workforce.iloc[:1200], LOGISTIC, TrainingSettings(exclude_protected_from_features=False)
    )
    columns = model.contributions(workforce.iloc[1200:1210]).values.columns
    assert set(columns) >= PROTECTED
    assert "age_at_joining" in model.feature_names and model.derived_excluded == []
