"""Drift monitoring: feature, prediction, performance and fairness drift with a severity verdict."""

from attrition.drift.analysis import run_drift_analysis
from attrition.drift.result import DriftResult

__all__ = ["DriftResult", "run_drift_analysis"]
