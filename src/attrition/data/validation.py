"""Check HR records against the contract in :mod:`attrition.schema`: the one home of record rules.

Everything here is driven by the schema (kinds, categories, hard/soft ranges,
cross-field rules, role/department map, constants); nothing re-types a column.
Strictness, as documented in ``schema.py``:

* error (row rejected): missing required value, not a whole number, outside the
  hard range, unknown category, Attrition other than Yes/No/empty, broken hard
  cross-field rule, repeated EmployeeNumber in one snapshot (later rows), bytes
  that were not valid UTF-8, an invalid ``snapshot_date``.
* warning (row kept): outside the soft range, broken soft cross-field rule,
  JobRole not in its Department, a constant column with another value (stored
  as the constant).

``validate_frame`` checks a frame, vectorised; ``record_errors`` / ``record_warnings``
apply the same rule objects (:mod:`.rules`: soft ranges, cross-field, role/department;
one condition and one wording each) to one record whose fields are already valid: the
API's per-request path.
Parsing raw values (whitespace, spellings of whole numbers) is :mod:`.parsing`'s.
Missing constant columns (and empty cells in them) take the constant; a missing
Attrition column means unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from attrition.data.parsing import SNAPSHOT_RANGE, parse_dates, parse_integers, parse_text
from attrition.data.rules import (
    DEPARTMENT_CODES,
    HARD_RULES,
    ROLE_CODES,
    SOFT_BY_COLUMN,
    SOFT_RANGES,
    SOFT_RULES,
    IssueSeverity,
    RecordIssue,
    breaks,
    cross_field_issue,
    role_issue,
    role_misplaced,
)
from attrition.schema import (
    ALL_COLUMNS,
    CONSTANT_COLUMNS,
    CROSS_FIELD_RULES,
    ID_COLUMN,
    SNAPSHOT_DATE,
    SPECS,
    TARGET,
    Col,
    ColumnSpec,
    CrossFieldRule,
)

#: Columns a file or frame must carry; the target and constants may be absent.
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c != TARGET and c not in CONSTANT_COLUMNS)
#: Columns read besides the contract (the per-row snapshot date).
KNOWN_EXTRA_COLUMNS: tuple[str, ...] = (SNAPSHOT_DATE,)
#: Marker the decoder puts where bytes were not valid UTF-8.
REPLACEMENT_CHAR = "\ufffd"

_COLUMN_ORDER = {name: i for i, name in enumerate((*ALL_COLUMNS, SNAPSHOT_DATE))}


@dataclass(frozen=True)
class Issue:
    """One problem: file line (None = whole file), column, severity, reason, raw value."""

    row: int | None
    column: str | None
    severity: IssueSeverity
    reason: str
    value: str | None = None


@dataclass
class ValidationResult:
    """Rows that passed (typed) and every issue found."""

    valid: pd.DataFrame
    issues: list[Issue]
    rows: int = 0
    rejected_rows: int = 0
    warning_rows: int = 0
    kept: np.ndarray | None = None  # per input row: True when it is in ``valid``

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


class SchemaError(ValueError):
    """The columns as a whole do not fit the contract (nothing was validated)."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(i.reason for i in self.issues if i.severity == "error"))


def check_columns(columns: Iterable[object]) -> list[Issue]:
    """Whole-file issues of a header: no header, missing required, repeated or extra columns."""
    present = [str(c).strip() for c in columns]
    known = {*ALL_COLUMNS, *KNOWN_EXTRA_COLUMNS}
    if not known.intersection(present):
        shown = ",".join(present)[:120]
        return [
            Issue(
                None,
                None,
                "error",
                f"no header: the first line names none of the contract columns "
                f"(expected a comma-separated header like {','.join(ALL_COLUMNS[:4])},...; got {shown!r})",
            )
        ]
    issues: list[Issue] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        lowered = {p.lower(): p for p in present}
        hints = [f"{lowered[m.lower()]!r} for {m!r}" for m in missing if m.lower() in lowered]
        hint = f" (names are case-sensitive: found {', '.join(hints)})" if hints else ""
        issues.append(Issue(None, None, "error", f"missing required column(s): {', '.join(missing)}{hint}"))
    repeated = sorted({c for c in present if c in known and present.count(c) > 1}, key=present.index)
    if repeated:
        issues.append(
            Issue(
                None, None, "error", f"column(s) appear more than once in the header: {', '.join(repeated)}"
            )
        )
    extra = [c for c in present if c not in known]
    if extra:
        issues.append(
            Issue(None, None, "warning", f"extra column(s) not in the contract, ignored: {', '.join(extra)}")
        )
    return issues


