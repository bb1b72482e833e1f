"""Inverse-CDF draws from fixed uniforms, for the synthetic workforce.

Every draw maps a uniform through a distribution and is monotone in it, so changing a
distribution (a drift scenario) moves values without reshuffling who gets which draw.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import ndtr, ndtri

from attrition.schema import SPECS, Col


def categories(col: Col) -> tuple[str, ...]:
    return SPECS[col].categories


def cdf(col: Col, weights: Mapping[str, float]) -> np.ndarray:
    """Cumulative probabilities over ``col``'s categories in contract order."""
    unknown = set(weights) - set(categories(col))
    if unknown:  # pragma: no cover - guards the generator's tables against schema edits
        raise KeyError(f"{col}: categories {sorted(unknown)} are not in the contract")
    return cumulative([weights.get(c, 0.0) for c in categories(col)])


def cumulative(weights: list[float] | list[int]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


def draw(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: index of the bucket ``u`` falls in (monotone in ``u``)."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def draw_given(u: np.ndarray, cdfs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw where each row's distribution is ``cdfs[group]``."""
    return np.minimum((u[:, None] >= cdfs[group]).sum(axis=1), cdfs.shape[1] - 1)


def beta_like(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """Kumaraswamy(a, b) on [0, 1] via its closed-form inverse CDF: a cheap Beta look-alike."""
    return np.asarray((1.0 - (1.0 - u) ** (1.0 / b)) ** (1.0 / a))


def truncated_normal(u: np.ndarray, mean: float, sd: float, low: int, high: int) -> np.ndarray:
    """Normal(mean, sd) rounded to whole numbers in ``low..high`` (no pile-up at the ends)."""
    lo, hi = ndtr((low - 0.5 - mean) / sd), ndtr((high + 0.5 - mean) / sd)
    values = mean + sd * ndtri(lo + u * (hi - lo))
    return np.clip(np.rint(values), low, high).astype(np.int64)


def uniform_int(u: np.ndarray, col: Col) -> np.ndarray:
    """Uniform over the column's observed range (the IBM rate columns are noise)."""
    low, high = SPECS[col].soft_min, SPECS[col].soft_max
    assert low is not None and high is not None
    return (low + np.floor(u * (high - low + 1))).astype(np.int64)
