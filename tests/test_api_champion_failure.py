"""The champion alias moves to a version that cannot be loaded: the old version serves on, and
the reload answer, ``/ready`` and the metrics say which version is served, which is champion and
why it failed; the poller retries that version with back-off, not every interval.

Real MLflow store (a private copy of the session's), a real second version registered from the
same training result whose model artifacts are then deleted from disk.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from api_support import Api, running_api
from conftest_model import ModelEnv
from mlflow import MlflowClient

from api.schemas import EXAMPLE_REQUEST
from attrition.config import CHAMPION
from attrition.registry.runs import log_and_register

RECORD = dict(EXAMPLE_REQUEST)
INTERVAL = 60.0  # the background poll does not fire during a test; the tests poll by hand


def _register_broken_champion(env: ModelEnv) -> str:
    """A new version of the same model, made champion, whose model artifacts are gone."""
    settings = env.settings
    version = log_and_register(env.result, settings, actor="test", source="test")
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    model_version = client.get_model_version(settings.model_name, version)
    model_id = model_version.model_id or model_version.source.removeprefix("models:/")
    location = client.get_logged_model(model_id).artifact_location
    folder = Path(unquote(urlparse(location).path))
    assert folder.is_dir() and (folder / "MLmodel").exists(), folder
    shutil.rmtree(folder)  # only this version's folder: version 1's artifacts are untouched
    client.set_registered_model_alias(settings.model_name, CHAMPION, version)
    return version


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings, reload_interval_seconds=INTERVAL) as running:
        yield running


def test_a_champion_that_fails_to_load_is_reported_and_the_old_version_serves_on(
    api: Api, champion_env: ModelEnv
) -> None:
    broken = _register_broken_champion(champion_env)
    assert broken == "2"
    holder = api.ctx.holder

    reload = api.client.post("/v1/admin/reload", headers=api.headers("admin"))
    assert reload.status_code == 503
    message = reload.json()["error"]
    assert message.startswith("reload failed: loading version 2 failed: ")
    assert "None" not in message and "Still serving version 1." in message
    assert holder.last_error and holder.last_error in message  # the load error itself, not a placeholder
    assert "version 2 (champion) could not be loaded" in message and "attrition rollback" in message

    ready = api.client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded"
    champion = body["checks"]["champion"]
    assert not champion["ok"]
    assert "serving version 1, but the champion is version 2" in champion["detail"]
    assert holder.last_error in champion["detail"] and "POST /v1/admin/reload" in champion["detail"]
    assert body["checks"]["model"]["ok"] and body["checks"]["registry"]["ok"]

    predicted = api.client.post("/v1/predict", json=RECORD, headers=api.headers())
    assert predicted.status_code == 200 and predicted.json()["model_version"] == "1"
    assert api.client.get("/v1/model", headers=api.headers("viewer")).json()["model_version"] == "1"
    assert "attrition_api_model_stale 1.0" in api.client.get("/metrics").text


def test_a_failed_version_is_retried_with_back_off_until_the_alias_moves(
    api: Api, champion_env: ModelEnv
) -> None:
    holder = api.ctx.holder
    _register_broken_champion(champion_env)
    assert holder.poll() is False  # the alias moved: one load attempt, which fails
    assert (holder.failed_version, holder.failures, holder.reloads["failure"]) == ("2", 1, 1)
    assert holder.retry_at is not None
    assert holder.retry_at - time.monotonic() == pytest.approx(2 * INTERVAL, abs=5)  # not 1 interval
    for _ in range(5):  # polls within the back-off do not load again
        assert holder.poll() is False
    assert holder.reloads["failure"] == 1
    assert "next attempt in" in api.client.get("/ready").json()["checks"]["champion"]["detail"]

    # An operator's reload tries at once (and counts as another failure: the wait grows).
    assert api.client.post("/v1/admin/reload", headers=api.headers("admin")).status_code == 503
    assert (holder.failures, holder.reloads["failure"]) == (2, 2)
    assert holder.retry_at - time.monotonic() == pytest.approx(4 * INTERVAL, abs=5)

    # Once the back-off has passed, the poller tries again.
    holder.retry_at = 0.0
    assert holder.poll() is False and holder.reloads["failure"] == 3

    # The alias moves back to the version served: nothing to load, and /ready is ready again.
    client = MlflowClient(
        tracking_uri=champion_env.settings.tracking_uri, registry_uri=champion_env.settings.tracking_uri
    )
    client.set_registered_model_alias(champion_env.settings.model_name, CHAMPION, "1")
    assert holder.poll() is False and holder.reloads["failure"] == 3
    ready = api.client.get("/ready").json()
    assert ready["status"] == "ready", ready
    assert ready["checks"]["champion"] == {"ok": True, "detail": "serving the champion, version 1"}
    assert holder.failed_version is None and holder.last_error is None
    assert "attrition_api_model_stale 0.0" in api.client.get("/metrics").text