class SeenKeys:
    """(EmployeeNumber, snapshot) keys already seen, with the line each first appeared on.

    Kept as sorted int64 arrays (16 bytes per employee) so duplicates are found
    across the chunks of a large file without a Python set.
    """

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self._lines = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def first_lines(self, keys: np.ndarray, lines: np.ndarray) -> np.ndarray:
        """For each key the line of an earlier occurrence (-1 if new); records the new ones."""
        earlier = np.full(len(keys), -1, dtype=np.int64)
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            found = self._keys[pos] == keys
            earlier[found] = self._lines[pos[found]]
        first_in_frame = pd.Series(lines).groupby(keys).transform("min").to_numpy()
        within = (first_in_frame != lines) & (earlier < 0)
        earlier[within] = first_in_frame[within]
        new = earlier < 0
        order = np.argsort(keys[new], kind="stable")
        new_keys, new_lines = keys[new][order], lines[new][order]
        at = np.searchsorted(self._keys, new_keys)
        self._keys = np.insert(self._keys, at, new_keys)
        self._lines = np.insert(self._lines, at, new_lines)
        return earlier


# --- one record ------------------------------------------------------------------------------


def record_errors(record: Mapping[str, Any]) -> list[RecordIssue]:
    """The hard cross-field rules one record breaks (the API answers 422 with each)."""
    return [
        cross_field_issue(rule, record[rule.left], record[rule.right])
        for rule in HARD_RULES
        if breaks(rule, record[rule.left], record[rule.right])
    ]


def record_warnings(record: Mapping[str, Any]) -> list[RecordIssue]:
    """Soft ranges, soft cross-field rules and role/department of one record, in that order.

    Like ``record_errors``, for a record whose fields are already valid one by one
    (types, hard ranges, categories: the API's request model checks those).
    """
    issues = [r.issue(record[r.column]) for r in SOFT_RANGES if r.breached(record[r.column])]
    for rule in SOFT_RULES:
        left, right = record[rule.left], record[rule.right]
        if breaks(rule, left, right):
            issues.append(cross_field_issue(rule, left, right))
    role, department = record[Col.JOB_ROLE], record[Col.DEPARTMENT]
    if role_misplaced(ROLE_CODES.get(role, -1), DEPARTMENT_CODES.get(department, -1)):
        issues.append(role_issue(role, department))
    return issues


# --- collecting issues -----------------------------------------------------------------------


