"""Count-based drift statistics agree with the textbook implementations they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from attrition.drift import statistics as st


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_ks_matches_scipy_on_floats_and_ties(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=1500), rng.normal(0.1, size=1200)
    statistic, p_value = st.ks_test(st.counts_from_arrays(a, b))
    expected = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6)

    ints_a, ints_b = rng.integers(18, 60, 900), rng.integers(20, 62, 1100)
    statistic, p_value = st.ks_test(st.counts_from_arrays(ints_a, ints_b))
    expected = stats.ks_2samp(ints_a, ints_b, method="asymp")
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6)


def test_wasserstein_matches_scipy_normalised_by_reference_std(rng: np.random.Generator) -> None:
    a, b = rng.integers(0, 40, 800), rng.integers(3, 45, 700)
    counts = st.counts_from_arrays(a, b)
    assert st.wasserstein_normalised(counts) == pytest.approx(
        stats.wasserstein_distance(a, b) / a.std(ddof=1)
    )
    constant = st.counts_from_arrays(np.full(100, 3.0), np.full(100, 5.0))
    assert st.wasserstein_normalised(constant) == pytest.approx(2.0)  # no spread: raw units


def test_chi_square_matches_scipy_when_no_cell_is_sparse(rng: np.random.Generator) -> None:
    ref = pd.Series(rng.choice(list("abc"), p=[0.5, 0.3, 0.2], size=1000))
    cur = pd.Series(rng.choice(list("abc"), p=[0.4, 0.4, 0.2], size=800))
    counts = st.counts_from_series(ref, cur)
    statistic, p_value = st.chi_square_test(counts)
    expected = stats.chi2_contingency(np.vstack([counts.reference, counts.current]), correction=False)
    assert statistic == pytest.approx(expected[0])
    assert p_value == pytest.approx(expected[1])


def test_sparse_levels_are_pooled_before_chi_square() -> None:
    counts = st.Counts(
        values=np.array(["a", "b", "c", "d"], dtype=object),
        reference=np.array([500.0, 480.0, 2.0, 1.0]),
        current=np.array([490.0, 470.0, 1.0, 3.0]),
    )
    ref, cur = st.pool_small_cells(counts, 5.0)
    assert ref.tolist() == [500.0, 483.0] and cur.tolist() == [490.0, 474.0]  # folded into the smallest
    statistic, p_value = st.chi_square_test(counts)
    assert np.isfinite(statistic) and 0.05 < p_value <= 1.0
    single = st.Counts(np.array(["a"], dtype=object), np.array([10.0]), np.array([12.0]))
    assert np.isnan(st.chi_square_test(single)[1])  # one level: nothing to test


def test_psi_and_jensen_shannon() -> None:
    same = np.array([100.0, 200.0, 300.0])
    assert st.psi(same, same) == pytest.approx(0.0)
    assert st.jensen_shannon(same, same) == pytest.approx(0.0)
    shifted = np.array([300.0, 200.0, 100.0])
    p, q = same / same.sum(), shifted / shifted.sum()
    assert st.psi(same, shifted) == pytest.approx(np.sum((q - p) * np.log(q / p)))
    # A level missing from one window is floored at epsilon, not an infinity.
    assert np.isfinite(st.psi(np.array([10.0, 0.0]), np.array([5.0, 5.0]), epsilon=1e-4))
    assert st.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_quantile_bins_cut_at_reference_deciles(rng: np.random.Generator) -> None:
    values = rng.normal(size=10_000)
    ref_bins, cur_bins = st.quantile_bins(st.counts_from_arrays(values, values + 10), 10)
    assert ref_bins.size == 10
    assert np.allclose(ref_bins / ref_bins.sum(), 0.1, atol=0.002)
    assert cur_bins[-1] == cur_bins.sum()  # everything shifted past the top edge


def test_benjamini_hochberg_matches_scipy_and_cutoff_reproduces_it(rng: np.random.Generator) -> None:
    p = np.r_[rng.random(25) ** 4, [np.nan]]
    rejected, adjusted = st.benjamini_hochberg(p, 0.05)
    assert np.allclose(adjusted[:-1], stats.false_discovery_control(p[:-1]))
    assert not rejected[-1] and np.isnan(adjusted[-1])
    cutoff = st.bh_cutoff(p, 0.05)
    assert rejected[:-1].tolist() == (p[:-1] <= cutoff).tolist()
    assert rejected.any()
