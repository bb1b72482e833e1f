"""Alert sinks against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from attrition.config import MonitoringSettings
from attrition.drift.alerts import (
    Alert,
    AlertError,
    LogSink,
    WebhookSink,
    alert_sinks,
    fire_alerts,
    redact_url,
)
from attrition.drift.features import FeatureDrift
from attrition.drift.result import DriftResult

SECRET = "s3cr3t-t0ken"


@dataclass
class Hook:
    """A webhook receiver: answers with ``statuses`` in turn (the last one repeats)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=lambda: [200])
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    def next_status(self) -> int:
        index = min(len(self.bodies) - 1, len(self.statuses) - 1)
        return self.statuses[index]


@pytest.fixture
def hook() -> Iterator[Hook]:
    hook: Hook

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.bodies.append(json.loads(self.rfile.read(length)))
            status = hook.next_status()
            body = b"ok" if status < 400 else f"no_service: status {status}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook = Hook(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _result(severity: str | None = "severe") -> DriftResult:
    features = [
        FeatureDrift("MonthlyIncome", "continuous", p_value=0.0, drifted=True, weight=0.4, current_rows=500),
        FeatureDrift("OverTime", "categorical", p_value=0.001, drifted=True, weight=0.2, current_rows=500),
        FeatureDrift("Age", "continuous", p_value=0.6, weight=0.4, current_rows=500),
    ]
    return DriftResult(
        status="ok",
        severity=severity,
        reference_rows=1000,
        current_rows=500,
        parameters={"false_discovery_rate": 0.05, "min_psi": 0.1},
        reasons=["severe: 2 feature(s) drifted (MonthlyIncome, OverTime); weighted share 0.60"],
        features=features,
    )


@pytest.fixture
def alert() -> Alert:
    reports = {"json": "reports/drift/run-42.json", "html": "reports/drift/run-42.html"}
    return Alert.from_result("run-42", _result(), reports)


def test_alert_from_result_is_small_and_json_safe(alert: Alert) -> None:
    assert alert.severity == "severe"
    assert alert.markdown.startswith("## Attrition drift check: SEVERE")
    assert alert.summary == {
        "status": "ok",
        "severity": "severe",
        "reasons": ["severe: 2 feature(s) drifted (MonthlyIncome, OverTime); weighted share 0.60"],
        "drifted_features": ["MonthlyIncome", "OverTime"],
        "rows": {"reference": 1000, "current": 500},
        "created_at": alert.summary["created_at"],
    }
    json.dumps(alert.summary)
    assert Alert.from_result("r", _result(None), {}).severity == "none"


def test_webhook_posts_markdown_as_text_and_the_summary(hook: Hook, alert: Alert) -> None:
    WebhookSink(hook.url, timeout=5).send(alert)

    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["text"] == alert.markdown
    assert body["severity"] == "severe"
    assert body["run_id"] == "run-42"
    assert body["summary"] == alert.summary
    assert body["reports"] == alert.reports


def test_webhook_retries_once_on_5xx(hook: Hook, alert: Alert) -> None:
    hook.statuses = [500, 200]
    WebhookSink(hook.url, timeout=5, retry_delay=0).send(alert)
    assert len(hook.bodies) == 2
    assert hook.bodies[0] == hook.bodies[1]


def test_webhook_persistent_5xx_raises_with_where_and_status(hook: Hook, alert: Alert) -> None:
    hook.statuses = [500]
    with pytest.raises(AlertError) as info:
        WebhookSink(hook.url, timeout=5, retry_delay=0).send(alert)
    assert len(hook.bodies) == 2  # one retry, no more
    message = str(info.value)
    assert "webhook" in message and hook.base in message
    assert "500" in message and "no_service" in message


