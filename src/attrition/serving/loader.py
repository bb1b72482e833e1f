"""The champion model, loaded once, for the API and batch scoring.

``Predictor.load`` resolves ``models:/<name>@champion`` to a version and loads that
version (so the version reported is the one serving even if the alias moves during
the load). ``champion_version`` is the cheap alias lookup a server polls to know when
to reload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException

from attrition.config import CHAMPION, Settings
from attrition.registry.store import RegistryError, alias_version, configure, safe_uri, version_summary
from attrition.serving.model import AttritionModel
from attrition.serving.pyfunc import load_model_version

logger = logging.getLogger(__name__)


class ModelNotAvailable(Exception):
    """No champion can be served; the message tells the operator what to do."""


def _no_champion(settings: Settings) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"No {CHAMPION} model is registered as {settings.model_name!r} in MLflow at "
        f"{safe_uri(settings.tracking_uri)}. Train and promote one: `attrition train --promote` "
        "(or `attrition promote` if a challenger is waiting)."
    )


def _unreachable(settings: Settings, exc: Exception) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"MLflow at {safe_uri(settings.tracking_uri)} could not be read ({exc}). Check that the "
        "tracking server is running and ATTRITION_MLFLOW_TRACKING_URI points at it."
    )


def champion_version(settings: Settings) -> str | None:
    """The version ``@champion`` points at, or None; ModelNotAvailable when MLflow is unreachable."""
    try:
        client = configure(settings)
        return alias_version(client, settings.model_name, CHAMPION)
    except RegistryError as exc:
        raise ModelNotAvailable(str(exc)) from exc
    except (MlflowException, OSError) as exc:
        raise _unreachable(settings, exc) from exc


@dataclass
class Predictor:
    """The champion AttritionModel with what it is (version, metrics, threshold, fairness)."""

    model_name: str
    model_version: str
    model: AttritionModel
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings) -> Predictor:
        """Load the champion once; ModelNotAvailable with an actionable message if there is none."""
        version = champion_version(settings)
        if version is None:
            raise _no_champion(settings)
        try:
            model = load_model_version(settings, version)
            summary = version_summary(settings, version)
        except RegistryError as exc:
            raise ModelNotAvailable(str(exc)) from exc
        except (MlflowException, OSError) as exc:
            # The registry answered (the alias resolved): it is this version that cannot be read.
            raise ModelNotAvailable(
                f"{settings.model_name} version {version} ({CHAMPION}) could not be loaded: "
                f"{str(exc).splitlines()[0][:200]}. Its artifacts may be missing or unreadable; "
                "roll back (`attrition rollback`) or promote a working version."
            ) from exc
        logger.info("loaded %s version %s (%s)", settings.model_name, version, CHAMPION)
        return cls(
            settings.model_name, version, model, model_info(settings.model_name, version, model, summary)
        )

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)

    def predict_frame(self, records: pd.DataFrame, *, top_k: int = 0) -> pd.DataFrame:
        """``probability``, ``label``, ``risk_band`` per record (+ ``top_factors`` when ``top_k`` > 0)."""
        result = self.model.predict(records)
        if top_k > 0:
            result["top_factors"] = self.model.explain(records, top_k=top_k)
        return result

    def explain(self, records: pd.DataFrame, top_k: int = 5) -> list[list[dict[str, Any]]]:
        """Each record's top factors (signed contributions in probability points)."""
        return self.model.explain(records, top_k=top_k)


def model_info(name: str, version: str, model: AttritionModel, summary: dict[str, Any]) -> dict[str, Any]:
    """What a client is told about the serving model."""
    return {
        "model_name": name,
        "model_version": str(version),
        "run_id": summary.get("run_id"),
        "trained_at": summary.get("trained_at"),
        "family": summary.get("family") or model.family,
        "metrics": dict(summary.get("metrics", {})),
        "threshold": float(model.threshold),
        "threshold_rule": model.threshold_rule,
        "risk_bands": model.risk_bands.model_dump(),
        "fairness_passed": summary.get("fairness_passed"),
        "input_columns": list(model.input_columns),
        "protected_attributes": list(model.protected_attributes),
        "protected_excluded": bool(model.protected_excluded),
        "data_fingerprint": summary.get("data", {}).get("fingerprint"),
        "training_rows": summary.get("data", {}).get("rows_total"),
    }
