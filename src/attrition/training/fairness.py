"""Fairness audit on the holdout: per-group rates with fairlearn ``MetricFrame`` and a release gate.

For each protected attribute (Age in bands) the report gives group size, selection
rate, TPR and FPR, and three gaps computed over the groups with at least
``min_group_size`` rows (smaller groups are reported and flagged, never gated,
because their rates are mostly noise):

* demographic parity difference: max - min selection rate;
* equal opportunity difference: max - min TPR;
* equalized odds difference: the larger of the TPR gap and the FPR gap.

The gate passes when, for every gated attribute (``fairness_gated_attributes``),
the equal opportunity and demographic parity differences are within the
settings' limits *beyond the sampling noise of the holdout*: a gap fails when its
one-sided lower confidence bound (``fairness_confidence``, default 95%; the gap
less z times the standard error of the two rates it compares) is above the
limit. A model with no real gap between groups of a 1,000-row holdout (about 65
female leavers) shows an equal opportunity gap above 0.10 about one time in
ten by chance alone; a point-estimate gate would refuse it that often, while a
biased model's gap stands far above its noise. ``fairness_confidence: 0`` gates
the point estimate. An attribute with fewer than two large-enough groups is
reported as not gated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
from scipy import stats

from attrition.config import Settings, TrainingSettings
from attrition.schema import Col

AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<30", -math.inf, 30),
    ("30-39", 30, 40),
    ("40-49", 40, 50),
    ("50+", 50, math.inf),
)


def age_band(ages: pd.Series | np.ndarray) -> np.ndarray:
    """Age -> band label (``<30``, ``30-39``, ``40-49``, ``50+``)."""
    values = np.asarray(ages, dtype=np.float64)
    labels = np.empty(values.shape, dtype=object)
    for name, low, high in AGE_BANDS:
        labels[(values >= low) & (values < high)] = name
    return labels


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(true_positive_rate(y_true, y_pred, pos_label=1)) if np.any(y_true == 1) else math.nan


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(false_positive_rate(y_true, y_pred, pos_label=1)) if np.any(y_true == 0) else math.nan


def _selection_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(selection_rate(y_true, y_pred, pos_label=1))


def _json_float(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


@dataclass(frozen=True)
class GroupRates:
    group: str
    size: int
    positives: int
    selection_rate: float
    tpr: float
    fpr: float
    gated: bool  # False: below min_group_size, reported only

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "size": self.size,
            "positives": self.positives,
            "selection_rate": _json_float(self.selection_rate),
            "tpr": _json_float(self.tpr),
            "fpr": _json_float(self.fpr),
            "gated": self.gated,
        }


@dataclass(frozen=True)
class AttributeFairness:
    attribute: str
    groups: list[GroupRates]
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None
    failures: list[str]
    note: str = ""
    gated: bool = True
    # One-sided lower confidence bounds of the two gated gaps (None when not computed).
    demographic_parity_lower_bound: float | None = None
    equal_opportunity_lower_bound: float | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "groups": [g.to_dict() for g in self.groups],
            "demographic_parity_difference": _json_float(self.demographic_parity_difference),
            "equal_opportunity_difference": _json_float(self.equal_opportunity_difference),
            "equalized_odds_difference": _json_float(self.equalized_odds_difference),
            "demographic_parity_lower_bound": _json_float(self.demographic_parity_lower_bound),
            "equal_opportunity_lower_bound": _json_float(self.equal_opportunity_lower_bound),
            "gated": self.gated,
            "passed": self.passed,
            "failures": list(self.failures),
            "note": self.note,
        }


@dataclass(frozen=True)
class FairnessReport:
    attributes: list[AttributeFairness]
    max_equal_opportunity_difference: float
    max_demographic_parity_difference: float
    min_group_size: int
    confidence: float = 0.0

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.attributes)

    @property
    def failures(self) -> list[str]:
        """Why the gate failed, one line per broken limit (empty when it passed)."""
        return [f for a in self.attributes for f in a.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "limits": {
                "max_equal_opportunity_difference": self.max_equal_opportunity_difference,
                "max_demographic_parity_difference": self.max_demographic_parity_difference,
                "min_group_size": self.min_group_size,
                "confidence": self.confidence,
            },
            "gated_attributes": [a.attribute for a in self.attributes if a.gated],
            "failures": list(self.failures),
            "attributes": {a.attribute: a.to_dict() for a in self.attributes},
        }


def _gap(values: pd.Series) -> float | None:
    finite = values.dropna()
    return float(finite.max() - finite.min()) if len(finite) >= 2 else None


def _gap_lower_bound(rates: pd.Series, sizes: pd.Series, confidence: float) -> float | None:
    """max - min rate less z * the standard error of those two rates (binomial, n = ``sizes``)."""
    finite = rates.dropna()
    if len(finite) < 2:
        return None
    high, low = finite.idxmax(), finite.idxmin()
    variance = sum(finite[g] * (1 - finite[g]) / max(float(sizes[g]), 1.0) for g in (high, low))
    z = float(stats.norm.ppf(confidence)) if confidence > 0 else 0.0
    return float(finite[high] - finite[low] - z * math.sqrt(variance))


def _limit_failure(
    attribute: str, name: str, gap: float | None, bound: float | None, limit: float
) -> list[str]:
    """The failure line when the gap is above ``limit`` beyond its noise (bound None: the gap itself)."""
    if gap is None or gap <= limit or (bound is not None and bound <= limit):
        return []
    beyond = "" if bound is None or bound == gap else f" (lower confidence bound {bound:.3f})"
    return [f"{attribute}: {name} {gap:.3f} > {limit}{beyond}"]


def _group_table(attribute: str, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Size, positives and rates per group, in a stable order (Age bands youngest first)."""
    frame = MetricFrame(
        metrics={
            "size": count,
            "positives": lambda t, p: int(np.sum(t == 1)),
            "selection_rate": _selection_rate,
            "tpr": _tpr,
            "fpr": _fpr,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.Series(groups, name=attribute),
    )
    table = frame.by_group
    order = [b[0] for b in AGE_BANDS] if attribute == Col.AGE else sorted(map(str, table.index))
    table.index = table.index.map(str)
    return table.reindex([g for g in order if g in table.index])


def _group_rates(table: pd.DataFrame, min_group_size: int) -> list[GroupRates]:
    return [
        GroupRates(
            str(name),
            int(row["size"]),
            int(row["positives"]),
            float(row["selection_rate"]),
            float(row["tpr"]),
            float(row["fpr"]),
            bool(row["size"] >= min_group_size),
        )
        for name, row in table.iterrows()
    ]


def _audit_attribute(
    attribute: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    limits: TrainingSettings,
    gate: bool = True,
) -> AttributeFairness:
    table = _group_table(attribute, y_true, y_pred, groups)
    gated = table[table["size"] >= limits.min_group_size]
    rates = _group_rates(table, limits.min_group_size)
    dpd = _gap(gated["selection_rate"])
    eod = _gap(gated["tpr"])
    fpr_gap = _gap(gated["fpr"])
    odds = max((x for x in (eod, fpr_gap) if x is not None), default=None)
    if not gate:
        note = "reported, not gated (not in training.fairness_gated_attributes)"
        return AttributeFairness(attribute, rates, dpd, eod, odds, [], note, gated=False)
    if len(gated) < 2:
        note = f"fewer than two groups with >= {limits.min_group_size} rows: reported, not gated"
        return AttributeFairness(attribute, rates, dpd, eod, odds, [], note, gated=False)
    confidence = limits.fairness_confidence
    dpd_low = _gap_lower_bound(gated["selection_rate"], gated["size"], confidence)
    eod_low = _gap_lower_bound(gated["tpr"], gated["positives"], confidence)
    failures = _limit_failure(
        attribute, "demographic parity difference", dpd, dpd_low, limits.max_demographic_parity_difference
    ) + _limit_failure(
        attribute, "equal opportunity difference", eod, eod_low, limits.max_equal_opportunity_difference
    )
    small = [r.group for r in rates if not r.gated]
    note = f"groups under {limits.min_group_size} rows not gated: {', '.join(small)}" if small else ""
    return AttributeFairness(
        attribute,
        rates,
        dpd,
        eod,
        odds,
        failures,
        note,
        demographic_parity_lower_bound=dpd_low,
        equal_opportunity_lower_bound=eod_low,
    )


def fairness_report(
    y_true: np.ndarray, y_pred: np.ndarray, frame: pd.DataFrame, settings: TrainingSettings | Settings
) -> FairnessReport:
    """Audit binary predictions against every protected attribute of ``frame`` (rows aligned with y)."""
    limits = settings.training if isinstance(settings, Settings) else settings
    y = np.asarray(y_true, dtype=np.int64)
    pred = np.asarray(y_pred).astype(np.int64)
    if not (len(y) == len(pred) == len(frame)):
        raise ValueError(f"y_true ({len(y)}), y_pred ({len(pred)}) and frame ({len(frame)}) must align")
    missing = [a for a in limits.protected_attributes if a not in frame.columns]
    if missing:
        raise ValueError(
            f"fairness audit needs the protected attributes; missing columns: {', '.join(missing)}"
        )
    gated = (
        limits.protected_attributes
        if limits.fairness_gated_attributes is None
        else limits.fairness_gated_attributes
    )
    unknown = sorted(set(gated) - set(limits.protected_attributes))
    if unknown:
        raise ValueError(f"fairness_gated_attributes {unknown} are not in protected_attributes")
    attributes: list[AttributeFairness] = []
    for attribute in limits.protected_attributes:
        column = frame[attribute]
        groups = age_band(column) if attribute == Col.AGE else column.astype(str).to_numpy()
        attributes.append(_audit_attribute(attribute, y, pred, groups, limits, attribute in gated))
    return FairnessReport(
        attributes,
        limits.max_equal_opportunity_difference,
        limits.max_demographic_parity_difference,
        limits.min_group_size,
        limits.fairness_confidence,
    )
