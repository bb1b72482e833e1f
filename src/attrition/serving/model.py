"""The fitted model as it is logged, served and explained: one object, raw records in.

``AttritionModel.pipeline`` is a fitted ``CalibratedClassifierCV`` around
``Pipeline(features -> [scale ->] estimator)``, so
``pipeline.predict_proba(raw_records)[:, 1]`` is the calibrated probability of
leaving, computed from raw contract records with the same feature code training
used. Threshold, risk bands and explainer travel with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from attrition.config import RISK_BAND_NAMES, RiskBands
from attrition.serving.explain import Contributions, ShapExplainer


def risk_band_of(probabilities: np.ndarray, bands: RiskBands) -> np.ndarray:
    """Probability -> ``low``/``medium``/``high``/``critical`` (a band starts at its lower bound)."""
    p = np.asarray(probabilities, dtype=np.float64)
    low, medium, high, critical = RISK_BAND_NAMES
    return np.select(
        [p >= bands.critical, p >= bands.high, p >= bands.medium], [critical, high, medium], low
    ).astype(object)


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar (JSON-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(eq=False)
class AttritionModel:
    """Calibrated pipeline + decision threshold + risk bands + explainer."""

    pipeline: Any
    threshold: float
    risk_bands: RiskBands
    input_columns: list[str]
    protected_attributes: list[str]
    protected_excluded: bool
    threshold_rule: str
    explainer: ShapExplainer
    family: str = ""
    calibration: str = ""
    feature_names: list[str] = field(default_factory=list)
    #: Engineered features dropped because they derive from an excluded protected attribute.
    derived_excluded: list[str] = field(default_factory=list)

    def predict_proba(self, records: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving, one per record (1-D)."""
        return np.asarray(self.pipeline.predict_proba(records)[:, 1], dtype=np.float64)

    def predict(self, records: pd.DataFrame) -> pd.DataFrame:
        """``probability``, ``label`` (probability >= threshold) and ``risk_band``, indexed like ``records``."""
        probability = self.predict_proba(records)
        return pd.DataFrame(
            {
                "probability": probability,
                "label": probability >= self.threshold,
                "risk_band": risk_band_of(probability, self.risk_bands),
            },
            index=records.index,
        )

    def contributions(self, records: pd.DataFrame) -> Contributions:
        """Every input column's contribution for every record, in probability points (see serving.explain)."""
        return self.explainer.contributions(records)

    def explain(self, records: pd.DataFrame, top_k: int = 5) -> list[list[dict[str, Any]]]:
        """Each record's ``top_k`` factors by |contribution|, largest first.

        ``contribution`` is in probability points of the calibrated probability
        (0.05 = five percentage points); a record's contributions over all input
        columns plus ``explainer`` base value equal its probability.
        """
        result = self.contributions(records)
        values = result.values.to_numpy()
        columns = result.values.columns
        factors: list[list[dict[str, Any]]] = []
        for row in range(values.shape[0]):
            order = np.argsort(-np.abs(values[row]), kind="stable")[:top_k]
            factors.append(
                [
                    {
                        "feature": str(columns[i]),
                        "value": _plain(records[columns[i]].iloc[row]),
                        "contribution": float(values[row, i]),
                        "direction": "raises" if values[row, i] > 0 else "lowers",
                    }
                    for i in order
                ]
            )
        return factors

    def card_info(self) -> dict[str, Any]:
        """What the model card states about inputs, protected attributes and decisions."""
        if self.protected_excluded:
            protected = (
                f"Protected attributes {', '.join(self.protected_attributes)} are NOT model inputs; features "
                f"derived from them are dropped too ({', '.join(self.derived_excluded) or 'none'}). "
                "They are used only for the fairness audit."
            )
        else:
            protected = (
                f"Protected attributes {', '.join(self.protected_attributes)} ARE model inputs "
                "(exclude_protected_from_features is off); they are also audited for fairness."
            )
        return {
            "family": self.family,
            "calibration": self.calibration,
            "threshold": self.threshold,
            "threshold_rule": self.threshold_rule,
            "risk_bands": self.risk_bands.model_dump(),
            "input_columns": list(self.input_columns),
            "features": list(self.feature_names),
            "protected_attributes": list(self.protected_attributes),
            "protected_excluded": self.protected_excluded,
            "derived_features_excluded": list(self.derived_excluded),
            "protected_statement": protected,
            "contribution_units": "probability points of the calibrated probability",
        }
