"""The ``attrition`` console script: the Typer app, with a missing extra named instead of a traceback.

The core install loads a champion and scores; training, drift checks and the API need an
extra (``pyproject.toml``). A command run without its extra says which one to install.
"""

from __future__ import annotations

import sys

from attrition.cli import app

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
    """Run the CLI; exit 2 with the extra to install when a command's dependency is missing."""
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
