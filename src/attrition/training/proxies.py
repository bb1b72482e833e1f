"""How well the model's inputs predict each protected attribute: the proxy report of the model card.

Keeping Gender or Age out of the inputs does not keep their effect out of the model when
other inputs carry them (Age through TotalWorkingYears, JobLevel, ...). For each protected
attribute a simple cross-validated model predicts it from exactly the columns the model
reads: ROC-AUC for a category (0.5: the inputs say nothing about it; one-vs-rest, averaged
over groups, for more than two), R² for a number (0: nothing), and the inputs that carry it
most (the largest standardised coefficients, summed over a category's levels). A linear
model is a lower bound on what a flexible model can recover, and says so in the card.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from attrition.schema import CATEGORICAL_COLUMNS, ID_COLUMN, INTEGER_COLUMNS

#: Rows used (a sample above it): the report is a review aid, not worth a long fit.
MAX_ROWS = 5_000
FOLDS = 5
TOP = 5
METHOD = "5-fold cross-validated linear model (logistic or ridge) on the model's inputs"


def _pipeline(columns: Sequence[str], classify: bool) -> Pipeline:
    categorical = [c for c in columns if c in CATEGORICAL_COLUMNS]
    numeric = [c for c in columns if c not in CATEGORICAL_COLUMNS]
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("numbers", StandardScaler(), numeric),
        ],
        verbose_feature_names_out=False,
    )
    model = LogisticRegression(max_iter=2000) if classify else Ridge(alpha=1.0)
    return Pipeline([("encode", encode), ("model", model)])


def _strength(pipeline: Pipeline, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Each input's share of the absolute standardised coefficients, largest first."""
    names = pipeline.named_steps["encode"].get_feature_names_out()
    weights = np.abs(np.atleast_2d(pipeline.named_steps["model"].coef_)).sum(axis=0)
    by_column = {c: 0.0 for c in columns}
    for name, weight in zip(names, weights, strict=True):
        source = next(
            c for c in sorted(columns, key=len, reverse=True) if name == c or name.startswith(f"{c}_")
        )
        by_column[source] += float(weight)
    total = sum(by_column.values()) or 1.0
    ranked = sorted(by_column.items(), key=lambda kv: -kv[1])[:TOP]
    return [{"column": c, "share": round(w / total, 4)} for c, w in ranked]


def _score(target: pd.Series, predicted: np.ndarray, classify: bool) -> dict[str, Any]:
    if not classify:
        return {"metric": "r2", "value": float(r2_score(target, predicted))}
    classes = sorted(target.unique())
    if len(classes) == 2:
        value = roc_auc_score(target == classes[1], predicted[:, 1])
    else:
        value = roc_auc_score(target, predicted, multi_class="ovr", average="macro", labels=classes)
    return {"metric": "roc_auc", "value": float(value)}


def _attribute(frame: pd.DataFrame, attribute: str, inputs: list[str], seed: int) -> dict[str, Any]:
    target = frame[attribute]
    classify = attribute in CATEGORICAL_COLUMNS
    if target.nunique() < 2:
        return {"attribute": attribute, "note": "one value only in the training data: nothing to predict"}
    if classify and target.value_counts().min() < FOLDS:
        return {"attribute": attribute, "note": f"a group has fewer than {FOLDS} rows: not estimated"}
    folds = (StratifiedKFold if classify else KFold)(FOLDS, shuffle=True, random_state=seed)
    pipeline = _pipeline(inputs, classify)
    method = "predict_proba" if classify else "predict"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence hints on nearly separable folds
        predicted = cross_val_predict(pipeline, frame[inputs], target, cv=folds, method=method)
        pipeline.fit(frame[inputs], target)
    return {
        "attribute": attribute,
        **_score(target, predicted, classify),
        "top_inputs": _strength(pipeline, inputs),
    }


def proxy_report(
    frame: pd.DataFrame, input_columns: Sequence[str], protected: Sequence[str], seed: int
) -> dict[str, Any]:
    """Per protected attribute: how well the model's inputs (other than the attribute) predict it."""
    rows = frame.sample(MAX_ROWS, random_state=seed) if len(frame) > MAX_ROWS else frame
    attributes = []
    for attribute in protected:
        usable = set(CATEGORICAL_COLUMNS) | set(INTEGER_COLUMNS)
        inputs = [c for c in input_columns if c in usable and c not in (attribute, ID_COLUMN) and c in rows]
        if attribute not in rows.columns or not inputs:
            attributes.append({"attribute": attribute, "note": "not in the training data or no other input"})
            continue
        used = attribute in input_columns
        entry = _attribute(rows.reset_index(drop=True), attribute, inputs, seed)
        attributes.append(entry | {"is_model_input": used})
    return {"method": METHOD, "rows": len(rows), "attributes": attributes}
