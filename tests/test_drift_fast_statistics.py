"""The count-based drift statistics equal the plain SciPy / NumPy computations on raw rows (to 1e-9).

Random windows with ties, NaN, constant columns, levels present in one window only
and tiny windows; each statistic is computed the fast way (counts, sorted merges,
bincounts) and the plain way (``scipy.stats.ks_2samp``, ``chi2_contingency``,
``wasserstein_distance``, ``jensenshannon``, statsmodels' BH, a histogram PSI).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.multitest import multipletests

from attrition.config import MonitoringSettings
from attrition.drift import statistics as st
from attrition.drift.features import analyse_feature
from attrition.drift.performance import METRICS, _rank_auc, _simulate

TOL = {"rel": 1e-9, "abs": 1e-12}


def _numeric_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2026)
    with_nan = rng.integers(0, 30, 800).astype(float)
    with_nan[rng.choice(800, 90, replace=False)] = np.nan
    return [
        ("floats", rng.normal(size=1500), rng.normal(0.2, 1.1, size=1300)),
        ("integer ties", rng.integers(18, 60, 900).astype(float), rng.integers(20, 65, 1100).astype(float)),
        ("nan", with_nan, rng.integers(2, 33, 700).astype(float)),
        ("constant both", np.full(200, 7.0), np.full(150, 7.0)),
        ("constant reference", np.full(300, 3.0), rng.integers(0, 6, 250).astype(float)),
        ("disjoint", rng.integers(0, 5, 400).astype(float), rng.integers(10, 15, 300).astype(float)),
        ("tiny", np.array([1.0, 2.0, 2.0]), np.array([2.0, 5.0])),
        ("single rows", np.array([4.0]), np.array([9.0])),
        ("probabilities", rng.beta(2, 7, 5000), rng.beta(2.3, 7, 4000)),
    ]


NUMERIC = _numeric_cases()
IDS = [name for name, _, _ in NUMERIC]


def _clean(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def _plain_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref, cur = Counter(_clean(reference).tolist()), Counter(_clean(current).tolist())
    values = np.array(sorted(set(ref) | set(cur)))
    return values, np.array([ref[v] for v in values], float), np.array([cur[v] for v in values], float)


def _plain_quantile_bins(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins cut at the reference quantiles, each value in the bin left of its edge.

    Edge for share q: the smallest reference value whose share of rows at or below it,
    ``rows / n`` in floating point, is >= q. (``np.quantile(method="inverted_cdf")``
    decides the exact ties ``rows == n * q`` in integers and can cut one value later.)
    """
    distinct = np.unique(ref)
    shares = np.searchsorted(np.sort(ref), distinct, side="right") / ref.size
    cuts = [
        distinct[min(int(np.argmax(shares >= q)), distinct.size - 1)]
        for q in np.linspace(0, 1, bins + 1)[1:-1]
    ]
    edges = np.unique(cuts)
    size = edges.size + 1
    return (
        np.bincount(np.searchsorted(edges, ref, side="left"), minlength=size).astype(float),
        np.bincount(np.searchsorted(edges, cur, side="left"), minlength=size).astype(float),
    )


def _plain_psi(ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float) -> float:
    p = np.maximum(ref_counts / ref_counts.sum(), epsilon)
    q = np.maximum(cur_counts / cur_counts.sum(), epsilon)
    return float(sum((qi - pi) * np.log(qi / pi) for pi, qi in zip(p, q, strict=True)))


@pytest.mark.parametrize(("name", "reference", "current"), NUMERIC, ids=IDS)
def test_counts_equal_plain_counting(name: str, reference: np.ndarray, current: np.ndarray) -> None:
    counts = st.counts_from_arrays(reference, current)
    values, ref, cur = _plain_counts(reference, current)
    assert np.array_equal(counts.values, values)
    assert np.array_equal(counts.reference, ref) and np.array_equal(counts.current, cur)


@pytest.mark.parametrize(("name", "reference", "current"), NUMERIC, ids=IDS)
def test_ks_equals_scipy_ks_2samp(name: str, reference: np.ndarray, current: np.ndarray) -> None:
    statistic, p_value = st.ks_test(st.counts_from_arrays(reference, current))
    ref, cur = _clean(reference), _clean(current)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert statistic == pytest.approx(expected.statistic, **TOL)
    if round(ref.size * cur.size / (ref.size + cur.size)) == 0:  # 1 vs 1 row: SciPy's n rounds to 0 (NaN)
        assert p_value == pytest.approx(stats.kstwo.sf(expected.statistic, 1), **TOL)  # ours floors n at 1
    else:
        assert p_value == pytest.approx(expected.pvalue, **TOL)


