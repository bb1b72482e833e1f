"""Drift scenarios: named shifts of the synthetic workforce, to rehearse drift detection on.

A scenario only bends the distributions the generator maps its fixed uniforms through
(see ``attrition.data.generator``), so a drifted frame differs from the baseline with the
same seed only in what the scenario claims to move (and what follows from it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DRIFT_SCENARIOS: dict[str, str] = {
    "pay_freeze": "Salary hikes shrink to 11-14% (outstanding raters 15-17%); attrition rises.",
    "overtime_surge": "Share of employees on overtime rises from ~28% to ~55%; attrition rises with it.",
    "remote_hiring": "Remote hires live far away: DistanceFromHome shifts to 10-29 for most; attrition rises slightly.",
    "reorg": "Department mix shifts to R&D 48% / Sales 44% / HR 8% (roles follow); reorg unrest raises attrition.",
}


@dataclass(frozen=True)
class Drift:
    """How a scenario bends the draws; the defaults are the baseline workforce."""

    departments: Mapping[str, float] | None = None
    overtime_share: float = 0.283
    remote_share: float = 0.0
    pay_freeze: bool = False
    attrition_shock: float = 0.0  # extra log-odds of leaving, beyond what the features explain


_DRIFTS: dict[str | None, Drift] = {
    None: Drift(),
    "pay_freeze": Drift(pay_freeze=True, attrition_shock=0.35),
    "overtime_surge": Drift(overtime_share=0.55, attrition_shock=0.10),
    "remote_hiring": Drift(remote_share=0.65),
    "reorg": Drift(
        departments={"Research & Development": 0.48, "Sales": 0.44, "Human Resources": 0.08},
        attrition_shock=0.30,
    ),
}
assert set(_DRIFTS) - {None} == set(DRIFT_SCENARIOS)


def drift_for(name: str | None) -> Drift:
    """The scenario called ``name`` (None: the baseline); ValueError names the valid ones."""
    if name not in _DRIFTS:
        valid = ", ".join(sorted(DRIFT_SCENARIOS))
        raise ValueError(f"drift: unknown scenario {name!r}; expected one of: {valid}")
    return _DRIFTS[name]
