"""Per-feature drift and data quality, reference window vs current window.

Each contract feature gets a test suited to its kind, read from the contract:

* ``continuous``: integer column whose soft range spans more than
  ``max_ordinal_levels`` values -> KS; effect sizes PSI (reference deciles),
  normalised Wasserstein, Jensen-Shannon.
* ``ordinal``: integer column with few levels (survey scales, job level) and
  ``categorical`` columns -> chi-square with sparse levels pooled; PSI and
  Jensen-Shannon over the levels.

p-values are corrected with Benjamini-Hochberg across all tested columns at
``false_discovery_rate``. A column *drifts* only when it is BH-significant AND
its effect passes the minimum: PSI >= ``min_psi``, or normalised Wasserstein
>= ``min_wasserstein`` (continuous), or Jensen-Shannon distance >=
``min_jensen_shannon`` (ordinal, categorical: PSI alone under-rates a shift of
mass between large levels, e.g. a department going from 65% to 48%). Significance alone controls
false alarms on small windows; the effect minimum stops trivial shifts from
alarming on large ones, where everything is significant.

Data quality is reported alongside: missing-value rates, out-of-contract rate
(non-numbers, fractions or values outside the hard range; unknown categories),
values new in current, all-missing columns, and contract features absent from
either window (never a crash: the column is reported and left untested).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from attrition.config import MonitoringSettings
from attrition.drift import statistics as st
from attrition.schema import ALL_COLUMNS, FEATURE_COLUMNS, SNAPSHOT_DATE, SPECS, ColumnSpec

FeatureKind = Literal["continuous", "ordinal", "categorical"]

#: Most distinct values listed as "new" per column (the count is always exact).
MAX_LISTED_NEW_VALUES = 20
#: Integer columns spanning fewer values than this are counted with np.bincount (no hashing).
_MAX_BINCOUNT_RANGE = 1 << 20


@dataclass
class FeatureDrift:
    """Drift test, effect sizes and data quality of one feature."""

    column: str
    kind: FeatureKind
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    psi: float | None = None
    wasserstein: float | None = None
    jensen_shannon: float | None = None
    significant: bool = False
    effect_passed: bool = False
    drifted: bool = False
    weight: float = 0.0
    reference_rows: int = 0
    current_rows: int = 0
    reference_missing_rate: float = 0.0
    current_missing_rate: float = 0.0
    current_out_of_contract_rate: float = 0.0
    new_values: list[str] = field(default_factory=list)
    new_value_rate: float = 0.0
    change: str = ""
    note: str | None = None

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SchemaCheck:
    """Contract features absent from a window, and columns the contract does not know."""

    missing_in_current: list[str]
    missing_in_reference: list[str]
    extra_in_current: list[str]


def feature_kind(spec: ColumnSpec, max_ordinal_levels: int) -> FeatureKind:
    """Kind of a feature from the contract (never from the data, so it is stable)."""
    if spec.kind == "categorical":
        return "categorical"
    low, high = spec.soft_min, spec.soft_max
    if low is not None and high is not None and high - low + 1 <= max_ordinal_levels:
        return "ordinal"
    return "continuous"


def check_schema(reference: pd.DataFrame, current: pd.DataFrame) -> SchemaCheck:
    """Which contract features each window lacks and which unknown columns current carries."""
    known = {*ALL_COLUMNS, SNAPSHOT_DATE}
    return SchemaCheck(
        missing_in_current=[c for c in FEATURE_COLUMNS if c not in current.columns],
        missing_in_reference=[c for c in FEATURE_COLUMNS if c not in reference.columns],
        extra_in_current=[str(c) for c in current.columns if c not in known],
    )


@dataclass(frozen=True)
class _Cleaned:
    """A window's column as distinct readable values with counts, plus quality counts."""

    values: np.ndarray
    counts: np.ndarray
    rows: int
    missing: int
    out_of_contract: int

    @property
    def present(self) -> int:
        return int(self.counts.sum())


