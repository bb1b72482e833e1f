"""Prometheus metrics of one API process (``GET /metrics``).

Each app has its own ``CollectorRegistry`` (several apps in one test process do
not collide). With several uvicorn workers every worker has its own numbers;
scrape them per process or run one worker per container.

* ``attrition_api_requests_total{method,route,status}`` and
  ``attrition_api_request_seconds{method,route,status}``: by route *template*
  (``/v1/predict``, never a raw path), so cardinality stays bounded.
* ``attrition_api_predictions_total{risk_band,endpoint}``.
* ``attrition_api_model_info{model_name,model_version}`` (1 for the loaded one),
  ``attrition_api_model_loaded``, ``attrition_api_fast_path``,
  ``attrition_api_registry_up`` (last alias poll reached MLflow),
  ``attrition_api_model_stale`` (serving an older version: the champion failed to load),
  ``attrition_api_model_reloads_total{result}``.
* ``attrition_api_prediction_log_depth``, ``..._dropped_total``, ``..._spilled_total``, ``..._replayed_total``, ``..._refused_total``,
  ``..._written_total``, ``..._rejected_total``, ``..._db_up``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import answer_unexpected

if TYPE_CHECKING:
    from api.lifecycle import ModelHolder
    from attrition.serving.prediction_log import PredictionLog

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The registry and the metrics the request path updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "attrition_api_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "attrition_api_request_seconds",
            "Request latency by route template and status",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "attrition_api_predictions",
            "Predictions served by risk band",
            ["risk_band", "endpoint"],
            registry=self.registry,
        )

        self.state = _StateCollector()
        self.registry.register(self.state)

    def watch(self, holder: ModelHolder, log: PredictionLog) -> None:
        """Report this model holder and prediction log (read at scrape time)."""
        self.state.holder, self.state.log = holder, log

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self) -> None:
        self.holder: ModelHolder | None = None
        self.log: PredictionLog | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        if self.holder is None or self.log is None:
            return
        yield from self._model(self.holder)
        yield from self._log(self.log)

    def _model(self, holder: ModelHolder) -> Iterator[Metric]:
        current = holder.current
        info = GaugeMetricFamily(
            "attrition_api_model_info", "Loaded model (value 1)", labels=["model_name", "model_version"]
        )
        if current is not None:
            info.add_metric([current.name, current.version], 1.0)
        yield info
        yield GaugeMetricFamily(
            "attrition_api_model_loaded", "1 when a model is loaded", value=float(bool(current))
        )
        yield GaugeMetricFamily(
            "attrition_api_fast_path",
            "1 when single predictions use the compiled numpy path",
            value=float(bool(current and current.fast.compiled)),
        )
        yield GaugeMetricFamily(
            "attrition_api_registry_up",
            "1 when the last poll of the champion alias reached the registry",
            value=float(holder.registry_ok),
        )
        yield GaugeMetricFamily(
            "attrition_api_model_stale",
            "1 while the served version is not the champion (the champion failed to load)",
            value=float(holder.stale),
        )
        reloads = CounterMetricFamily(
            "attrition_api_model_reloads", "Model (re)loads by result", labels=["result"]
        )
        for result, count in holder.reloads.items():
            reloads.add_metric([result], float(count))
        yield reloads

    def _log(self, log: PredictionLog) -> Iterator[Metric]:
        stats = log.stats
        yield GaugeMetricFamily(
            "attrition_api_prediction_log_depth", "Prediction log entries not yet written", value=log.depth
        )
        for name, value, text in (
            ("dropped", stats.dropped, "entries dropped because the queue or spill bound was hit"),
            ("spilled", stats.spilled, "entries kept in the spill file while the database refused writes"),
            ("replayed", stats.replayed, "entries replayed from the spill file into the predictions table"),
            ("refused", stats.refused, "predictions refused (503) because the queue had no room for them"),
            ("written", stats.written, "entries written to the predictions table"),
            ("rejected", stats.rejected, "entries the database refused (bad rows)"),
            ("failed_flushes", stats.failed_flushes, "batch writes that failed and were retried"),
        ):
            yield CounterMetricFamily(
                f"attrition_api_prediction_log_{name}", f"Prediction log {text}", value=value
            )
        yield GaugeMetricFamily(
            "attrition_api_prediction_log_db_up",
            "1 when the last prediction log write succeeded",
            value=float(stats.db_available),
        )


class RequestMetricsMiddleware:
    """Pure ASGI middleware: request id, request count and latency by route template.

    The outermost of the app's middleware, so it also answers (JSON 500) an exception
    that escaped the others: nothing reaches Starlette's error middleware, which
    would re-raise it to the server.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        scope["request_id"] = request_id
        status, started = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # escaped a middleware (routes' errors are answered further in)
            status = 500
            await answer_unexpected(scope, receive, send_with_id, exc, started)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            labels = (scope.get("method", ""), template, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")[:64]
            return text if text.isprintable() else None
    return None
