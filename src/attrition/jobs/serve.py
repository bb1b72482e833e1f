"""Run the services of this checkout: the prediction API (``api/``, uvicorn) and the UI (``frontend/``, Streamlit).

The API's access log is uvicorn's, with one change: the value of any query parameter named
like a credential (``CREDENTIAL_PARAMS``) is written ``[REDACTED]``. The API refuses such
requests (400), but uvicorn logs the request line whatever the answer, so a key someone put
in a URL would otherwise sit in the log. The filter sits on both uvicorn handlers, in every worker.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from attrition.config import Settings
from attrition.jobs.base import Outcome

#: The UI's entry point, relative to the checkout (or the working directory).
UI_APP = Path("frontend") / "streamlit_app.py"
#: How the UI finds the API: the UI's own settings read it (``UiSettings.api_url``).
API_URL_ENV = "ATTRITION_UI__API_URL"

_ROOT = Path(__file__).resolve().parents[3]

#: Query parameter names taken for credentials, lower case with ``-`` written ``_``.
CREDENTIAL_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "key",
        "token",
        "access_token",
        "auth_token",
        "id_token",
        "refresh_token",
        "bearer",
        "authorization",
        "password",
        "secret",
    }
)
REDACTED = "[REDACTED]"
_QUERY_PAIR = re.compile(r"([?&;])([^=&;#\s]*)=([^&;#\s\"]*)")


def is_credential_param(name: str) -> bool:
    """``api_key``, ``X-API-Key``, ``Token``...: a name in ``CREDENTIAL_PARAMS`` once normalised."""
    return unquote_plus(name).strip().lower().replace("-", "_") in CREDENTIAL_PARAMS


def redact_query(text: str) -> str:
    """``text`` with the value of every credential-named query parameter replaced by ``[REDACTED]``."""
    if "?" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if not is_credential_param(match.group(2)):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}={REDACTED}"

    return _QUERY_PAIR.sub(replace, text)


class RedactCredentials(logging.Filter):
    """Redact credential query parameters from a log record's arguments (uvicorn's request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging config with ``RedactCredentials`` on its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_credentials"] = {"()": f"{__name__}.RedactCredentials"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_credentials")
    return config


@dataclass(frozen=True)
class ServeRequest:
    """Where to listen and how many workers (None: the ``serving`` settings)."""

    host: str | None = None
    port: int | None = None
    workers: int | None = None
    access_log: bool = True


@dataclass(frozen=True)
class UiRequest:
    """Where the UI listens, which API it calls and which app file it runs (None: the ``ui`` settings)."""

    host: str | None = None
    port: int | None = None
    api_url: str | None = None
    app: Path | None = None


def serve_api(settings: Settings, request: ServeRequest | None = None) -> None:
    """Serve until stopped (SIGTERM / SIGINT: uvicorn shuts down gracefully)."""
    import uvicorn  # the api extra; `attrition serve ui` must not need it

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
        log_config=log_config(),
        log_level=settings.log_level.lower(),
    )


def serve_ui(settings: Settings, request: UiRequest | None = None) -> Outcome:
    """Replace this process with ``python -m streamlit run`` on the UI app, so signals reach Streamlit.

    Returns only when it cannot start: exit 2 with the missing extra or app file named.
    """
    request = request or UiRequest()
    if importlib.util.find_spec("streamlit") is None:
        return Outcome(
            exit_code=2,
            error="this command needs the 'ui' extra (streamlit is not installed): pip install 'attrition[ui]'",
        )
    app = (request.app or ui_app_path()).resolve()
    if not app.is_file():
        fix = "check --app / ATTRITION_UI_APP" if request.app else "run from the checkout or give --app PATH"
        return Outcome(exit_code=2, error=f"the UI app {app} does not exist ({fix})")
    command = ui_command(settings, request, app)
    logging.shutdown()  # exec does not run atexit handlers: flush the log now
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, ui_environment(settings, request))


def ui_command(settings: Settings, request: UiRequest, app: Path) -> list[str]:
    """The Streamlit command line: headless, no usage statistics, XSRF protection on."""
    ui = settings.ui
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        request.host or ui.host,
        "--server.port",
        str(request.port or ui.port),
        "--client.toolbarMode",  # no "Deploy" button or developer menu for HR analysts
        "minimal",
        "--server.headless",
        "true",
        "--server.enableXsrfProtection",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def ui_environment(settings: Settings, request: UiRequest) -> dict[str, str]:
    """This environment, plus the API URL for the UI and the checkout on the import path (as for the API)."""
    path = os.pathsep.join(p for p in (services_dir(), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, API_URL_ENV: request.api_url or settings.ui.api_url, "PYTHONPATH": path}


def ui_app_path() -> Path:
    """The UI's entry point: in the checkout this package runs from, else under the working directory."""
    return _ROOT / UI_APP if (_ROOT / UI_APP).is_file() else UI_APP


def services_dir() -> str:
    """Where the api/ package lives: the repository root of this checkout, else the working directory."""
    return str(_ROOT) if (_ROOT / "api" / "app.py").is_file() else "."
