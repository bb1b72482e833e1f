"""Run the prediction API (the ``api/`` package) with uvicorn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import uvicorn

from attrition.config import Settings


@dataclass(frozen=True)
class ServeRequest:
    """Where to listen and how many workers (None: the ``serving`` settings)."""

    host: str | None = None
    port: int | None = None
    workers: int | None = None
    access_log: bool = True


def serve_api(settings: Settings, request: ServeRequest | None = None) -> None:
    """Serve until stopped (SIGTERM / SIGINT: uvicorn shuts down gracefully)."""
    request = request or ServeRequest()
    serving = settings.serving
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=request.host or serving.host,
        port=request.port or serving.port,
        workers=request.workers or serving.workers,
        app_dir=services_dir(),
        access_log=request.access_log,
        log_level=settings.log_level.lower(),
    )


def services_dir() -> str:
    """Where the api/ package lives: the repository root of this checkout, else the working directory."""
    root = Path(__file__).resolve().parents[3]
    return str(root) if (root / "api" / "app.py").is_file() else "."
