"""The API's prediction log end to end: answered predictions outlive a shutdown with the database
down, and each logged prediction names who asked.

Needs the API to build its log with ``PredictionLog.from_settings`` (api/app.py) and the predict
routes to pass ``caller=caller.name`` to ``prediction_rows`` (api/routers/predict.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from api_support import running_api, serving, wait_for
from conftest_model import ModelEnv
from fastapi.testclient import TestClient
from fault_support import count, time_bound

from api.app import create_app
from api.schemas import EXAMPLE_REQUEST
from attrition.schema import ID_COLUMN

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    with time_bound(240):
        yield


def _rename(engine: sa.Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_shutdown_with_the_database_down_keeps_every_answered_prediction(champion_env: ModelEnv) -> None:
    """Lost if it failed: every prediction answered while the database was down (2,600 in the finding)."""
    settings = champion_env.settings
    spill = settings.data_dir / "prediction_spill"
    with running_api(settings) as api:
        engine = api.engine
        _rename(engine, "predictions", "predictions_away")
        answered = [
            api.client.post(
                "/v1/predict", json={**EXAMPLE_REQUEST, ID_COLUMN: 500 + n}, headers=api.headers()
            )
            for n in range(40)
        ]
        assert [r.status_code for r in answered] == [200] * 40
        assert wait_for(lambda: api.ctx.log.stats.spilled == 40)
        ready = api.client.get("/ready").json()["checks"]["prediction_log"]
        assert not ready["ok"] and "40 kept in the spill file" in ready["detail"]
    # The app shut down (lifespan end, as on SIGTERM) with the log unable to write.
    assert count(engine, "predictions_away") == 0
    _rename(engine, "predictions_away", "predictions")
    assert list(spill.glob("*.jsonl"))
    restart = settings.model_copy(update={"serving": serving()})
    with TestClient(create_app(restart)) as client:  # the next start replays them, once
        assert client.app.state.ctx.log.flush(timeout=60)  # type: ignore[attr-defined]
    ids = {r.json()["prediction_id"] for r in answered}
    with engine.connect() as conn:
        stored = list(conn.execute(sa.text("SELECT prediction_id FROM predictions")).scalars())
    assert len(stored) == 40 and set(stored) == ids
    assert list(spill.glob("*.jsonl")) == []


def test_each_logged_prediction_names_its_caller(champion_env: ModelEnv) -> None:
    with running_api(champion_env.settings) as api:
        made = api.client.post("/v1/predict", json=EXAMPLE_REQUEST, headers=api.headers())
        batch = api.client.post(
            "/v1/predict/batch", json={"records": [EXAMPLE_REQUEST]}, headers=api.headers()
        )
        assert made.status_code == batch.status_code == 200
        assert api.ctx.log.flush()
        items = api.client.get("/v1/predictions", headers=api.headers("admin")).json()["items"]
        assert [i["caller"] for i in items] == ["test-predictor", "test-predictor"]
