"""A current window without the contract's columns: the check could not be done (exit 2), not drift.

Before, a CSV with the wrong header was scored as SEVERE drift (every absent column
"drifted"), exited 1 and fired the alert sinks. Through the CLI with a real champion,
reference data and a webhook on loopback that counts what it receives.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from conftest_model import ModelEnv
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings
from attrition.data.generator import generate_workforce
from attrition.db.drift_runs import list_drift_runs
from attrition.db.engine import get_engine
from attrition.jobs.drift import EXIT_DRIFT, EXIT_ERROR, DriftRequest, run_drift_check

ROWS = 400
ABSENT = ["JobRole", "MonthlyIncome", "OverTime"]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A webhook on 127.0.0.1 recording every alert posted to it."""
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(
    champion_env: ModelEnv,
    model_env: ModelEnv,
    cli_env: Callable[[Settings], None],
    webhook: tuple[str, list[dict[str, object]]],
    monkeypatch: pytest.MonkeyPatch,
) -> ModelEnv:
    shutil.copytree(model_env.settings.reference_dir, champion_env.settings.reference_dir)
    monkeypatch.setenv("ATTRITION_MONITORING__WEBHOOK_URL", webhook[0])
    monkeypatch.setenv("ATTRITION_MONITORING__DOMAIN_CLASSIFIER", "false")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    cli_env(champion_env.settings)
    return champion_env


def _csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "current.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "frame",
    [
        generate_workforce(ROWS, seed=31).drop(columns=ABSENT),
        generate_workforce(ROWS, seed=32).rename(columns={c: c.lower() for c in ABSENT}),
    ],
    ids=["columns-dropped", "columns-misspelt"],
)
def test_a_csv_without_contract_columns_is_an_error_not_severe_drift(
    env: ModelEnv, webhook: tuple[str, list[dict[str, object]]], tmp_path: Path, frame: pd.DataFrame
) -> None:
    current = _csv(tmp_path, frame)
    result = CliRunner().invoke(app, ["drift", "run", "--current-csv", str(current), "--no-html"])
    assert result.exit_code == EXIT_ERROR, result.output
    assert "## Attrition drift check: ERROR" in result.stdout and "could not be done" in result.stdout
    assert f"3 contract feature column(s): {', '.join(ABSENT)}" in result.stdout
    assert "SEVERE" not in result.output.upper().replace("SEVERITY", "")
    assert webhook[1] == []  # no alert
    latest = json.loads((Path(env.settings.reports_dir) / "drift_latest.json").read_text())
    assert latest["status"] == "error" and latest["severity"] is None
    assert "JobRole" in latest["error"]
    runs, _ = list_drift_runs(get_engine(env.settings.db_url))
    assert [(r["status"], r["severity"]) for r in runs] == [("error", None)]


def test_the_webhook_does_receive_real_drift(
    env: ModelEnv, webhook: tuple[str, list[dict[str, object]]], tmp_path: Path
) -> None:
    """The control: the same sinks fire for a window that really drifted."""
    current = _csv(tmp_path, generate_workforce(ROWS, seed=33, drift="overtime_surge"))
    settings = env.settings.model_copy(
        update={"monitoring": env.settings.monitoring.model_copy(update={"webhook_url": webhook[0]})}
    )
    outcome = run_drift_check(settings, DriftRequest(current_csv=current, html=False, fail_on="moderate"))
    assert outcome.exit_code == EXIT_DRIFT, outcome.error
    assert len(webhook[1]) == 1
