"""Drift monitoring: feature, prediction, performance and fairness drift with a severity verdict."""

from attrition.monitoring.analysis import run_drift_analysis
from attrition.monitoring.result import DriftResult

__all__ = ["DriftResult", "run_drift_analysis"]
