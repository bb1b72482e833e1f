"""What every job returns, and how a long job reports progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: ``progress(done, total)``; total is None while unknown.
Progress = Callable[[int, int | None], None]


@dataclass(kw_only=True)
class Outcome:
    """How a job ended: ``exit_code`` 0 when it did its work, else ``error`` says why for a person.

    A job may end non-zero without an error (a refused promotion, rejected rows): its
    result says what happened. The meaning of each code is the job's (the CLI's exit codes).
    """

    exit_code: int = 0
    error: str | None = None
