"""The workflows, one module each: the CLI and the drift service parse options and call these.

Every job takes ``Settings`` (and a request dataclass where it has options) and returns a
result dataclass whose ``exit_code`` and ``error`` say how it ended (``jobs.base.Outcome``);
jobs never print. A job module imports its stack (MLflow, scikit-learn, Optuna, Evidently)
at the top, so this package imports a job module only when it is first used
(``attrition.jobs.train`` on first access): ``attrition --help`` loads none of them.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports them on first use
    from attrition.jobs import (
        card,
        database,
        drift,
        generate,
        ingest,
        keys,
        promote,
        reference,
        score,
        serve,
        train,
        users,
    )

__all__ = [
    "card",
    "database",
    "drift",
    "generate",
    "ingest",
    "keys",
    "promote",
    "reference",
    "score",
    "serve",
    "train",
    "users",
]


def __getattr__(name: str) -> ModuleType:
    """``jobs.train`` and the others, imported on first access."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
