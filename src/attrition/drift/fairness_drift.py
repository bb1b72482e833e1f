"""Fairness over time: does the model flag some groups more than it used to?

For each protected attribute (``training.protected_attributes``; Age cut into
bands at ``age_band_edges``) and each group with at least
``training.min_group_size`` rows in both windows, the selection rate (share of
rows flagged, probability >= threshold) is compared between the windows with a
two-proportion chi-square test; BH across all groups at
``false_discovery_rate``. A group *shifted* when its change is BH-significant
AND at least ``min_selection_rate_shift`` in absolute terms (the drift rule,
applied to groups) AND it moved at least that much more than the whole window
did: when every group's rate rises together (an overtime surge raises everyone's
risk) that is prediction drift, reported as such, not a fairness shift.

With outcomes, the realised equal opportunity difference (largest gap in
recall between groups with at least ``MIN_GROUP_POSITIVES`` leavers) is
reported for each window against ``training.max_equal_opportunity_difference``.
It is reported, not alarmed on: a 1,000-row window holds ~160 leavers, ~40 per
age band, so a group's recall has a standard error near 0.08 and the gap
swings by more than the limit on noise alone. The training fairness gate
enforces the limit whenever the model is retrained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from attrition.config import MonitoringSettings, TrainingSettings
from attrition.drift import statistics as st
from attrition.schema import Col

#: Group label of rows whose protected attribute is missing (never compared).
MISSING_GROUP = "missing"

#: Fewest leavers a group needs in the window for its recall to enter the EOD.
MIN_GROUP_POSITIVES = 10


@dataclass
class GroupShift:
    """Selection rate of one protected group in both windows."""

    attribute: str
    group: str
    reference_rows: int
    current_rows: int
    reference_rate: float
    current_rate: float
    p_value: float
    population_difference: float = 0.0  # the whole window's change in selection rate
    p_adjusted: float | None = None
    shifted: bool = False

    @property
    def difference(self) -> float:
        return self.current_rate - self.reference_rate

    @property
    def excess(self) -> float:
        """How much more this group moved than everyone did."""
        return self.difference - self.population_difference

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "difference": self.difference, "excess": self.excess}


@dataclass
class EqualOpportunity:
    """Realised recall per group and the largest gap, in the current (and reference) window."""

    attribute: str
    recall_by_group: dict[str, float]
    difference: float
    reference_difference: float | None
    limit: float

    @property
    def above_limit(self) -> bool:
        return self.difference > self.limit

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "above_limit": self.above_limit}


@dataclass
class FairnessDrift:
    """Selection-rate shifts per group and, with outcomes, equal opportunity."""

    groups: list[GroupShift] = field(default_factory=list)
    equal_opportunity: list[EqualOpportunity] = field(default_factory=list)
    parity_gap_reference: dict[str, float] = field(default_factory=dict)
    parity_gap_current: dict[str, float] = field(default_factory=dict)

    @property
    def shifted(self) -> bool:
        return any(g.shifted for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shifted": self.shifted,
            "groups": [g.to_dict() for g in self.groups],
            "equal_opportunity": [e.to_dict() for e in self.equal_opportunity],
            "parity_gap_reference": self.parity_gap_reference,
            "parity_gap_current": self.parity_gap_current,
        }


def group_of(frame: pd.DataFrame, attribute: str, age_edges: list[int]) -> np.ndarray:
    """Group label per row: Age in bands ("<30", "30-39", ..., "50+"), others as text."""
    if attribute != Col.AGE.value:
        return frame[attribute].astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object)
    edges = sorted(age_edges)
    labels = [f"<{edges[0]}"] + [f"{a}-{b - 1}" for a, b in pairwise(edges)]
    labels.append(f"{edges[-1]}+")
    ages = pd.to_numeric(frame[attribute], errors="coerce").to_numpy(dtype=float)
    named = np.asarray(labels, dtype=object)[np.searchsorted(edges, ages, side="right")]
    return np.where(np.isnan(ages), MISSING_GROUP, named)


def _group_counts(groups: np.ndarray, flags: np.ndarray) -> dict[str, tuple[float, int]]:
    """Group -> (flagged rows, rows), the missing group left out."""
    codes, names = pd.factorize(groups)
    hits = np.bincount(codes, weights=flags, minlength=len(names))
    sizes = np.bincount(codes, minlength=len(names))
    return {
        str(n): (float(h), int(c)) for n, h, c in zip(names, hits, sizes, strict=True) if n != MISSING_GROUP
    }


def _two_proportion_p(hits_a: float, n_a: float, hits_b: float, n_b: float) -> float:
    """p-value of the chi-square test that two proportions are equal."""
    table = np.array([[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]], dtype=float)
    if (table.sum(axis=0) == 0).any():
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    return float(stats.chi2.sf(((table - expected) ** 2 / expected).sum(), 1))


def _selection_shifts(
    ref_groups: np.ndarray,
    cur_groups: np.ndarray,
    ref_flags: np.ndarray,
    cur_flags: np.ndarray,
    attribute: str,
    min_size: int,
) -> list[GroupShift]:
    ref, cur = _group_counts(ref_groups, ref_flags), _group_counts(cur_groups, cur_flags)
    shifts = []
    for group in sorted(set(ref) & set(cur)):
        (r_hits, r_n), (c_hits, c_n) = ref[group], cur[group]
        if min(r_n, c_n) < min_size:
            continue
        p_value = _two_proportion_p(r_hits, r_n, c_hits, c_n)
        shifts.append(GroupShift(attribute, group, r_n, c_n, r_hits / r_n, c_hits / c_n, p_value))
    return shifts


def _recall_gap(
    groups: np.ndarray, flags: np.ndarray, labels: np.ndarray
) -> tuple[dict[str, float], float] | None:
    """Recall per group with enough leavers and the largest gap; None under two groups."""
    leavers = labels == 1
    counts = _group_counts(groups[leavers], flags[leavers])
    recall = {g: hits / n for g, (hits, n) in sorted(counts.items()) if n >= MIN_GROUP_POSITIVES}
    if len(recall) < 2:
        return None
    return recall, max(recall.values()) - min(recall.values())


def fairness_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_flags: np.ndarray,
    current_flags: np.ndarray,
    monitoring: MonitoringSettings,
    training: TrainingSettings,
    current_labels: np.ndarray | None = None,
    reference_labels: np.ndarray | None = None,
) -> FairnessDrift:
    """Selection-rate shift per protected group; equal opportunity when outcomes exist."""
    result = FairnessDrift()
    ref_flags = np.asarray(reference_flags, dtype=float)
    cur_flags = np.asarray(current_flags, dtype=float)
    for attribute in training.protected_attributes:
        if attribute not in reference.columns or attribute not in current.columns:
            continue
        ref_groups = group_of(reference, attribute, monitoring.age_band_edges)
        cur_groups = group_of(current, attribute, monitoring.age_band_edges)
        shifts = _selection_shifts(
            ref_groups, cur_groups, ref_flags, cur_flags, attribute, training.min_group_size
        )
        result.groups.extend(shifts)
        if shifts:
            result.parity_gap_reference[attribute] = max(s.reference_rate for s in shifts) - min(
                s.reference_rate for s in shifts
            )
            result.parity_gap_current[attribute] = max(s.current_rate for s in shifts) - min(
                s.current_rate for s in shifts
            )
        current_gap = None if current_labels is None else _recall_gap(cur_groups, cur_flags, current_labels)
        if current_gap is not None:
            reference_gap = (
                None if reference_labels is None else _recall_gap(ref_groups, ref_flags, reference_labels)
            )
            result.equal_opportunity.append(
                EqualOpportunity(
                    attribute,
                    current_gap[0],
                    current_gap[1],
                    None if reference_gap is None else reference_gap[1],
                    training.max_equal_opportunity_difference,
                )
            )
    rejected, adjusted = st.benjamini_hochberg(
        [g.p_value for g in result.groups], monitoring.false_discovery_rate
    )
    overall = float(cur_flags.mean() - ref_flags.mean()) if ref_flags.size and cur_flags.size else 0.0
    minimum = monitoring.min_selection_rate_shift
    for group, is_rejected, p_adj in zip(result.groups, rejected, adjusted, strict=True):
        group.p_adjusted = float(p_adj)
        group.population_difference = overall
        group.shifted = bool(
            is_rejected and abs(group.difference) >= minimum and abs(group.excess) >= minimum
        )
    return result
