"""Response models of ``GET /v1/model/card`` (``api/schemas.py`` is at its size limit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_POINTS = [{"x": 0.0, "y": 0.0, "threshold": None}, {"x": 0.2, "y": 0.71, "threshold": 0.31}]


def _examples(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class CurvePoint(BaseModel):
    model_config = _examples({"x": 0.2, "y": 0.71, "threshold": 0.31})

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    threshold: float | None = Field(default=None, description="Score threshold at this point (None: none)")


class ConfusionAtThreshold(BaseModel):
    model_config = _examples({"threshold": 0.31, "tn": 230, "fp": 22, "fn": 11, "tp": 37})

    threshold: float
    tn: int
    fp: int
    fn: int
    tp: int


_CHARTS_EXAMPLE: dict[str, Any] = {
    "holdout_rows": 300,
    "roc": _POINTS,
    "precision_recall": [{"x": 1.0, "y": 0.16, "threshold": 0.02}, {"x": 0.75, "y": 0.63, "threshold": 0.31}],
    "calibration": [{"x": 0.05, "y": 0.04, "threshold": None}, {"x": 0.62, "y": 0.58, "threshold": None}],
    "confusion": {"threshold": 0.31, "tn": 230, "fp": 22, "fn": 11, "tp": 37},
}


class ModelCharts(BaseModel):
    """Chart data from the champion on its own holdout (each curve at most 200 points)."""

    model_config = _examples(_CHARTS_EXAMPLE)

    holdout_rows: int
    roc: list[CurvePoint] = Field(description="x: false positive rate, y: true positive rate; x and y rise")
    precision_recall: list[CurvePoint] = Field(description="x: recall (falls), y: precision")
    calibration: list[CurvePoint] = Field(
        description="x: mean predicted probability per bin, y: observed rate"
    )
    confusion: ConfusionAtThreshold


_CARD_EXAMPLE: dict[str, Any] = {
    "model": {
        "name": "attrition-classifier",
        "version": "3",
        "alias": "champion",
        "run_id": "4f1c0d2e9a8b4c7d",
        "experiment_id": "1",
        "family": "logistic_regression",
        "best_params": {"C": 0.4},
        "calibration": "sigmoid",
        "trained_at": "2026-03-01T22:10:00Z",
    },
    "intended_use": "Rank current employees by estimated probability of leaving ...",
    "data": {"source": "employees@2026-02-28", "rows_total": 1470, "rows_holdout": 294},
    "metrics": {"roc_auc": 0.83, "recall": 0.76},
    "intervals": {"roc_auc": {"low": 0.77, "high": 0.88}},
    "cross_validation": {"roc_auc": 0.81},
    "confusion": {"tn": 230, "fp": 22, "fn": 11, "tp": 37},
    "threshold": {"rule": "f2", "value": 0.31, "description": "maximise F2 ...", "choice": {}},
    "risk_bands": {"low": 0.2, "high": 0.5},
    "fairness": {"passed": True, "limits": {}, "failures": [], "attributes": {}},
    "protected_attributes": {"attributes": ["Gender"], "excluded_from_inputs": True},
    "inputs": ["Age", "OverTime"],
    "top_factors": [{"feature": "OverTime", "importance": 0.12}],
    "contribution_units": "probability points",
    "search": {
        "trials": 50,
        "complete_trials": 41,
        "history": [
            {
                "number": 0,
                "family": "logistic_regression",
                "state": "complete",
                "cv_roc_auc": 0.81,
                "cv_pr_auc": 0.52,
                "seconds": 1.9,
                "params": {"lr_C": 0.4},
            },
        ],
    },
    "limitations": ["Probabilities describe association in historical records, not causes ..."],
    "charts": _CHARTS_EXAMPLE,
    "charts_error": None,
    "built_at": "2026-03-02T08:00:05Z",
}


class ModelCardResponse(BaseModel):
    """``attrition model-card --format json`` for the served champion, plus chart data for the UI."""

    model_config = _examples(_CARD_EXAMPLE)

    model: dict[str, Any] = Field(description="Name, version, alias, run, family, calibration, provenance")
    intended_use: str
    data: dict[str, Any]
    metrics: dict[str, Any] = Field(description="Holdout metrics")
    intervals: dict[str, Any]
    cross_validation: dict[str, Any]
    confusion: dict[str, Any]
    threshold: dict[str, Any]
    risk_bands: dict[str, Any]
    fairness: dict[str, Any]
    protected_attributes: dict[str, Any]
    proxies: dict[str, Any] = Field(
        default_factory=dict,
        description="How well the inputs predict each protected attribute (empty: trained before the report)",
    )
    inputs: list[Any]
    top_factors: list[dict[str, Any]]
    contribution_units: str
    search: dict[str, Any] = Field(
        description="Trials run and completed, the study name, and ``history``: one row per trial"
    )
    limitations: list[str]
    charts: ModelCharts | None = Field(default=None, description="None when the holdout could not be read")
    charts_error: str | None = None
    built_at: dt.datetime = Field(description="When this API process built the card (cached per version)")