@pytest.mark.parametrize(("name", "reference", "current"), NUMERIC, ids=IDS)
def test_wasserstein_equals_scipy_over_the_reference_spread(
    name: str, reference: np.ndarray, current: np.ndarray
) -> None:
    ref, cur = _clean(reference), _clean(current)
    distance = stats.wasserstein_distance(ref, cur)
    scale = ref.std(ddof=1) if ref.size > 1 else 0.0
    if scale == 0:
        scale = np.quantile(ref, 0.75, method="inverted_cdf") - np.quantile(ref, 0.25, method="inverted_cdf")
    expected = distance / scale if scale > 0 else distance
    assert st.wasserstein_normalised(st.counts_from_arrays(reference, current)) == pytest.approx(
        expected, **TOL
    )


@pytest.mark.parametrize(("name", "reference", "current"), NUMERIC, ids=IDS)
@pytest.mark.parametrize("bins", [10, 3])
def test_psi_and_jensen_shannon_equal_a_plain_histogram(
    name: str, reference: np.ndarray, current: np.ndarray, bins: int
) -> None:
    ref_bins, cur_bins = st.quantile_bins(st.counts_from_arrays(reference, current), bins)
    plain_ref, plain_cur = _plain_quantile_bins(_clean(reference), _clean(current), bins)
    assert np.array_equal(ref_bins, plain_ref) and np.array_equal(cur_bins, plain_cur)
    assert st.psi(ref_bins, cur_bins, 1e-4) == pytest.approx(_plain_psi(plain_ref, plain_cur, 1e-4), **TOL)
    expected_js = jensenshannon(plain_ref / plain_ref.sum(), plain_cur / plain_cur.sum(), base=2)
    assert st.jensen_shannon(ref_bins, cur_bins) == pytest.approx(expected_js, **TOL)


def _category_cases() -> list[tuple[str, pd.Series, pd.Series]]:
    rng = np.random.default_rng(11)
    levels = ["Sales", "Research & Development", "Human Resources"]
    with_nan = pd.Series(rng.choice(levels, p=[0.3, 0.6, 0.1], size=900), dtype=object)
    with_nan[rng.choice(900, 50, replace=False)] = np.nan
    return [
        (
            "three levels",
            pd.Series(rng.choice(levels, p=[0.3, 0.6, 0.1], size=1000)),
            pd.Series(rng.choice(levels, p=[0.45, 0.45, 0.1], size=800)),
        ),
        ("nan", with_nan, pd.Series(rng.choice(levels, size=700))),
        (
            "new level in current",
            pd.Series(rng.choice(levels[:2], size=600)),
            pd.Series(rng.choice(levels, p=[0.4, 0.4, 0.2], size=600)),
        ),
        (
            "level gone from current",
            pd.Series(rng.choice(levels, size=600)),
            pd.Series(rng.choice(levels[1:], size=500)),
        ),
        (
            "binary",
            pd.Series(rng.choice(["Yes", "No"], p=[0.3, 0.7], size=400)),
            pd.Series(["Yes", "No"] * 150),
        ),
    ]


CATEGORIES = _category_cases()


@pytest.mark.parametrize(("name", "reference", "current"), CATEGORIES, ids=[c[0] for c in CATEGORIES])
def test_chi_square_equals_scipy_chi2_contingency(
    name: str, reference: pd.Series, current: pd.Series
) -> None:
    counts = st.counts_from_series(reference, current)
    table = pd.crosstab(
        np.r_[np.zeros(reference.notna().sum()), np.ones(current.notna().sum())],
        np.r_[reference.dropna().to_numpy(), current.dropna().to_numpy()],
    )
    assert list(table.columns) == counts.values.tolist()
    assert np.array_equal(table.to_numpy(), np.vstack([counts.reference, counts.current]))
    statistic, p_value = st.chi_square_test(counts)
    expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert statistic == pytest.approx(expected.statistic, **TOL)
    assert p_value == pytest.approx(expected.pvalue, **TOL)
    shares = table.to_numpy() / table.to_numpy().sum(axis=1, keepdims=True)
    assert st.jensen_shannon(counts.reference, counts.current) == pytest.approx(
        jensenshannon(shares[0], shares[1], base=2), **TOL
    )


