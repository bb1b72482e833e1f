"""Two-sample tests and effect sizes, computed from value counts.

Every contract feature is an integer or a category, so a window reduces to the
counts of its distinct values; the tests and effect sizes below then cost
O(distinct values) whatever the window size (1k or 1M rows). Probabilities
(many distinct floats) go through the same path via ``counts_from_arrays``.

* KS (continuous): exact maximum CDF gap over the union of values; p-value from
  the asymptotic Kolmogorov distribution (with ties the test is conservative).
* Chi-square (categorical, ordinal): 2 x k contingency table; levels whose
  expected count is under ``min_expected`` in either window are pooled, so
  sparse levels neither inflate the statistic nor make it undefined.
* PSI with an epsilon floor, normalised Wasserstein (W1 / reference std, IQR
  when the std is 0), Jensen-Shannon distance (base 2, in [0, 1]).
* Benjamini-Hochberg across columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon


@dataclass(frozen=True)
class Counts:
    """Counts of each distinct value in two windows, aligned on ``values``."""

    values: np.ndarray
    reference: np.ndarray
    current: np.ndarray

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())


def counts_from_series(reference: pd.Series, current: pd.Series) -> Counts:
    """Aligned counts of two series of labels (missing values dropped)."""
    ref, cur = reference.dropna().value_counts(), current.dropna().value_counts()
    return align_counts(
        ref.index.to_numpy(dtype=str), ref.to_numpy(), cur.index.to_numpy(dtype=str), cur.to_numpy()
    )


def align_counts(
    reference_values: np.ndarray,
    reference_counts: np.ndarray,
    current_values: np.ndarray,
    current_counts: np.ndarray,
) -> Counts:
    """Counts of two windows on the sorted union of their distinct values (all distinct).

    A stable sort merges two already sorted lists in linear time (what ``np.unique`` of
    the concatenation gives, without a full sort of 2M probabilities).
    """
    both = np.sort(np.concatenate([reference_values, current_values]), kind="stable")
    values = both[np.r_[True, both[1:] != both[:-1]]] if both.size else both
    ref = np.zeros(values.size)
    cur = np.zeros(values.size)
    ref[np.searchsorted(values, reference_values)] = reference_counts
    cur[np.searchsorted(values, current_values)] = current_counts
    return Counts(values, ref, cur)


def counts_from_arrays(reference: np.ndarray, current: np.ndarray) -> Counts:
    """Aligned counts of two numeric arrays (NaN dropped), values sorted.

    Each window is sorted on its own and the two value lists merged, which is
    cheaper than one sort of both with an inverse index at 1M rows.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref_values, ref_counts = np.unique(ref[~np.isnan(ref)], return_counts=True)
    cur_values, cur_counts = np.unique(cur[~np.isnan(cur)], return_counts=True)
    return align_counts(ref_values, ref_counts, cur_values, cur_counts)


def ks_test(counts: Counts) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value."""
    n_ref, n_cur = counts.n_reference, counts.n_current
    if n_ref == 0 or n_cur == 0:
        return float("nan"), float("nan")
    gap = np.abs(np.cumsum(counts.reference) / n_ref - np.cumsum(counts.current) / n_cur)
    statistic = float(gap.max())
    effective_n = n_ref * n_cur / (n_ref + n_cur)
    p_value = float(stats.kstwo.sf(statistic, max(1, round(effective_n))))
    return statistic, min(1.0, max(0.0, p_value))


def pool_small_cells(counts: Counts, min_expected: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts with sparse levels pooled into one cell.

    A level is sparse when its expected count (under "same distribution") is
    below ``min_expected`` in either window. If the pooled cell is itself still
    sparse it is folded into the smallest remaining level.
    """
    ref, cur = counts.reference, counts.current
    total = ref + cur
    keep = total > 0
    ref, cur, total = ref[keep], cur[keep], total[keep]
    n = total.sum()
    if n == 0:
        return ref, cur
    smaller_window = min(ref.sum(), cur.sum())
    sparse = total * smaller_window / n < min_expected
    if not sparse.any():
        return ref, cur
    pooled_ref, pooled_cur = ref[sparse].sum(), cur[sparse].sum()
    ref, cur = ref[~sparse], cur[~sparse]
    if ref.size == 0 or (pooled_ref + pooled_cur) * smaller_window / n >= min_expected:
        return np.append(ref, pooled_ref), np.append(cur, pooled_cur)
    smallest = int(np.argmin(ref + cur))
    ref, cur = ref.copy(), cur.copy()
    ref[smallest] += pooled_ref
    cur[smallest] += pooled_cur
    return ref, cur


