"""The record rules that span fields or warn: one condition and one wording each.

A rule's condition works elementwise on numpy arrays (``validate_frame``, a whole
chunk at once) and on plain values (``record_issues``, one API request), so the
frame and the record path cannot drift apart; its wording gives both the API's
``field`` / ``expected`` / ``received`` and the ingest report's sentence.
Driven by ``attrition.schema``: soft ranges, ``CROSS_FIELD_RULES``, ``ROLE_DEPARTMENTS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from attrition.schema import CROSS_FIELD_RULES, ROLE_DEPARTMENTS, SPECS, Col, CrossFieldRule

IssueSeverity = Literal["error", "warning"]


class RecordIssue(NamedTuple):
    """One rule one record breaks: the field, what was expected, what came, and the report sentence.

    A NamedTuple because the API builds one per warning per request: it is the cheapest record.
    """

    column: str
    severity: IssueSeverity
    expected: str
    received: Any
    reason: str


@dataclass(frozen=True)
class SoftRange:
    """The usual range of an integer column, narrower than what it can mean: outside it warns."""

    column: str
    low: int
    high: int

    def breached(self, values: Any) -> Any:
        """Elementwise for an array (NaN never breaches), a bool for one value."""
        return (values < self.low) | (values > self.high)

    def issue(self, value: int) -> RecordIssue:
        name, span = self.column, f"{self.low}-{self.high}"
        reason = f"unusual value: {name} {value} is outside the usual range {span} (kept)"
        return RecordIssue(name, "warning", f"typically {span} (value kept)", value, reason)


SOFT_RANGES: tuple[SoftRange, ...] = tuple(
    SoftRange(s.name.value, s.soft_min, s.soft_max)
    for s in SPECS.values()
    if s.kind == "integer" and s.soft_min is not None and s.soft_max is not None
    if (s.soft_min, s.soft_max) != (s.hard_min, s.hard_max)
)
SOFT_BY_COLUMN = {r.column: r for r in SOFT_RANGES}


HARD_RULES: tuple[CrossFieldRule, ...] = tuple(r for r in CROSS_FIELD_RULES if r.hard)
SOFT_RULES: tuple[CrossFieldRule, ...] = tuple(r for r in CROSS_FIELD_RULES if not r.hard)


def breaks(rule: CrossFieldRule, left: Any, right: Any) -> Any:
    """``rule`` broken, elementwise for arrays (missing values do not count), or for one record."""
    return left > right + rule.offset


def cross_field_issue(rule: CrossFieldRule, left: int, right: int) -> RecordIssue:
    """A broken rule: an error when it is hard (tenure nesting), else a warning."""
    received = f"{rule.left}={left}, {rule.right}={right}"
    bound = f"{rule.right} {rule.offset:+d}" if rule.offset else str(rule.right)
    values = f"{rule.left} = {left}, {bound} = {right + rule.offset}"
    if rule.hard:
        reason = f"inconsistent: {rule.description} must hold, got {values}"
        return RecordIssue(rule.left, "error", rule.description, received, reason)
    reason = f"unusual: {rule.description} usually holds, got {values} (kept)"
    return RecordIssue(rule.left, "warning", f"usually {rule.description}", received, reason)


ROLE_CODES = {role: i for i, role in enumerate(ROLE_DEPARTMENTS)}
DEPARTMENT_CODES = {d: i for i, d in enumerate(SPECS[Col.DEPARTMENT.value].categories)}
#: [role code, department code] -> usual; code -1 (unknown or missing) is reported elsewhere.
_USUAL = np.ones((len(ROLE_CODES) + 1, len(DEPARTMENT_CODES) + 1), dtype=bool)
_USUAL[:-1, :-1] = [[d in depts for d in DEPARTMENT_CODES] for depts in ROLE_DEPARTMENTS.values()]


def role_misplaced(role_codes: Any, department_codes: Any) -> Any:
    """Job role outside its usual departments, from the codes of ``ROLE_CODES`` / ``DEPARTMENT_CODES``."""
    return ~_USUAL[role_codes, department_codes]


def role_issue(role: str, department: str) -> RecordIssue:
    """Named on Department: the role is the given, the department is what is unusual for it."""
    usual = " or ".join(ROLE_DEPARTMENTS[role])
    reason = f"JobRole {role!r} is not a role of Department {department!r} (expected {usual}) (kept)"
    return RecordIssue(Col.DEPARTMENT.value, "warning", f"{role} is usually in {usual}", department, reason)
