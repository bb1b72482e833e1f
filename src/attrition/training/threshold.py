"""Decision threshold: chosen on out-of-fold calibrated probabilities of the training split.

Rules (``settings.threshold_rule``):

* ``f2`` (default): maximise F2 = 5·TP / (5·TP + 4·FN + FP). Recall weighs four
  times precision, because a missed leaver costs more than a retention conversation.
* ``cost``: minimise ``cost_missed_leaver``·FN + ``cost_intervention``·FP.

A record is flagged when ``probability >= threshold``. The candidates are the
distinct observed probabilities; ties in the score go to the higher threshold
(fewer people flagged for the same score).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Rule = Literal["f2", "cost"]


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen cut-off and how it scored on the out-of-fold predictions."""

    threshold: float
    rule: str
    score: float  # F2 (higher is better) or cost (lower is better), per the rule
    precision: float
    recall: float
    flagged_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(
    y_true: np.ndarray,
    probability: np.ndarray,
    rule: Rule = "f2",
    *,
    cost_missed_leaver: float = 5.0,
    cost_intervention: float = 1.0,
) -> ThresholdChoice:
    """Best threshold by ``rule`` over the distinct values of ``probability``."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(
            f"need equal-length, non-empty labels and probabilities, got {y.shape} and {p.shape}"
        )
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    # Flagging everything >= p_sorted[i]: the last index of each distinct value ends a block.
    ends = np.r_[np.nonzero(np.diff(p_sorted))[0], p.size - 1]
    tp = np.cumsum(y_sorted)[ends].astype(np.float64)
    fp = np.cumsum(1 - y_sorted)[ends].astype(np.float64)
    fn = y.sum() - tp
    if rule == "f2":
        scores = np.divide(
            5 * tp, 5 * tp + 4 * fn + fp, out=np.zeros_like(tp), where=(5 * tp + 4 * fn + fp) > 0
        )
        best = int(np.argmax(scores))
    elif rule == "cost":
        scores = cost_missed_leaver * fn + cost_intervention * fp
        best = int(np.argmin(scores))
    else:
        raise ValueError(f"threshold rule must be 'f2' or 'cost', got {rule!r}")
    flagged = tp[best] + fp[best]
    return ThresholdChoice(
        threshold=float(p_sorted[ends[best]]),
        rule=rule,
        score=float(scores[best]),
        precision=float(tp[best] / flagged) if flagged else 0.0,
        recall=float(tp[best] / y.sum()) if y.sum() else 0.0,
        flagged_rate=float(flagged / p.size),
    )
