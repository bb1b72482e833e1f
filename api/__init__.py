"""Prediction API (FastAPI): thin routers over the ``attrition`` package."""
