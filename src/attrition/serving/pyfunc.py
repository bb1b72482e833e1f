"""The MLflow pyfunc wrapper a model is registered in, and loading a registered version.

Raw contract records in; probability, label and risk band out. The wrapped
:class:`AttritionModel` carries the fitted pipeline (feature engineering inside), the
decision threshold and the risk bands, so they travel with the model.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PyFuncModel
from mlflow.pyfunc.model import PythonModel

from attrition.config import Settings
from attrition.registry.store import RegistryError, configure
from attrition.serving.model import AttritionModel


class AttritionPyfunc(PythonModel):
    """MLflow wrapper: raw contract records in; probability, label and risk band out.

    The wrapped :class:`AttritionModel` carries the fitted pipeline (feature engineering
    inside), the decision threshold and the risk bands, so they travel with the model.
    """

    def __init__(self, model: AttritionModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input)


def unwrap(loaded: PyFuncModel) -> AttritionModel:
    """The AttritionModel inside a loaded pyfunc."""
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, AttritionPyfunc):
        raise RegistryError(f"the registered model is a {type(wrapper).__name__}, not an attrition model")
    return wrapper.model


def load_model_version(settings: Settings, version: str) -> AttritionModel:
    """Load one registered version (``models:/<name>/<version>``) as an AttritionModel."""
    configure(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
        except (ModuleNotFoundError, AttributeError, pickle.UnpicklingError) as exc:
            # e.g. scikit-learn 1.9 cannot unpickle a <=1.8 HistGradientBoosting (No module named '_loss')
            raise RegistryError(
                f"version {version} could not be unpickled by this install ({type(exc).__name__}: {exc}); "
                "it was probably fitted by another scikit-learn release: retrain and promote"
            ) from exc
    return unwrap(loaded)
