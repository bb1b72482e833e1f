"""Synthetic workforce: IBM-HR-like employee records, so everything runs with no private data.

Why it looks the way it does:

* Marginals follow the public IBM HR Analytics file (attrition ~16%, overtime ~28%,
  R&D 65% / Sales 30% / HR 4%, mean age ~37, mean income ~6,500 rising with job level).
* Fields are drawn in causal order (age -> working years -> tenure -> role history;
  department -> role -> level -> income), so the contract's cross-field rules and
  the role/department map hold by construction.
* Attrition is a Bernoulli draw from a logistic model of known HR risk factors plus an
  unobserved "personal circumstances" term, so a good model reaches ROC-AUC ~0.85, not 0.99.
* Every random draw is made in the same order whatever the drift scenario, and a drift
  only changes the distribution a uniform is mapped through. So ``seed`` fixes the
  employees, and a drifted frame differs from the baseline with the same seed only
  in what the scenario claims to move (and what follows from it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from attrition.data.sampling import (
    beta_like,
    categories,
    cdf,
    cumulative,
    draw,
    draw_given,
    truncated_normal,
    uniform_int,
)
from attrition.data.scenarios import Drift, drift_for
from attrition.schema import (
    ALL_COLUMNS,
    ATTRITION_NO,
    ATTRITION_YES,
    CONSTANT_COLUMNS,
    ROLE_DEPARTMENTS,
    SNAPSHOT_DATE,
    SPECS,
    Col,
)

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# --- marginal tables (IBM HR Analytics counts, n=1470) -------------------------------

_DEPARTMENTS = {"Research & Development": 961, "Sales": 446, "Human Resources": 63}
_ROLES_BY_DEPARTMENT: dict[str, dict[str, float]] = {
    "Research & Development": {
        "Research Scientist": 292,
        "Laboratory Technician": 259,
        "Manufacturing Director": 145,
        "Healthcare Representative": 131,
        "Research Director": 80,
        "Manager": 54,
    },
    "Sales": {"Sales Executive": 326, "Sales Representative": 83, "Manager": 37},
    "Human Resources": {"Human Resources": 52, "Manager": 11},
}
_FIELDS_BY_DEPARTMENT: dict[str, dict[str, float]] = {
    "Research & Development": {"Life Sciences": 440, "Medical": 363, "Technical Degree": 94, "Other": 64},
    "Sales": {"Life Sciences": 150, "Medical": 88, "Marketing": 159, "Technical Degree": 35, "Other": 14},
    "Human Resources": {
        "Human Resources": 27,
        "Life Sciences": 16,
        "Medical": 13,
        "Technical Degree": 3,
        "Other": 4,
    },
}
_TRAVEL = {"Travel_Rarely": 1043, "Travel_Frequently": 277, "Non-Travel": 150}
_MARITAL = {"Married": 673, "Single": 470, "Divorced": 327}
_GENDER = {"Male": 882, "Female": 588}
# Index = value - 1 (1..29); the long tail is flat, commutes of 1-2 are the most common.
_DISTANCE = [208, 211, 84, 64, 65, 59, 84, 80, 85, 86, 29, 20, 19, 21, 26, 32, 20, 26, 22, 25]
_DISTANCE += [18, 19, 27, 28, 25, 25, 12, 23, 27]
_REMOTE_DISTANCE = [0] * 9 + list(range(10, 30))  # 10..29, weight rising with distance
_EDUCATION = [170, 282, 572, 398, 48]
_ENVIRONMENT = [284, 287, 453, 446]
_JOB_SATISFACTION = [289, 280, 442, 459]
_RELATIONSHIP = [276, 303, 459, 432]
_INVOLVEMENT = [83, 375, 868, 144]
_WORK_LIFE = [80, 344, 893, 153]
_TRAINING = [54, 71, 547, 491, 123, 119, 65]
_COMPANIES = [197, 521, 146, 159, 139, 63, 70, 74, 49, 52]
# Salary hike by performance rating: 3 -> 11..19 %, 4 (outstanding) -> 20..25 %.
_HIKE_RATED_3 = [210, 198, 209, 201, 101, 78, 82, 89, 76]
_HIKE_RATED_4 = [55, 48, 56, 28, 21, 18]
_FREEZE_RATED_3 = [6, 3, 2, 1]  # 11..14 %
_FREEZE_RATED_4 = [0, 0, 0, 0, 3, 2, 1]  # 15..17 % (index 0 = 11 %)
_OUTSTANDING_SHARE = 226 / 1470
# Stock options: singles rarely hold any (IBM: none do), others mostly level 1.
_STOCK_SINGLE = [0.78, 0.18, 0.04, 0.0]
_STOCK_OTHER = [0.25, 0.53, 0.14, 0.08]

# Job level: role base + experience, clipped to the levels the role exists at.
_ROLE_LEVELS: dict[str, tuple[float, int, int]] = {  # role -> (base latent, min, max)
    "Sales Representative": (0.75, 1, 2),
    "Laboratory Technician": (0.85, 1, 3),
    "Research Scientist": (0.95, 1, 3),
    "Human Resources": (1.25, 1, 3),
    "Sales Executive": (2.00, 2, 4),
    "Healthcare Representative": (2.35, 2, 4),
    "Manufacturing Director": (2.30, 2, 4),
    "Research Director": (4.00, 3, 5),
    "Manager": (4.35, 3, 5),
}
# Monthly income by job level: (median, spread as sd of log, low, high).
_INCOME = {
    1: (2700.0, 0.22, 1009, 4999),
    2: (5200.0, 0.20, 2500, 9999),
    3: (9500.0, 0.16, 4500, 13999),
    4: (15400.0, 0.08, 11000, 17999),
    5: (19200.0, 0.025, 18000, 19999),
}

# --- the attrition model (log-odds) -----------------------------------------------------

#: Intercept giving a ~16% base rate on the baseline workforce; see ``calibrate_intercept``.
ATTRITION_INTERCEPT = -3.9718
#: Sd of the unobserved per-person term (family, market, manager): what keeps AUC < 0.9.
ATTRITION_NOISE_SD = 0.7


def generate_workforce(
    rows: int, seed: int, snapshot_date: dt.date | None = None, drift: str | None = None
) -> pd.DataFrame:
    """A synthetic workforce of ``rows`` employees in contract column order.

    Same ``rows``/``seed``/``drift`` -> same frame. ``drift`` is a key of ``scenarios.DRIFT_SCENARIOS``;
    ``snapshot_date`` adds the ``snapshot_date`` column the ingest keys snapshots by.
    """
    frame, _ = _generate(rows, seed, drift)
    if snapshot_date is not None:
        frame[SNAPSHOT_DATE] = snapshot_date
    logger.info("generated %d synthetic employees (seed=%d, drift=%s)", rows, seed, drift or "none")
    return frame


def attrition_probability(rows: int, seed: int, drift: str | None = None) -> np.ndarray:
    """The true leave probability behind ``generate_workforce(rows, seed, drift=drift)``.

    Includes the unobserved term, so it is the ceiling no model can beat (tests, benchmarks).
    """
    return np.asarray(expit(_generate(rows, seed, drift)[1]))


def calibrate_intercept(rows: int = 400_000, seed: int = 2024, target: float = 0.16) -> float:
    """The intercept for which the baseline workforce leaves at rate ``target``.

    Run this after changing a coefficient and paste the result into ``ATTRITION_INTERCEPT``.
    """
    logit = _generate(rows, seed, None, intercept=0.0)[1]
    low, high = -10.0, 5.0
    for _ in range(60):  # bisection: the mean leave rate rises with the intercept
        mid = (low + high) / 2
        low, high = (mid, high) if float(np.mean(expit(logit + mid))) < target else (low, mid)
    return round((low + high) / 2, 4)


def write_csv(
    frame: pd.DataFrame, path: str | Path, progress: Progress | None = None, chunk_rows: int = 100_000
) -> None:
    """Write ``frame`` as UTF-8 CSV with ``\\n`` line ends: same frame, same bytes.

    Written ``chunk_rows`` at a time so ``progress(rows_done, rows_total)`` can report on
    large files; the bytes do not depend on the chunk size.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = len(frame)
    chunk = max(1, chunk_rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if total == 0:
            frame.to_csv(handle, index=False, lineterminator="\n")
        for start in range(0, total, chunk):
            part = frame.iloc[start : start + chunk]
            part.to_csv(handle, index=False, header=start == 0, lineterminator="\n")
            if progress is not None:
                progress(min(start + chunk, total), total)


# --- generation -------------------------------------------------------------------------


def _generate(
    rows: int, seed: int, drift: str | None, intercept: float = ATTRITION_INTERCEPT
) -> tuple[pd.DataFrame, np.ndarray]:
    """The workforce and each employee's true log-odds of leaving."""
    scenario = drift_for(drift)
    if rows < 0:
        raise ValueError(f"rows: expected a non-negative count, got {rows}")
    rng = np.random.default_rng(seed)
    u = rng.random((_UNIFORMS, rows))  # one fixed row of uniforms per draw, whatever the drift
    noise = rng.standard_normal(rows)
    numbers = np.cumsum(rng.integers(1, 3, rows))  # unique, increasing, with IBM-like gaps

    codes: dict[str, np.ndarray] = {}
    ints: dict[str, np.ndarray] = {}
    _org(u, scenario, codes)
    _person(u, codes, ints)
    _career(u, codes, ints)
    _pay(u, scenario, codes, ints)
    _work(u, scenario, codes, ints)

    logit = intercept + _attrition_logit(codes, ints) + ATTRITION_NOISE_SD * noise + scenario.attrition_shock
    left = u[_U_ATTRITION] < expit(logit)
    return _assemble(rows, numbers, codes, ints, left), logit


# Row of ``u`` each draw uses (fixed, so drifts never shift the other draws).
(
    _U_DEPARTMENT,
    _U_ROLE,
    _U_FIELD,
    _U_EDUCATION,
    _U_AGE,
    _U_GENDER,
    _U_MARITAL,
    _U_WORK_YEARS,
    _U_COMPANIES,
    _U_TENURE,
    _U_ROLE_YEARS,
    _U_MANAGER_YEARS,
    _U_PROMOTION,
    _U_LEVEL,
    _U_INCOME,
    _U_RATING,
    _U_HIKE,
    _U_STOCK,
    _U_DAILY,
    _U_HOURLY,
    _U_MONTHLY,
    _U_TRAVEL,
    _U_DISTANCE,
    _U_OVERTIME,
    _U_ENVIRONMENT,
    _U_JOB_SATISFACTION,
    _U_RELATIONSHIP,
    _U_INVOLVEMENT,
    _U_WORK_LIFE,
    _U_TRAINING,
    _U_ATTRITION,
    _UNIFORMS,
) = range(32)


def _org(u: np.ndarray, scenario: Drift, codes: dict[str, np.ndarray]) -> None:
    departments = categories(Col.DEPARTMENT)
    codes[Col.DEPARTMENT] = draw(u[_U_DEPARTMENT], cdf(Col.DEPARTMENT, scenario.departments or _DEPARTMENTS))
    role_cdfs = np.stack([cdf(Col.JOB_ROLE, _ROLES_BY_DEPARTMENT[d]) for d in departments])
    codes[Col.JOB_ROLE] = draw_given(u[_U_ROLE], role_cdfs, codes[Col.DEPARTMENT])
    field_cdfs = np.stack([cdf(Col.EDUCATION_FIELD, _FIELDS_BY_DEPARTMENT[d]) for d in departments])
    codes[Col.EDUCATION_FIELD] = draw_given(u[_U_FIELD], field_cdfs, codes[Col.DEPARTMENT])


def _person(u: np.ndarray, codes: dict[str, np.ndarray], ints: dict[str, np.ndarray]) -> None:
    ints[Col.AGE] = truncated_normal(u[_U_AGE], mean=36.6, sd=9.8, low=18, high=60)
    ints[Col.EDUCATION] = 1 + draw(u[_U_EDUCATION], cumulative(_EDUCATION))
    codes[Col.GENDER] = draw(u[_U_GENDER], cdf(Col.GENDER, _GENDER))
    # The young are more often single, the older more often divorced.
    single, divorced = (categories(Col.MARITAL_STATUS).index(m) for m in ("Single", "Divorced"))
    base = np.array([_MARITAL[m] for m in categories(Col.MARITAL_STATUS)], dtype=float)
    age_band = np.clip((ints[Col.AGE] - 18) // 8, 0, 4)
    tilt = np.ones((5, 3))
    tilt[:, single] = [1.7, 1.15, 0.95, 0.8, 0.7]
    tilt[:, divorced] = [0.5, 0.9, 1.05, 1.2, 1.25]
    tables = base * tilt
    cdfs = np.cumsum(tables / tables.sum(axis=1, keepdims=True), axis=1)
    codes[Col.MARITAL_STATUS] = draw_given(u[_U_MARITAL], cdfs, age_band)


def _career(u: np.ndarray, codes: dict[str, np.ndarray], ints: dict[str, np.ndarray]) -> None:
    """Working years, employers and tenure nest inside each other by construction."""
    age = ints[Col.AGE]
    working = np.rint((age - 18) * beta_like(u[_U_WORK_YEARS], 2.6, 2.0)).astype(np.int64)
    working = np.minimum(working, 40)
    companies = draw(u[_U_COMPANIES], cumulative(_COMPANIES)).astype(np.int64)
    companies = np.minimum(companies, working + 1)  # no more employers than years worked (+ this one)
    loyal = companies <= 1
    share = np.where(loyal, beta_like(u[_U_TENURE], 4.0, 1.2), beta_like(u[_U_TENURE], 1.15, 1.5))
    tenure = np.minimum(np.rint(working * share).astype(np.int64), 40)
    role_share = beta_like(u[_U_ROLE_YEARS], 2.0, 1.3)
    manager_share = 0.6 * role_share + 0.4 * beta_like(u[_U_MANAGER_YEARS], 2.0, 1.3)
    ints[Col.TOTAL_WORKING_YEARS] = working
    ints[Col.NUM_COMPANIES_WORKED] = companies
    ints[Col.YEARS_AT_COMPANY] = tenure
    ints[Col.YEARS_IN_CURRENT_ROLE] = np.minimum(np.rint(tenure * role_share).astype(np.int64), 18)
    ints[Col.YEARS_WITH_CURR_MANAGER] = np.minimum(np.rint(tenure * manager_share).astype(np.int64), 17)
    promotion = np.rint(tenure * beta_like(u[_U_PROMOTION], 1.0, 2.0)).astype(np.int64)
    ints[Col.YEARS_SINCE_LAST_PROMOTION] = np.minimum(promotion, 15)
    ints[Col.TRAINING_TIMES_LAST_YEAR] = draw(u[_U_TRAINING], cumulative(_TRAINING)).astype(np.int64)


def _pay(u: np.ndarray, scenario: Drift, codes: dict[str, np.ndarray], ints: dict[str, np.ndarray]) -> None:
    """Job level from role and experience; income from level; hike from rating."""
    roles = categories(Col.JOB_ROLE)
    base, low, high = (np.array([_ROLE_LEVELS[r][i] for r in roles]) for i in range(3))
    role = codes[Col.JOB_ROLE]
    working = ints[Col.TOTAL_WORKING_YEARS]
    latent = base[role] + 0.075 * (working - 11) + 0.55 * ndtri(np.clip(u[_U_LEVEL], 1e-12, 1 - 1e-12))
    level = np.clip(np.rint(latent), low[role], high[role]).astype(np.int64)
    ints[Col.JOB_LEVEL] = level

    median, spread, lowest, highest = (
        np.array([0.0] + [_INCOME[lv][i] for lv in range(1, 6)]) for i in range(4)
    )
    z = ndtri(np.clip(u[_U_INCOME], 1e-12, 1 - 1e-12))
    income = median[level] * np.exp(spread[level] * z + 0.006 * (working - 11))
    ints[Col.MONTHLY_INCOME] = np.clip(np.rint(income), lowest[level], highest[level]).astype(np.int64)

    outstanding = u[_U_RATING] < _OUTSTANDING_SHARE
    ints[Col.PERFORMANCE_RATING] = np.where(outstanding, 4, 3).astype(np.int64)
    if scenario.pay_freeze:
        hike3 = 11 + draw(u[_U_HIKE], cumulative(_FREEZE_RATED_3))
        hike4 = 11 + draw(u[_U_HIKE], cumulative(_FREEZE_RATED_4))
    else:
        hike3 = 11 + draw(u[_U_HIKE], cumulative(_HIKE_RATED_3))
        hike4 = 20 + draw(u[_U_HIKE], cumulative(_HIKE_RATED_4))
    ints[Col.PERCENT_SALARY_HIKE] = np.where(outstanding, hike4, hike3).astype(np.int64)

    single = codes[Col.MARITAL_STATUS] == categories(Col.MARITAL_STATUS).index("Single")
    stock = np.stack([cumulative(_STOCK_OTHER), cumulative(_STOCK_SINGLE)])
    ints[Col.STOCK_OPTION_LEVEL] = draw_given(u[_U_STOCK], stock, single.astype(np.int64)).astype(np.int64)
    ints[Col.DAILY_RATE] = uniform_int(u[_U_DAILY], Col.DAILY_RATE)
    ints[Col.HOURLY_RATE] = uniform_int(u[_U_HOURLY], Col.HOURLY_RATE)
    ints[Col.MONTHLY_RATE] = uniform_int(u[_U_MONTHLY], Col.MONTHLY_RATE)


def _work(u: np.ndarray, scenario: Drift, codes: dict[str, np.ndarray], ints: dict[str, np.ndarray]) -> None:
    """Travel, commute, overtime and the survey scales."""
    codes[Col.BUSINESS_TRAVEL] = draw(u[_U_TRAVEL], cdf(Col.BUSINESS_TRAVEL, _TRAVEL))
    distance = np.asarray(_DISTANCE, dtype=float)
    if scenario.remote_share:
        remote = np.asarray(_REMOTE_DISTANCE, dtype=float)
        share = scenario.remote_share
        distance = (1 - share) * distance / distance.sum() + share * remote / remote.sum()
    ints[Col.DISTANCE_FROM_HOME] = 1 + draw(u[_U_DISTANCE], cumulative(list(distance)))
    yes = categories(Col.OVERTIME).index("Yes")
    codes[Col.OVERTIME] = np.where(u[_U_OVERTIME] < scenario.overtime_share, yes, 1 - yes)
    for col, index, table in (
        (Col.ENVIRONMENT_SATISFACTION, _U_ENVIRONMENT, _ENVIRONMENT),
        (Col.JOB_SATISFACTION, _U_JOB_SATISFACTION, _JOB_SATISFACTION),
        (Col.RELATIONSHIP_SATISFACTION, _U_RELATIONSHIP, _RELATIONSHIP),
        (Col.JOB_INVOLVEMENT, _U_INVOLVEMENT, _INVOLVEMENT),
        (Col.WORK_LIFE_BALANCE, _U_WORK_LIFE, _WORK_LIFE),
    ):
        ints[col] = 1 + draw(u[index], cumulative(table)).astype(np.int64)


def _is(codes: dict[str, np.ndarray], col: Col, value: str) -> np.ndarray:
    return codes[col] == categories(col).index(value)


def _attrition_logit(codes: dict[str, np.ndarray], ints: dict[str, np.ndarray]) -> np.ndarray:
    """Log-odds of leaving from the risk factors HR research and the IBM data agree on."""
    age = ints[Col.AGE]
    level = ints[Col.JOB_LEVEL]
    tenure = ints[Col.YEARS_AT_COMPANY]
    income_ratio = ints[Col.MONTHLY_INCOME] / np.array([1.0] + [_INCOME[lv][0] for lv in range(1, 6)])[level]
    work_life = np.array([0.0, 1.19, 0.21, 0.0, 0.35])[ints[Col.WORK_LIFE_BALANCE]]
    stock = np.array([0.84, 0.0, -0.07, 0.35])[ints[Col.STOCK_OPTION_LEVEL]]
    logit = (
        1.8 * _is(codes, Col.OVERTIME, "Yes")
        + 0.63 * (level == 1)
        - 0.42 * (level - 1)
        - 1.26 * np.log(income_ratio)  # paid below peers at the same level
        - 0.035 * (age - 37)
        + 0.63 * (age < 25)
        + 0.7 * _is(codes, Col.MARITAL_STATUS, "Single")
        - 0.14 * _is(codes, Col.MARITAL_STATUS, "Divorced")
        - 0.42 * (ints[Col.ENVIRONMENT_SATISFACTION] - 2.5)
        - 0.42 * (ints[Col.JOB_SATISFACTION] - 2.5)
        - 0.28 * (ints[Col.RELATIONSHIP_SATISFACTION] - 2.5)
        - 0.49 * (ints[Col.JOB_INVOLVEMENT] - 2.5)
        + work_life
        + 1.19 * _is(codes, Col.BUSINESS_TRAVEL, "Travel_Frequently")
        + 0.49 * _is(codes, Col.BUSINESS_TRAVEL, "Travel_Rarely")
        + 0.049 * (ints[Col.DISTANCE_FROM_HOME] - 9)
        + 0.7 * (tenure < 2)
        - 0.042 * tenure
        + 0.112 * ints[Col.YEARS_SINCE_LAST_PROMOTION]
        - 0.084 * ints[Col.YEARS_WITH_CURR_MANAGER]
        + stock
        + 0.182 * (ints[Col.NUM_COMPANIES_WORKED] - 2)
        + 0.63 * _is(codes, Col.JOB_ROLE, "Sales Representative")
        + 0.35 * _is(codes, Col.JOB_ROLE, "Laboratory Technician")
        - 0.112 * (ints[Col.TRAINING_TIMES_LAST_YEAR] - 3)
        - 0.084 * (ints[Col.PERCENT_SALARY_HIKE] - 15)
    )
    return np.asarray(logit, dtype=float)


def _assemble(
    rows: int,
    numbers: np.ndarray,
    codes: dict[str, np.ndarray],
    ints: dict[str, np.ndarray],
    left: np.ndarray,
) -> pd.DataFrame:
    _check_roles(codes)
    columns: dict[str, np.ndarray] = {}
    for name in ALL_COLUMNS:
        spec = SPECS[name]
        if name == Col.EMPLOYEE_NUMBER:
            columns[name] = np.asarray(numbers, dtype=np.int64)
        elif name == Col.ATTRITION:
            columns[name] = np.array([ATTRITION_NO, ATTRITION_YES], dtype=object)[left.astype(np.intp)]
        elif name in CONSTANT_COLUMNS:
            value = spec.constant
            columns[name] = np.full(rows, value, dtype=object if isinstance(value, str) else np.int64)
        elif spec.kind == "categorical":
            columns[name] = np.array(spec.categories, dtype=object)[codes[name]]
        else:
            columns[name] = np.asarray(ints[name], dtype=np.int64)
    return pd.DataFrame(columns, columns=list(ALL_COLUMNS), copy=False)  # unconsolidated: 3x faster


def _check_roles(codes: dict[str, np.ndarray]) -> None:
    """Guard the tables above: every role must sit in a department the contract allows."""
    roles, departments = categories(Col.JOB_ROLE), categories(Col.DEPARTMENT)
    pairs = np.unique(codes[Col.JOB_ROLE] * len(departments) + codes[Col.DEPARTMENT])
    for pair in pairs.tolist():
        role, department = roles[pair // len(departments)], departments[pair % len(departments)]
        if department not in ROLE_DEPARTMENTS[role]:  # pragma: no cover
            raise AssertionError(f"generator made a {role!r} in {department!r}")