def test_chi_square_on_pooled_sparse_levels_equals_scipy_on_the_pooled_table() -> None:
    rng = np.random.default_rng(3)
    reference = pd.Series(rng.choice(list("abcdef"), p=[0.5, 0.44, 0.03, 0.01, 0.01, 0.01], size=300))
    current = pd.Series(rng.choice(list("abcdefg"), p=[0.45, 0.45, 0.04, 0.02, 0.02, 0.01, 0.01], size=250))
    counts = st.counts_from_series(reference, current)
    ref, cur = st.pool_small_cells(counts, 5.0)
    assert ref.size < counts.values.size  # something was pooled
    assert ref.sum() == reference.size and cur.sum() == current.size
    expected = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    statistic, p_value = st.chi_square_test(counts, 5.0)
    assert statistic == pytest.approx(expected.statistic, **TOL)
    assert p_value == pytest.approx(expected.pvalue, **TOL)


def test_single_level_in_both_windows_is_untestable() -> None:
    counts = st.counts_from_series(pd.Series(["Y"] * 40), pd.Series(["Y"] * 30))
    assert all(np.isnan(v) for v in st.chi_square_test(counts))


def test_benjamini_hochberg_equals_statsmodels() -> None:
    rng = np.random.default_rng(5)
    p_values = np.r_[rng.uniform(size=25), rng.uniform(0, 0.002, size=5), [0.01, 0.01]]
    rejected, adjusted = st.benjamini_hochberg(p_values.tolist(), 0.05)
    expected_rejected, expected_adjusted, _, _ = multipletests(p_values, alpha=0.05, method="fdr_bh")
    assert rejected.tolist() == expected_rejected.tolist()
    assert adjusted == pytest.approx(expected_adjusted, **TOL)


def test_feature_drift_of_a_continuous_column_equals_scipy_on_its_cleaned_rows() -> None:
    """The whole per-feature path (dirty text, NaN, counts) against the plain tests on clean numbers."""
    rng = np.random.default_rng(8)
    reference = pd.Series(rng.integers(1000, 20000, 3000).astype(str), dtype=object)
    current = pd.Series((rng.integers(1000, 20000, 2500) * 1.05).astype(int).astype(str), dtype=object)
    reference[:40], current[:30], current[30:45] = "", None, "n/a"
    settings = MonitoringSettings()
    result = analyse_feature(reference, current, "MonthlyIncome", settings)
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy()
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy()
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert result.kind == "continuous" and (result.reference_rows, result.current_rows) == (
        ref.size,
        cur.size,
    )
    assert result.statistic == pytest.approx(expected.statistic, **TOL)
    assert result.p_value == pytest.approx(expected.pvalue, **TOL)
    assert result.wasserstein == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(ddof=1), **TOL)
    plain_ref, plain_cur = _plain_quantile_bins(ref, cur, settings.psi_bins)
    assert result.psi == pytest.approx(_plain_psi(plain_ref, plain_cur, settings.psi_epsilon), **TOL)
    assert result.current_out_of_contract_rate == pytest.approx(15 / 2500)


def _plain_simulate(
    p: np.ndarray, flagged: np.ndarray, samples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The label-matrix simulation as first written: float64 labels, one row at a time."""
    ranks = stats.rankdata(p)
    parts: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(samples):
        labels = (rng.random(p.size, dtype=np.float32) < p.astype(np.float32)).astype(np.float64)
        true_pos = labels[flagged].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            parts["recall"].append(true_pos / labels.sum())
            parts["precision"].append(true_pos / flagged.sum())
            parts["roc_auc"].append(float(_rank_auc(ranks, labels)))
    return {name: np.array(values) for name, values in parts.items()}


@pytest.mark.parametrize("rows", [1, 7, 2000])
def test_simulated_performance_draws_equal_the_plain_simulation(rows: int) -> None:
    p = np.random.default_rng(rows).beta(2, 6, rows)
    flagged = p >= 0.3
    fast = _simulate(p, flagged, 150, np.random.default_rng(0))
    plain = _plain_simulate(p, flagged, 150, np.random.default_rng(0))
    for name in METRICS:
        np.testing.assert_array_equal(fast[name], plain[name])