def _merge_duplicates(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum counts of values that became equal after cleaning ("3" and 3, " Sales" and "Sales")."""
    unique, inverse = np.unique(values, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=unique.size)


def _clean(series: pd.Series, spec: ColumnSpec, kind: FeatureKind) -> _Cleaned:
    """Reduce a column to value counts first, so cleaning touches distinct values only.

    Missing: NaN/None or blank text. Out of contract: for integers a non-number,
    a fraction or a value outside the hard range (readable numbers are still
    counted); for categories any label the contract does not list.
    """
    integers = _integer_counts(series)
    if integers is not None:  # an int64 column (typed CSV read, database): no missing values
        keys, counts = integers
        missing = np.zeros(keys.size, dtype=bool)
        numbers = keys
    elif (raw := series.value_counts(dropna=False, sort=False)).index.dtype.kind in "iufb":
        counts = raw.to_numpy(dtype=float)
        keys = raw.index.to_numpy(dtype=float)
        missing = np.isnan(keys)
        numbers = keys
    else:
        counts = raw.to_numpy(dtype=float)
        keys = raw.index.to_numpy(dtype=object)
        missing = np.array([_is_blank(k) for k in keys], dtype=bool)
        numbers = pd.to_numeric(pd.Series(keys), errors="coerce").to_numpy(dtype=float)
    present_counts = counts[~missing]
    if kind == "categorical":
        labels = np.array([str(k).strip() for k in keys[~missing]], dtype=str)
        bad = ~np.isin(labels, spec.categories)
        values, merged = _merge_duplicates(labels, present_counts)
    else:
        numbers = numbers[~missing]
        readable = ~np.isnan(numbers)
        with np.errstate(invalid="ignore"):
            bad = ~readable | (numbers % 1 != 0)
            if spec.hard_min is not None:
                bad |= numbers < spec.hard_min
            if spec.hard_max is not None:
                bad |= numbers > spec.hard_max
        values, merged = _merge_duplicates(numbers[readable], present_counts[readable])
    return _Cleaned(values, merged, len(series), int(counts[missing].sum()), int(present_counts[bad].sum()))


def _integer_counts(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct values (as floats) and counts of an integer column by bincount, when its range is small."""
    if series.dtype.kind not in "iu" or series.empty:
        return None
    values = series.to_numpy()
    low, high = int(values.min()), int(values.max())
    if high - low >= _MAX_BINCOUNT_RANGE:
        return None
    counts = np.bincount(values - low if low else values)
    present = np.flatnonzero(counts)
    return (present + low).astype(float), counts[present].astype(float)


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or (isinstance(value, str) and not value.strip())
        or value is pd.NA
        or value is pd.NaT
    )


def _describe_change(counts: st.Counts, kind: FeatureKind) -> str:
    """One human line: mean shift for numbers, largest share change for levels."""
    if kind == "continuous":
        before = st.weighted_mean(counts.values, counts.reference)
        after = st.weighted_mean(counts.values, counts.current)
        return f"mean {before:.3g} -> {after:.3g}"
    shares_ref = st.proportions(counts.reference)
    shares_cur = st.proportions(counts.current)
    biggest = int(np.argmax(np.abs(shares_cur - shares_ref)))
    label = counts.values[biggest]
    label = f"{label:g}" if isinstance(label, float) else str(label)
    return f"{label} {shares_ref[biggest]:.1%} -> {shares_cur[biggest]:.1%}"


def _new_values(counts: st.Counts) -> list[str]:
    new = counts.values[(counts.reference == 0) & (counts.current > 0)]
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in new]


