"""How an audited action ended: the one vocabulary of ``audit_log.outcome``.

Kept apart from the database models so the CLI can offer the values without importing SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum


class AuditOutcome(StrEnum):
    """Done, refused by a rule or a check, failed on an error, or nothing to act on."""

    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
    NOT_FOUND = "not_found"
