"""Alert sinks: where a drift verdict goes once a run reaches ``alert_on``.

The verdict is recorded by the drift run whatever happens here; telling people
about it is a side effect that can fail (network down, webhook revoked). So each
sink either delivers or raises ``AlertError``, and ``fire_alerts`` tries every
sink and returns what happened for the run to record: a failed alert never turns
a verdict into a crash, and never goes unnoticed.

A new sink (e.g. a GitHub issue) is a class with a ``name`` and a
``send(alert)`` that raises ``AlertError``, listed in ``alert_sinks``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from attrition.config import MonitoringSettings, at_least
from attrition.drift.result import DriftResult, json_safe

logger = logging.getLogger(__name__)

_BODY_EXCERPT = 200


@dataclass(frozen=True)
class Alert:
    """What every sink gets about one drift run; no employee attributes."""

    run_id: str
    severity: str
    markdown: str
    summary: dict[str, Any]
    reports: dict[str, str]

    @classmethod
    def from_result(cls, run_id: str, result: DriftResult, reports: Mapping[str, str | Path]) -> Alert:
        """The alert of a finished run (``severity`` "none" when it had no verdict)."""
        summary = {
            "status": result.status,
            "severity": result.severity,
            "reasons": result.reasons,
            "drifted_features": result.drifted_features,
            "rows": {"reference": result.reference_rows, "current": result.current_rows},
            "created_at": result.created_at,
        }
        return cls(
            run_id=run_id,
            severity=result.severity or "none",
            markdown=result.to_markdown(),
            summary=json_safe(summary),
            reports={name: str(path) for name, path in reports.items()},
        )


class AlertError(Exception):
    """A sink could not deliver; the message says which sink, where and why."""


class AlertSink(Protocol):
    """Delivers an alert somewhere, or raises ``AlertError``."""

    name: str

    def send(self, alert: Alert) -> None: ...


class LogSink:
    """One WARNING log line per alert (always on)."""

    name = "log"

    def send(self, alert: Alert) -> None:
        drifted = alert.summary.get("drifted_features") or []
        logger.warning(
            "drift alert: severity %s, run %s, drifted features: %s; reports: %s",
            alert.severity,
            alert.run_id,
            ", ".join(drifted) or "none",
            ", ".join(f"{name}={path}" for name, path in alert.reports.items()) or "none",
        )


class WebhookSink:
    """POSTs the alert as JSON; ``text`` is the Markdown that Slack-style incoming webhooks show.

    Retries once on a connection error or a 5xx answer; a 4xx or a second failure raises.
    """

    name = "webhook"

    def __init__(self, url: str, timeout: float = 10.0, retry_delay: float = 1.0) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_delay = retry_delay

    def send(self, alert: Alert) -> None:
        payload = {
            "text": alert.markdown,
            "severity": alert.severity,
            "run_id": alert.run_id,
            "summary": alert.summary,
            "reports": alert.reports,
        }
        where = f"webhook {redact_url(self.url)}"
        url = _parse(self.url)
        if url is None:
            raise AlertError(f"{where}: not an http(s) URL")
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in (1, 2):
                try:
                    response = client.post(url, json=payload)
                except httpx.TransportError as exc:
                    problem = f"{type(exc).__name__}: {exc}".replace(self.url, redact_url(self.url))
                    if attempt == 1:
                        time.sleep(self.retry_delay)
                        continue
                    raise AlertError(f"{where} unreachable after 2 attempts ({problem})") from exc
                if response.is_success:
                    return
                body = " ".join(response.text.split())[:_BODY_EXCERPT]
                if response.is_server_error and attempt == 1:
                    time.sleep(self.retry_delay)
                    continue
                tries = "after 2 attempts" if attempt == 2 else "(not retried)"
                raise AlertError(f"{where} answered HTTP {response.status_code} {tries}: {body!r}")


def redact_url(url: str) -> str:
    """The URL with the parts that may hold a secret hidden: userinfo, path and query.

    Scheme, host and port say where the alert went; the rest can be a token
    (Slack and Teams webhooks keep theirs in the path).
    """
    parsed = _parse(url)
    if parsed is None:
        return "<invalid URL>"
    port = f":{parsed.port}" if parsed.port else ""
    userinfo = "***@" if parsed.userinfo else ""
    path = "/***" if parsed.path not in ("", "/") else ""
    query = "?***" if parsed.query else ""
    return f"{parsed.scheme}://{userinfo}{parsed.host}{port}{path}{query}"


def _parse(url: str) -> httpx.URL | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    return parsed if parsed.scheme in ("http", "https") and parsed.host else None


def alert_sinks(settings: MonitoringSettings) -> list[AlertSink]:
    """The configured sinks: the log always, the webhook when ``webhook_url`` is set."""
    sinks: list[AlertSink] = [LogSink()]
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, timeout=settings.webhook_timeout_seconds))
    return sinks


def fire_alerts(alert: Alert, sinks: Sequence[AlertSink], min_severity: str) -> list[dict[str, Any]]:
    """Send ``alert`` to every sink when its severity reaches ``min_severity``; never raises.

    One record per sink, ``{"sink", "sent", "error"}``, for the run to keep; an
    empty list when the alert is below ``min_severity``.
    """
    if not at_least(alert.severity, min_severity):
        return []
    records: list[dict[str, Any]] = []
    for sink in sinks:
        error: str | None = None
        try:
            sink.send(alert)
        except AlertError as exc:
            error = str(exc)
        except Exception as exc:  # a broken sink must not stop the others
            error = f"{sink.name} sink failed: {type(exc).__name__}: {exc}"
        if error is not None:
            logger.error("drift alert for run %s not delivered by %s: %s", alert.run_id, sink.name, error)
        records.append({"sink": sink.name, "sent": error is None, "error": error})
    return records