def analyse_feature(
    reference: pd.Series, current: pd.Series, column: str, settings: MonitoringSettings
) -> FeatureDrift:
    """Test, effect sizes and quality of one feature (BH and the verdict come later)."""
    spec = SPECS[column]
    kind = feature_kind(spec, settings.max_ordinal_levels)
    result = FeatureDrift(column=column, kind=kind)
    ref, cur = _clean(reference, spec, kind), _clean(current, spec, kind)
    result.reference_missing_rate = ref.missing / ref.rows if ref.rows else 0.0
    result.current_missing_rate = cur.missing / cur.rows if cur.rows else 0.0
    result.current_out_of_contract_rate = cur.out_of_contract / cur.rows if cur.rows else 0.0
    result.reference_rows, result.current_rows = ref.present, cur.present
    if result.reference_rows == 0 or result.current_rows == 0:
        window = "reference" if result.reference_rows == 0 else "current"
        result.note = f"all values missing or unreadable in the {window} window; not tested"
        return result
    counts = st.align_counts(ref.values, ref.counts, cur.values, cur.counts)
    result.change = _describe_change(counts, kind)
    if kind != "continuous":
        new = _new_values(counts)
        result.new_values = new[:MAX_LISTED_NEW_VALUES]
        result.new_value_rate = float(counts.current[counts.reference == 0].sum() / counts.n_current)
    if kind == "continuous":
        result.test = "ks"
        result.statistic, result.p_value = st.ks_test(counts)
        ref_bins, cur_bins = st.quantile_bins(counts, settings.psi_bins)
        result.wasserstein = st.wasserstein_normalised(counts)
    else:
        result.test = "chi2"
        result.statistic, result.p_value = st.chi_square_test(counts, settings.min_expected_count)
        ref_bins, cur_bins = counts.reference, counts.current
    if np.isnan(result.p_value):
        result.test, result.statistic, result.p_value = None, None, None
        result.note = "a single level in both windows; not tested"
    result.psi = st.psi(ref_bins, cur_bins, settings.psi_epsilon)
    result.jensen_shannon = st.jensen_shannon(ref_bins, cur_bins)
    return result


def importance_weights(importance: dict[str, float] | None, columns: list[str]) -> dict[str, float]:
    """Weights over ``columns`` summing to 1: model importance when given, else equal.

    Importance keys may be contract columns or engineered names that start with
    one (``OverTime_Yes``, ``cat__Department_Sales``); those are summed into the
    column. Columns the model does not use get weight 0.
    """
    if not columns:
        return {}
    raw = dict.fromkeys(columns, 0.0)
    for key, value in (importance or {}).items():
        name = key.split("__", 1)[-1]
        owners = [c for c in columns if name.startswith(c)]  # longest wins: EducationField_x
        owner = max(owners, key=len) if owners else None
        if owner is not None:
            raw[owner] += abs(float(value))
    total = sum(raw.values())
    if total <= 0:
        return {c: 1.0 / len(columns) for c in columns}
    return {c: v / total for c, v in raw.items()}


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    settings: MonitoringSettings,
    importance: dict[str, float] | None = None,
) -> tuple[list[FeatureDrift], SchemaCheck]:
    """Every contract feature present in both windows: tested, BH-corrected, judged."""
    schema = check_schema(reference, current)
    absent = set(schema.missing_in_current) | set(schema.missing_in_reference)
    columns = [c for c in FEATURE_COLUMNS if c not in absent]
    results = [analyse_feature(reference[c], current[c], c, settings) for c in columns]
    tested = [r for r in results if r.tested]
    rejected, adjusted = st.benjamini_hochberg(
        [float(r.p_value or 0.0) for r in tested], settings.false_discovery_rate
    )
    for result, is_rejected, p_adj in zip(tested, rejected, adjusted, strict=True):
        result.p_adjusted = float(p_adj)
        result.significant = bool(is_rejected)
        result.effect_passed = passes_effect_minimum(result, settings)
        result.drifted = result.significant and result.effect_passed
    weights = importance_weights(importance, [r.column for r in tested])
    for result in results:
        result.weight = weights.get(result.column, 0.0)
    return results, schema


def passes_effect_minimum(result: FeatureDrift, settings: MonitoringSettings) -> bool:
    """PSI >= min_psi, or Wasserstein (continuous) / Jensen-Shannon (levels) past their minimum."""
    if result.psi is not None and result.psi >= settings.min_psi:
        return True
    if result.kind == "continuous":
        return result.wasserstein is not None and result.wasserstein >= settings.min_wasserstein
    return result.jensen_shannon is not None and result.jensen_shannon >= settings.min_jensen_shannon