def test_webhook_4xx_is_not_retried(hook: Hook, alert: Alert) -> None:
    hook.statuses = [400]
    records = fire_alerts(alert, [WebhookSink(hook.url, timeout=5, retry_delay=0)], "moderate")
    assert len(hook.bodies) == 1
    assert records[0]["sink"] == "webhook" and records[0]["sent"] is False
    assert hook.base in records[0]["error"] and "400" in records[0]["error"]


def test_unreachable_webhook_raises_after_one_retry(closed_port_url: str, alert: Alert) -> None:
    with pytest.raises(AlertError, match="unreachable after 2 attempts") as info:
        WebhookSink(closed_port_url, timeout=2, retry_delay=0).send(alert)
    assert closed_port_url.removesuffix("/hook") in str(info.value)


def test_nothing_is_sent_below_min_severity(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    moderate = Alert.from_result("run-7", _result("moderate"), {})
    sinks = [LogSink(), WebhookSink(hook.url, timeout=5)]
    with caplog.at_level(logging.WARNING, logger="attrition.drift.alerts"):
        assert fire_alerts(moderate, sinks, "severe") == []
    assert hook.bodies == []
    assert caplog.records == []

    assert [r["sent"] for r in fire_alerts(moderate, sinks, "moderate")] == [True, True]
    assert len(hook.bodies) == 1


def test_log_sink_writes_one_warning(alert: Alert, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="attrition.drift.alerts"):
        LogSink().send(alert)
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "run-42" in message and "severe" in message
    assert "MonthlyIncome, OverTime" in message and "reports/drift/run-42.html" in message


def test_failing_webhook_does_not_stop_the_log_sink(
    closed_port_url: str, alert: Alert, caplog: pytest.LogCaptureFixture
) -> None:
    sinks = [WebhookSink(closed_port_url, timeout=2, retry_delay=0), LogSink()]
    with caplog.at_level(logging.WARNING, logger="attrition.drift.alerts"):
        records = fire_alerts(alert, sinks, "moderate")

    assert [(r["sink"], r["sent"]) for r in records] == [("webhook", False), ("log", True)]
    assert records[1]["error"] is None
    assert "unreachable" in records[0]["error"]
    levels = [(r.levelno, "run-42" in r.getMessage()) for r in caplog.records]
    assert levels == [(logging.ERROR, True), (logging.WARNING, True)]  # the failure is logged too


def test_a_broken_sink_is_recorded_not_raised(alert: Alert) -> None:
    class Broken:
        name = "broken"

        def send(self, alert: Alert) -> None:
            raise RuntimeError("bug in sink")

    records = fire_alerts(alert, [Broken(), LogSink()], "none")
    assert records[0] == {"sink": "broken", "sent": False, "error": records[0]["error"]}
    assert "RuntimeError: bug in sink" in records[0]["error"]
    assert records[1]["sent"] is True


def test_secrets_in_the_url_are_not_in_the_error(hook: Hook, alert: Alert) -> None:
    hook.statuses = [403]
    port = hook.server.server_address[1]
    url = f"http://alerts:{SECRET}@127.0.0.1:{port}/services/T0/B0/{SECRET}?token={SECRET}&x=1"
    records = fire_alerts(alert, [WebhookSink(url, timeout=5)], "moderate")

    error = records[0]["error"]
    assert len(hook.bodies) == 1 and "403" in error and f"127.0.0.1:{port}" in error
    assert SECRET not in error and "alerts:" not in error
    assert redact_url(url) == f"http://***@127.0.0.1:{port}/***?***"
    assert redact_url("not a url") == "<invalid URL>"


def test_alert_sinks_follow_the_settings() -> None:
    assert [s.name for s in alert_sinks(MonitoringSettings())] == ["log"]
    settings = MonitoringSettings(webhook_url="http://127.0.0.1:9/hook", webhook_timeout_seconds=3)
    sinks = alert_sinks(settings)
    assert [s.name for s in sinks] == ["log", "webhook"]
    webhook = sinks[1]
    assert isinstance(webhook, WebhookSink) and webhook.timeout == 3