def chi_square_test(counts: Counts, min_expected: float = 5.0) -> tuple[float, float]:
    """Chi-square test of homogeneity on pooled counts; (nan, nan) when untestable."""
    ref, cur = pool_small_cells(counts, min_expected)
    if ref.size < 2 or ref.sum() == 0 or cur.sum() == 0:
        return float("nan"), float("nan")
    table = np.vstack([ref, cur])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    p_value = float(stats.chi2.sf(statistic, ref.size - 1))
    return statistic, p_value


def proportions(counts: np.ndarray) -> np.ndarray:
    """Shares of a count vector (zeros when empty)."""
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = 1e-4) -> float:
    """Population stability index over aligned bins, shares floored at ``epsilon``."""
    p = np.maximum(proportions(reference_counts), epsilon)
    q = np.maximum(proportions(current_counts), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) between two aligned histograms, in [0, 1]."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return float("nan")
    return float(jensenshannon(proportions(reference_counts), proportions(current_counts), base=2))


def quantile_bins(counts: Counts, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both windows in bins cut at the reference quantiles (ties merge bins)."""
    ref_cdf = np.cumsum(counts.reference) / max(counts.n_reference, 1)
    cut_positions = np.searchsorted(ref_cdf, np.linspace(0, 1, bins + 1)[1:-1], side="left")
    edges = np.unique(counts.values[np.clip(cut_positions, 0, counts.values.size - 1)])
    bin_of_value = np.searchsorted(edges, counts.values, side="left")
    size = edges.size + 1
    return (
        np.bincount(bin_of_value, weights=counts.reference, minlength=size),
        np.bincount(bin_of_value, weights=counts.current, minlength=size),
    )


def weighted_std(values: np.ndarray, weights: np.ndarray) -> float:
    """Sample standard deviation of values given with their counts."""
    n = weights.sum()
    if n < 2:
        return 0.0
    mean = float(np.sum(values * weights) / n)
    return float(np.sqrt(np.sum(weights * (values - mean) ** 2) / (n - 1)))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile of values given with their counts (values sorted)."""
    cdf = np.cumsum(weights) / weights.sum()
    return float(values[min(int(np.searchsorted(cdf, q, side="left")), values.size - 1)])


def wasserstein_normalised(counts: Counts) -> float:
    """Earth mover's distance divided by the reference spread (std, else IQR, else 1)."""
    n_ref, n_cur = counts.n_reference, counts.n_current
    if n_ref == 0 or n_cur == 0:
        return float("nan")
    values = counts.values.astype(float)
    gap = np.abs(np.cumsum(counts.reference) / n_ref - np.cumsum(counts.current) / n_cur)
    distance = float(np.sum(gap[:-1] * np.diff(values)))
    in_reference = counts.reference > 0
    ref_values, ref_weights = values[in_reference], counts.reference[in_reference]
    scale = weighted_std(ref_values, ref_weights)
    if scale == 0:
        scale = weighted_quantile(ref_values, ref_weights, 0.75) - weighted_quantile(
            ref_values, ref_weights, 0.25
        )
    return distance / scale if scale > 0 else distance


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Mean of values given with their counts (nan when empty)."""
    n = weights.sum()
    return float(np.sum(values.astype(float) * weights) / n) if n > 0 else float("nan")


def benjamini_hochberg(p_values: Sequence[float], q: float) -> tuple[np.ndarray, np.ndarray]:
    """BH step-up: (rejected mask, adjusted p-values); NaN p-values are never rejected."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    rejected = np.zeros(p.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return rejected, adjusted
    order = valid[np.argsort(p[valid], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    rejected[order] = adjusted[order] <= q
    return rejected, adjusted


def bh_cutoff(p_values: Sequence[float], q: float) -> float:
    """The largest raw p-value BH rejects (``q / m`` when it rejects none).

    A column is BH-significant exactly when its raw p-value is <= this cutoff,
    which lets tools that take one p-value threshold reproduce the decision.
    """
    p = np.sort(np.asarray([v for v in p_values if not np.isnan(v)], dtype=float))
    if p.size == 0:
        return q
    passing = np.flatnonzero(p <= q * np.arange(1, p.size + 1) / p.size)
    return float(p[passing[-1]]) if passing.size else q / p.size
