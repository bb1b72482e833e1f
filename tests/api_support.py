"""Building a real API for tests: the app on a real model and database, one key per role."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import AppContext
from attrition.config import ServingSettings, Settings
from attrition.db.engine import create_db_engine
from attrition.keys import ROLES, create_key


@dataclass
class Api:
    client: TestClient
    settings: Settings
    engine: sa.Engine
    keys: dict[str, str]

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.client.app.state.ctx  # type: ignore[attr-defined]
        return ctx

    def headers(self, role: str = "predictor") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def serving(**overrides: object) -> ServingSettings:
    """Serving settings for tests: no background poll, generous rate limit, quick log flushes."""
    values: dict[str, object] = {
        "reload_interval_seconds": 0,
        "rate_limit_per_minute": 100_000,
        "log_flush_interval_seconds": 0.05,
        "api_key_cache_seconds": 0,
        "max_batch_records": 50,
        "max_body_bytes": 200_000,
        "cors_origins": ["http://ui.example"],
    }
    values.update(overrides)
    return ServingSettings.model_validate(values)


@contextmanager
def running_api(settings: Settings, **serving_overrides: object) -> Iterator[Api]:
    """The app with its lifespan running, keys ``viewer``/``predictor``/``admin`` in its database."""
    settings = settings.model_copy(update={"serving": serving(**serving_overrides)})
    engine = create_db_engine(settings.db_url)
    keys = {role: create_key(engine, f"test-{role}", role) for role in ROLES}
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield Api(client, settings, engine, keys)
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
