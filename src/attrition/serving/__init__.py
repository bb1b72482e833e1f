"""What the API and batch scoring need to serve the champion, and nothing from training.

``model`` (the fitted AttritionModel), ``explain`` (its SHAP explainer), ``fastpath``
(the single-record shortcut), ``pyfunc`` (the MLflow wrapper it is registered in),
``loader`` (champion lookup and load), ``scoring`` (batch scoring) and
``prediction_log`` (the one definition of a logged prediction and its writer).
Importing any of them never imports optuna, fairlearn, evidently or streamlit
(``tests/test_serving_imports.py``).
"""
