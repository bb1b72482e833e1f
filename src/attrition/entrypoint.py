"""The ``attrition`` console script: the Typer app, with a missing extra named instead of a traceback.

The core install loads a champion and scores; training, drift checks and the API need an
extra (``pyproject.toml``). A command run without its extra says which one to install.

Everything the commands write (the SQLite database, reference data, predictions, reports)
describes employees, so the process creates files private to its user (``PRIVATE_UMASK``);
``attrition serve api`` / ``serve ui`` run in this process or its children and inherit it.
A database error no job reported reaches the user as one line, never a traceback with the
statement's parameters (employee attributes).
"""

from __future__ import annotations

import os
import sys

from attrition.cli import app

#: Files 0600, folders 0700: nothing the platform writes is readable by other users.
PRIVATE_UMASK = 0o077

#: The extra that brings each optional top-level package (pyproject.toml's optional-dependencies).
EXTRA_OF = {
    "optuna": "train",
    "fairlearn": "train",
    "matplotlib": "train",
    "evidently": "drift",
    "croniter": "drift",
    "fastapi": "api",
    "uvicorn": "api",
    "jwt": "api",
    "httpx": "drift",
}


def main() -> None:
    """Run the CLI with private files; exit 2 for a missing extra or a database error no job reported."""
    os.umask(PRIVATE_UMASK)
    try:
        app()
    except ModuleNotFoundError as exc:
        extra = EXTRA_OF.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        sys.stderr.write(
            f"error: this command needs the {extra!r} extra ({exc.name} is not installed): "
            f"pip install 'attrition[{extra}]'\n"
        )
        raise SystemExit(2) from None
    except Exception as exc:
        sa_exc = sys.modules.get("sqlalchemy.exc")  # loaded by any command that reached a database
        if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
            raise
        sys.stderr.write(f"database error: {_database_line(exc)}\n")
        raise SystemExit(2) from None


def _database_line(exc: Exception) -> str:
    """The settings' database (password hidden) and the driver's error, values blanked."""
    from attrition.config import get_settings
    from attrition.errors import database_error

    return database_error(exc, get_settings().db_url, "the command")