@dataclass
class _Collector:
    raw: pd.DataFrame
    rows: np.ndarray
    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.errors = np.zeros(len(self.raw), dtype=bool)
        self.warned = np.zeros(len(self.raw), dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        column: str,
        severity: IssueSeverity,
        reason: Callable[[str | None, int], str],
        show_value: bool = True,
    ) -> None:
        """Record an issue for every masked row; ``reason(value, position)`` words it."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        (self.errors if severity == "error" else self.warned)[positions] = True
        column = str(column)
        source = self.raw.get(column) if show_value else None
        for pos in positions:
            value = None if source is None else _display(source.iat[pos])
            if value is not None and REPLACEMENT_CHAR in value:
                self.errors[pos] = True
                text = f"invalid UTF-8 bytes in {column}: the file is not valid UTF-8 here (got {value!r})"
                self.issues.append(Issue(int(self.rows[pos]), column, "error", text, value))
                continue
            self.issues.append(Issue(int(self.rows[pos]), column, severity, reason(value, int(pos)), value))


def _display(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    return str(value)


def _add_missing(out: _Collector, mask: np.ndarray, column: str) -> None:
    out.add(mask, column, "error", lambda _v, _p: f"missing value: {column} is required", show_value=False)


def _check_integer(spec: ColumnSpec, raw: pd.Series, out: _Collector) -> pd.Series:
    name = spec.name.value
    parsed = parse_integers(raw)
    _add_missing(out, parsed.missing, name)
    out.add(
        parsed.bad, name, "error", lambda v, _p: f"not a whole number: {name} must be an integer, got {v!r}"
    )
    numbers = parsed.values.to_numpy()
    lo, hi = spec.hard_min, spec.hard_max
    if lo is not None and hi is not None:
        outside = (numbers < lo) | (numbers > hi)
        out.add(
            outside,
            name,
            "error",
            lambda v, _p: f"out of range: {name} must be between {lo} and {hi}, got {v}",
        )
        parsed.values[outside] = np.nan
        numbers = parsed.values.to_numpy()
    soft = SOFT_BY_COLUMN.get(name)
    if soft is not None:
        out.add(soft.breached(numbers), name, "warning", lambda _v, p: soft.issue(int(numbers[p])).reason)
    return parsed.values


def _check_category(spec: ColumnSpec, raw: pd.Series, out: _Collector, *, required: bool = True) -> pd.Series:
    name = spec.name.value
    parsed = parse_text(raw, spec.categories)
    expected = ", ".join(spec.categories)
    if required:
        _add_missing(out, parsed.missing, name)
        reason = f"unknown category: {name} must be one of {expected}"
    else:
        reason = f"unknown value: {name} must be one of {expected} or empty (current employee)"
    out.add(parsed.bad, name, "error", lambda v, _p: f"{reason}; got {v!r}")
    return parsed.values


def _check_constant(spec: ColumnSpec, raw: pd.Series, out: _Collector) -> pd.Series:
    name, constant = spec.name.value, spec.constant
    if isinstance(constant, int):
        parsed = parse_integers(raw)
        different = ~parsed.missing & (parsed.bad | (parsed.values.to_numpy() != constant))
        values: pd.Series = pd.Series(constant, index=raw.index, dtype="int64")
    else:
        parsed = parse_text(raw, (str(constant),))
        different = parsed.bad
        values = pd.Series(constant, index=raw.index, dtype=object)
    out.add(
        different,
        name,
        "warning",
        lambda v, _p: f"not the constant: {name} is always {constant}, got {v!r}; stored as {constant}",
    )
    return values


def _check_snapshot(raw: pd.Series, out: _Collector) -> pd.Series:
    parsed = parse_dates(raw)
    _add_missing(out, parsed.missing, SNAPSHOT_DATE)
    low, high = SNAPSHOT_RANGE
    out.add(
        parsed.bad,
        SNAPSHOT_DATE,
        "error",
        lambda v, _p: f"not a date: {SNAPSHOT_DATE} must be YYYY-MM-DD between {low} and {high}, got {v!r}",
    )
    return parsed.values


def _check_cross_fields(numbers: pd.DataFrame, out: _Collector) -> None:
    for rule in CROSS_FIELD_RULES:
        left, right = numbers[rule.left].to_numpy(), numbers[rule.right].to_numpy()
        severity: IssueSeverity = "error" if rule.hard else "warning"
        out.add(breaks(rule, left, right), rule.left, severity, _cross_field_reason(rule, left, right))


def _cross_field_reason(
    rule: CrossFieldRule, left: np.ndarray, right: np.ndarray
) -> Callable[[str | None, int], str]:
    return lambda _v, p: cross_field_issue(rule, int(left[p]), int(right[p])).reason


def _check_role_department(roles: pd.Series, departments: pd.Series, out: _Collector) -> None:
    role_codes = pd.Categorical(roles, categories=list(ROLE_CODES)).codes
    department_codes = pd.Categorical(departments, categories=list(DEPARTMENT_CODES)).codes
    role_values, department_values = roles.to_numpy(), departments.to_numpy()
    out.add(
        role_misplaced(role_codes, department_codes),
        Col.DEPARTMENT.value,
        "warning",
        lambda _v, p: role_issue(role_values[p], department_values[p]).reason,
    )


def _check_duplicates(ids: pd.Series, snapshots: pd.Series | None, seen: SeenKeys, out: _Collector) -> None:
    usable = ids.notna().to_numpy()
    if snapshots is not None:
        usable &= snapshots.notna().to_numpy()
    positions = np.flatnonzero(usable)
    keys = ids.to_numpy()[positions].astype(np.int64)
    if snapshots is not None:
        days = (snapshots.iloc[positions] - pd.Timestamp(SNAPSHOT_RANGE[0])).dt.days.to_numpy()
        keys = keys * 1_000_000 + days.astype(np.int64)
    earlier = seen.first_lines(keys, out.rows[positions].astype(np.int64))
    duplicate = np.zeros(len(ids), dtype=bool)
    duplicate[positions[earlier >= 0]] = True
    first_line = np.full(len(ids), -1, dtype=np.int64)
    first_line[positions] = earlier
    out.add(
        duplicate,
        ID_COLUMN,
        "error",
        lambda v, p: f"duplicate: {ID_COLUMN} {v} already appears on line {first_line[p]} of this snapshot",
    )


# --- the frame -------------------------------------------------------------------------------


def validate_frame(
    frame: pd.DataFrame,
    first_row_number: int = 2,
    *,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    seen: SeenKeys | None = None,
) -> ValidationResult:
    """Validate records against the contract; rows with an error are dropped from ``.valid``.

    ``frame`` holds raw values (strings as read from a CSV, or typed values).
    Issues carry file line numbers: ``first_row_number`` for the first row, or
    ``row_numbers`` when the caller knows them (skipped lines). ``seen`` carries
    EmployeeNumbers across calls, so a chunked file finds duplicates between chunks.
    ``.valid`` has the contract columns typed (ints int64, text str, Attrition None when
    unknown), plus ``snapshot_date`` (``datetime.date``) when the frame carried one.
    Raises :class:`SchemaError` when required columns are missing.
    """
    file_issues = check_columns(frame.columns)
    if any(i.severity == "error" for i in file_issues):
        raise SchemaError(file_issues)
    raw = frame if frame.index.equals(pd.RangeIndex(len(frame))) else frame.reset_index(drop=True)
    rows = (
        np.asarray(row_numbers, dtype=np.int64)
        if row_numbers is not None
        else np.arange(len(raw), dtype=np.int64) + first_row_number
    )
    if len(rows) != len(raw):
        raise ValueError(f"row_numbers has {len(rows)} entries for {len(raw)} rows")
    out = _Collector(raw, rows, [i for i in file_issues if i.severity == "warning"])
    typed: dict[str, pd.Series] = {}
    for spec in SPECS.values():
        name = spec.name.value
        column = raw[name] if name in raw else pd.Series(None, index=raw.index, dtype=object)
        if spec.kind in ("integer", "id"):
            typed[name] = _check_integer(spec, column, out)
        elif spec.kind == "categorical":
            typed[name] = _check_category(spec, column, out)
        elif spec.kind == "target":
            typed[name] = _check_category(spec, column, out, required=False)
        else:
            typed[name] = _check_constant(spec, column, out)
    snapshots = _check_snapshot(raw[SNAPSHOT_DATE], out) if SNAPSHOT_DATE in raw else None
    integers = pd.DataFrame({n: typed[n] for n, s in SPECS.items() if s.kind in ("integer", "id")})
    _check_cross_fields(integers, out)
    _check_role_department(typed[Col.JOB_ROLE.value], typed[Col.DEPARTMENT.value], out)
    _check_duplicates(typed[ID_COLUMN], snapshots, seen if seen is not None else SeenKeys(), out)

    keep = ~out.errors
    valid = _typed_frame(typed, snapshots, keep)
    out.issues.sort(key=lambda i: (i.row or 0, _COLUMN_ORDER.get(i.column or "", -1)))
    return ValidationResult(
        valid=valid,
        issues=out.issues,
        rows=len(raw),
        rejected_rows=int(out.errors.sum()),
        warning_rows=int((out.warned & keep).sum()),
        kept=np.asarray(keep, dtype=bool),
    )


def _typed_frame(typed: dict[str, pd.Series], snapshots: pd.Series | None, keep: np.ndarray) -> pd.DataFrame:
    columns: dict[str, pd.Series | np.ndarray] = {}
    for name in ALL_COLUMNS:
        spec, values = SPECS[name], typed[name][keep]
        if spec.kind in ("integer", "id"):
            columns[name] = values.astype("int64")
        elif spec.kind == "target":
            columns[name] = values.astype(object).where(values.notna(), None)
        else:
            columns[name] = values
    if snapshots is not None:
        columns[SNAPSHOT_DATE] = np.array(snapshots[keep].dt.date, dtype=object)
    return pd.DataFrame(columns).reset_index(drop=True)
