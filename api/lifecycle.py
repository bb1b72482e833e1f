"""The served model: loaded once at start-up, swapped atomically when the champion alias moves.

``ModelHolder.current`` is the one reference requests read (once per request).
A reload builds the new ``LoadedModel`` completely (MLflow load + fast-path
compile and self-check) and only then assigns it, so a request sees the old
model or the new one, never half of either, and no request waits for a load.

The poller asks the registry for the champion version every
``serving.reload_interval_seconds``; when MLflow cannot be reached it keeps the
model it has and reports the registry as down (``/ready``, metrics).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from attrition.config import Settings
from attrition.fastpath import FastPredictor

logger = logging.getLogger(__name__)

_NOT_LOADED = "no model loaded yet"


@dataclass(frozen=True)
class LoadedModel:
    """A champion ready to serve: the predictor, its fast path, its identity."""

    predictor: Any  # attrition.serving.Predictor
    fast: FastPredictor
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def name(self) -> str:
        return str(self.predictor.model_name)

    @property
    def version(self) -> str:
        return str(self.predictor.model_version)

    @property
    def threshold(self) -> float:
        return float(self.predictor.model.threshold)


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
        self._lock = threading.Lock()

    def load(self) -> tuple[str | None, str | None]:
        """Load the current champion now and swap it in; (previous version, new version or None)."""
        from attrition.serving import ModelNotAvailable, Predictor, champion_version

        with self._lock:
            previous = self.current.version if self.current else None
            try:
                version = champion_version(self.settings)
            except ModelNotAvailable as error:  # the registry cannot be read
                self._registry_down(str(error))
                self.reloads["failure"] += 1
                return previous, None
            self._registry_up()
            try:
                if version is None:
                    raise ModelNotAvailable(self._no_champion())
                predictor = Predictor.load(self.settings)
                loaded = LoadedModel(predictor, FastPredictor(predictor.model))
            except ModelNotAvailable as error:
                self._load_failed(str(error))
                return previous, None
            except Exception as error:  # a broken artifact must not take the service down
                self._load_failed(f"loading the champion failed: {type(error).__name__}: {error}")
                return previous, None
            self.current = loaded
            self.problem = None
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

    def _load_failed(self, message: str) -> None:
        self.reloads["failure"] += 1
        if self.current is None:
            self.problem = message
            logger.warning("no model served: %s", message)
        else:
            logger.warning("keeping version %s: %s", self.current.version, message)

    def poll(self) -> bool:
        """Check the champion alias once; load when it moved. True when a new model was swapped in."""
        from attrition.serving import ModelNotAvailable, champion_version

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
            if current is None:
                self.problem = self._no_champion()
            return False
        if current is not None and current.version == version:
            return False
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
