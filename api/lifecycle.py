"""The served model: loaded once at start-up, swapped atomically when the champion alias moves.

``ModelHolder.current`` is the one reference requests read (once per request).
A reload builds the new ``LoadedModel`` completely (MLflow load + fast-path
compile and self-check) and only then assigns it, so a request sees the old
model or the new one, never half of either, and no request waits for a load.

The poller asks the registry for the champion version every
``serving.reload_interval_seconds``; when MLflow cannot be reached it keeps the
model it has and reports the registry as down (``/ready``, metrics).

When the champion moves to a version that cannot be loaded (broken or missing
artifacts), the old model keeps serving; the holder remembers the version that
failed and why (``failed_version``, ``last_error``: the reload answer and the
``champion`` check of ``/ready`` say it), and the poller retries that version
with exponential back-off (twice the interval, then 4x, ... at most
``MAX_RETRY_SECONDS``) instead of every interval. A new alias move is loaded at
the next poll, and ``POST /v1/admin/reload`` always tries at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from attrition.config import Settings
from attrition.serving.fastpath import FastPredictor

if TYPE_CHECKING:  # the loader pulls in MLflow: imported where a model is loaded
    from attrition.serving.loader import Predictor

logger = logging.getLogger(__name__)

_NOT_LOADED = "no model loaded yet"
#: The longest wait between two attempts to load a champion version that failed to load.
MAX_RETRY_SECONDS = 900.0
_MAX_ERROR = 300


@dataclass(frozen=True)
class LoadedModel:
    """A champion ready to serve: the predictor, its fast path, its identity."""

    predictor: Predictor
    fast: FastPredictor
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def name(self) -> str:
        return self.predictor.model_name

    @property
    def version(self) -> str:
        return self.predictor.model_version

    @property
    def threshold(self) -> float:
        return self.predictor.threshold


class ModelHolder:
    """Holds the serving model; loads, polls and swaps it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current: LoadedModel | None = None
        self.problem: str | None = _NOT_LOADED  # why no model is served (None when one is)
        self.registry_ok = False
        self.registry_error: str | None = None
        self.last_poll: dt.datetime | None = None
        self.reloads: Counter[str] = Counter()
        self.champion: str | None = None  # the version @champion pointed at when last read
        self.last_error: str | None = None  # why the last load failed (None after a success)
        self.failed_version: str | None = None  # the champion version that failed to load
        self.failures = 0  # consecutive failed loads of failed_version
        self.retry_at: float | None = None  # monotonic time before which the poller leaves it alone
        self._lock = threading.Lock()

    def load(self) -> tuple[str | None, str | None]:
        """Load the current champion now and swap it in; (previous version, new version or None)."""
        from attrition.serving.loader import ModelNotAvailable, Predictor, champion_version

        with self._lock:
            previous = self.current.version if self.current else None
            try:
                version = champion_version(self.settings)
            except ModelNotAvailable as error:  # the registry cannot be read
                self._registry_down(str(error))
                self.last_error = _clip(str(error))
                self.reloads["failure"] += 1
                return previous, None
            self._registry_up()
            self.champion = version
            try:
                if version is None:
                    raise ModelNotAvailable(self._no_champion())
                predictor = Predictor.load(self.settings)
                loaded = LoadedModel(predictor, FastPredictor(predictor.model))
            except ModelNotAvailable as error:
                self._load_failed(version, str(error))
                return previous, None
            except Exception as error:  # a broken artifact must not take the service down
                self._load_failed(version, f"{type(error).__name__}: {error}")
                return previous, None
            self.current = loaded
            self.champion = loaded.version  # the alias may have moved again while loading
            self.problem = self.last_error = self.failed_version = self.retry_at = None
            self.failures = 0
            self.reloads["success"] += 1
            logger.info(
                "serving %s version %s (fast path: %s)",
                loaded.name,
                loaded.version,
                "on" if loaded.fast.compiled else f"off, {loaded.fast.reason}",
            )
            return previous, loaded.version

    def _no_champion(self) -> str:
        return (
            f"no champion model is registered as {self.settings.model_name!r}; "
            "run `attrition train --promote` (or `attrition promote` if a challenger waits)"
        )

    def _load_failed(self, version: str | None, message: str) -> None:
        self.reloads["failure"] += 1
        if version is not None:
            message = f"loading version {version} failed: {message}"
            self.failures = self.failures + 1 if version == self.failed_version else 1
            self.failed_version = version
            self.retry_at = time.monotonic() + self.retry_delay()
        message = _clip(message)
        self.last_error = message
        if self.current is None:
            self.problem = message
            logger.warning("no model served: %s", message)
        else:
            logger.warning("keeping version %s: %s", self.current.version, message)

    def retry_delay(self) -> float:
        """Seconds the poller waits before trying ``failed_version`` again (doubles per failure)."""
        interval = max(0.05, self.settings.serving.reload_interval_seconds)
        return min(max(interval, MAX_RETRY_SECONDS), interval * 2.0 ** min(self.failures, 30))

    @property
    def stale(self) -> bool:
        """True while serving a version that is not the champion (it failed to load)."""
        current = self.current
        return current is not None and self.champion is not None and current.version != self.champion

    def poll(self) -> bool:
        """Check the champion alias once; load when it moved. True when a new model was swapped in."""
        from attrition.serving.loader import ModelNotAvailable, champion_version

        self.last_poll = dt.datetime.now(dt.UTC)
        try:
            version = champion_version(self.settings)
        except ModelNotAvailable as error:
            self._registry_down(str(error))
            return False
        except Exception as error:
            self._registry_down(f"{type(error).__name__}: {error}")
            return False
        self._registry_up()
        current = self.current
        if version is None:
            self.champion = None
            if current is None:
                self.problem = self._no_champion()
            return False
        if current is not None and current.version == version:
            if self.failed_version is not None:  # the alias moved back to the version served
                self.last_error = self.failed_version = self.retry_at = None
                self.failures = 0
            self.champion = version
            return False
        if version == self.failed_version and self.retry_at is not None and time.monotonic() < self.retry_at:
            return False  # it failed to load: wait for the back-off (or an alias move, or admin reload)
        _, new = self.load()
        return new is not None and new != (current.version if current else None)

    def _registry_up(self) -> None:
        if not self.registry_ok and self.registry_error is not None:
            logger.info("model registry reachable again")
        self.registry_ok, self.registry_error = True, None

    def _registry_down(self, message: str) -> None:
        if self.registry_ok or self.registry_error is None:
            logger.warning("model registry unreachable, keeping the current model: %s", message)
        self.registry_ok, self.registry_error = False, message
        if self.current is None:
            self.problem = message

    async def poll_forever(self) -> None:
        """Poll every ``reload_interval_seconds`` until cancelled (runs the blocking calls in a thread)."""
        interval = max(0.05, self.settings.serving.reload_interval_seconds)
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # never let the poller die
                logger.exception("model poll failed")


def _clip(message: str) -> str:
    """First line of an error, at most ``_MAX_ERROR`` characters (it is shown by ``/ready``)."""
    lines = message.strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= _MAX_ERROR else first[:_MAX_ERROR] + "..."
