"""Feature engineering: raw contract records -> numeric model features.

``FeatureBuilder`` is the first step of every fitted model pipeline, so training,
batch scoring and the API run the same code on raw records (parity by
construction). It reads only the contract columns it needs; id, constant, target
and unknown extra columns are ignored. The output is a float64 numpy matrix whose
columns, in this order, are:

1. **Integer columns** (``schema.INTEGER_COLUMNS`` in contract order, minus
   excluded ones): the value as a float, unchanged.
2. **Ordinal levels** (``ORDINAL_LEVELS``: the integer columns whose contract
   hard range has at most 5 values — the 1-4 survey scales, Education, JobLevel,
   PerformanceRating, StockOptionLevel — in contract order, minus excluded ones):
   one column ``"<Column>=<level>"`` per level of the hard range, 1.0 where the
   record has that level, else 0.0. Survey answers are ordered but not evenly
   spaced ("Low" to "Medium" is not "High" to "Very High"), and effects such as
   stock options are not monotone, which a linear model cannot see in the raw value.
3. **One-hot categoricals** (``schema.CATEGORICAL_COLUMNS`` in contract order,
   minus excluded ones): one column ``"<Column>=<category>"`` per category of the
   contract (``schema.SPECS[col].categories``, in that order), 1.0 where the
   record has that category, else 0.0. The categories come from the contract,
   not from the training data, so a category absent at fit still has its column
   and a value outside the contract gives all zeros for that column's block.
4. **Engineered features** (see ``ENGINEERED``), in this order; ``max(d, 1)``
   keeps denominators positive (a 0-year tenure gives ratio 0, not a division
   error):

   - ``tenure_ratio`` = YearsAtCompany / max(TotalWorkingYears, 1)
   - ``role_ratio`` = YearsInCurrentRole / max(YearsAtCompany, 1)
   - ``income_vs_level_median`` = MonthlyIncome / median MonthlyIncome of the
     record's JobLevel *in the training data* (learned at fit, stored in
     ``income_median_by_level_``; a level unseen at fit uses the overall training
     median ``income_median_overall_``)
   - ``promotion_stagnation`` = YearsSinceLastPromotion / max(YearsAtCompany, 1)
   - ``satisfaction_mean`` = mean of EnvironmentSatisfaction, JobSatisfaction,
     RelationshipSatisfaction and WorkLifeBalance
   - ``age_at_joining`` = Age - YearsAtCompany
   - ``companies_per_year`` = NumCompaniesWorked / max(TotalWorkingYears, 1)

**Excluded columns** (the protected attributes, by setting) are never read, and
an engineered feature is dropped whenever *any* of its source columns is
excluded: with Age excluded, ``age_at_joining`` is dropped too, because it would
carry Age back into the model. ``derived_excluded_`` lists what was dropped that
way (the model card states it).

``feature_sources_`` maps each output feature to the contract columns it is
computed from; explanations use it to report contributions per original column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from attrition.schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS, SPECS, Col

Arrays = dict[str, np.ndarray]

_MAX_ORDINAL_LEVELS = 5


def _ordinal_levels() -> dict[str, tuple[int, ...]]:
    levels: dict[str, tuple[int, ...]] = {}
    for col in INTEGER_COLUMNS:
        low, high = SPECS[col].hard_min, SPECS[col].hard_max
        if low is not None and high is not None and high - low < _MAX_ORDINAL_LEVELS:
            levels[col] = tuple(range(low, high + 1))
    return levels


#: Integer columns with a small hard range, and their levels (see the module docstring, block 2).
ORDINAL_LEVELS: dict[str, tuple[int, ...]] = _ordinal_levels()


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return numerator / np.maximum(denominator, 1.0)


def _tenure_ratio(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return _ratio(v[Col.YEARS_AT_COMPANY], v[Col.TOTAL_WORKING_YEARS])


def _role_ratio(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return _ratio(v[Col.YEARS_IN_CURRENT_ROLE], v[Col.YEARS_AT_COMPANY])


def _promotion_stagnation(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return _ratio(v[Col.YEARS_SINCE_LAST_PROMOTION], v[Col.YEARS_AT_COMPANY])


def _companies_per_year(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return _ratio(v[Col.NUM_COMPANIES_WORKED], v[Col.TOTAL_WORKING_YEARS])


def _income_vs_level(v: Arrays, fb: FeatureBuilder) -> np.ndarray:
    levels = v[Col.JOB_LEVEL]
    medians = np.full(levels.shape, fb.income_median_overall_, dtype=np.float64)
    for level, median in fb.income_median_by_level_.items():
        medians[levels == level] = median
    return v[Col.MONTHLY_INCOME] / medians


_SATISFACTION = (
    Col.ENVIRONMENT_SATISFACTION.value,
    Col.JOB_SATISFACTION.value,
    Col.RELATIONSHIP_SATISFACTION.value,
    Col.WORK_LIFE_BALANCE.value,
)


def _satisfaction_mean(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return (v[_SATISFACTION[0]] + v[_SATISFACTION[1]] + v[_SATISFACTION[2]] + v[_SATISFACTION[3]]) / 4.0


def _age_at_joining(v: Arrays, _: FeatureBuilder) -> np.ndarray:
    return v[Col.AGE] - v[Col.YEARS_AT_COMPANY]


@dataclass(frozen=True)
class Engineered:
    """One engineered feature: its name, the contract columns it reads, how to compute it."""

    name: str
    sources: tuple[str, ...]
    compute: Callable[[Arrays, FeatureBuilder], np.ndarray]


ENGINEERED: tuple[Engineered, ...] = (
    Engineered("tenure_ratio", (Col.YEARS_AT_COMPANY, Col.TOTAL_WORKING_YEARS), _tenure_ratio),
    Engineered("role_ratio", (Col.YEARS_IN_CURRENT_ROLE, Col.YEARS_AT_COMPANY), _role_ratio),
    Engineered("income_vs_level_median", (Col.MONTHLY_INCOME, Col.JOB_LEVEL), _income_vs_level),
    Engineered(
        "promotion_stagnation", (Col.YEARS_SINCE_LAST_PROMOTION, Col.YEARS_AT_COMPANY), _promotion_stagnation
    ),
    Engineered("satisfaction_mean", _SATISFACTION, _satisfaction_mean),
    Engineered("age_at_joining", (Col.AGE, Col.YEARS_AT_COMPANY), _age_at_joining),
    Engineered(
        "companies_per_year", (Col.NUM_COMPANIES_WORKED, Col.TOTAL_WORKING_YEARS), _companies_per_year
    ),
)
_BY_NAME: dict[str, Engineered] = {e.name: e for e in ENGINEERED}


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Raw contract records (DataFrame) -> float64 feature matrix; see the module docstring.

    ``exclude``: contract columns the model must not see (the protected attributes
    when ``exclude_protected_from_features`` is on), with everything derived from them.
    """

    def __init__(self, exclude: Sequence[str] = ()) -> None:
        self.exclude = exclude

    # -- fitted layout -------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureBuilder:
        excluded = set(self.exclude)
        unknown = sorted(excluded - set(SPECS))
        if unknown:
            raise ValueError(f"exclude: {unknown} are not contract columns")
        integers = [c for c in INTEGER_COLUMNS if c not in excluded]
        categoricals = [c for c in CATEGORICAL_COLUMNS if c not in excluded]
        engineered = [e for e in ENGINEERED if not excluded.intersection(e.sources)]
        self.integer_columns_: list[str] = integers
        self.ordinal_columns_: list[str] = [c for c in integers if c in ORDINAL_LEVELS]
        self.categorical_columns_: list[str] = categoricals
        self.engineered_: list[str] = [e.name for e in engineered]  # names: the pickle holds no functions
        self.derived_excluded_: list[str] = [e.name for e in ENGINEERED if excluded.intersection(e.sources)]
        self.input_columns_: list[str] = [c for c in SPECS if c in set(integers) | set(categoricals)]
        sources: dict[str, tuple[str, ...]] = {c: (c,) for c in integers}
        for col in self.ordinal_columns_:
            sources.update({f"{col}={level}": (col,) for level in ORDINAL_LEVELS[col]})
        for col in categoricals:
            sources.update({f"{col}={cat}": (col,) for cat in SPECS[col].categories})
        sources.update({e.name: tuple(str(s) for s in e.sources) for e in engineered})
        self.feature_sources_: dict[str, tuple[str, ...]] = sources
        self.feature_names_out_: list[str] = list(sources)

        if len(X) == 0:
            raise ValueError("cannot fit features on an empty frame")
        self.income_median_overall_: float = 1.0
        self.income_median_by_level_: dict[int, float] = {}
        if "income_vs_level_median" in self.engineered_:
            values = self._numeric(X, [Col.MONTHLY_INCOME.value, Col.JOB_LEVEL.value])
            income, levels = values[Col.MONTHLY_INCOME], values[Col.JOB_LEVEL]
            self.income_median_overall_ = float(np.median(income))
            self.income_median_by_level_ = {
                int(level): float(np.median(income[levels == level])) for level in np.unique(levels)
            }
        self.n_features_out_: int = len(self.feature_names_out_)
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)

    # -- transform -----------------------------------------------------------------

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "feature_names_out_"):
            raise RuntimeError("FeatureBuilder is not fitted yet")
        engineered = [_BY_NAME[name] for name in self.engineered_]
        needed = sorted(
            set(self.integer_columns_) | {str(s) for e in engineered for s in e.sources},
            key=list(SPECS).index,
        )
        values = self._numeric(X, needed)
        blocks: list[np.ndarray] = [values[c] for c in self.integer_columns_]
        for col in self.ordinal_columns_:
            blocks.extend((values[col] == level).astype(np.float64) for level in ORDINAL_LEVELS[col])
        for col in self.categorical_columns_:
            raw = self._column(X, col)
            if pd.isna(raw).any():
                raise ValueError(
                    f"column {col}: missing value (expected one of {list(SPECS[col].categories)})"
                )
            blocks.extend((raw == cat).astype(np.float64) for cat in SPECS[col].categories)
        blocks.extend(e.compute(values, self) for e in engineered)
        return np.column_stack(blocks) if blocks else np.empty((len(X), 0))

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _column(X: pd.DataFrame, col: str) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame of contract records, got {type(X).__name__}")
        if col not in X.columns:
            raise ValueError(f"missing column {col!r}: records need the contract columns the model reads")
        return X[col].to_numpy()

    @classmethod
    def _numeric(cls, X: pd.DataFrame, columns: Sequence[str]) -> Arrays:
        """Columns as float64 arrays; a missing or non-numeric value is an error naming the column."""
        out: Arrays = {}
        for col in columns:
            raw = cls._column(X, col)
            try:
                values = raw.astype(np.float64)
            except (TypeError, ValueError):
                bad = next((v for v in raw if not _is_number(v)), None)
                raise ValueError(f"column {col}: expected a number, got {bad!r}") from None
            if np.isnan(values).any():
                raise ValueError(f"column {col}: missing value (expected a number)")
            out[col] = values
        return out


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
