"""Drift-monitoring service (``python -m monitoring``): scheduled drift checks over the ``attrition`` package."""
