"""Session fixtures for the UI tests: live API processes over a full and an empty store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from conftest_model import SNAPSHOT, ModelEnv, make_settings
from ui_support import World, add_users, api_process, copy_champion

from attrition.db.migrate import upgrade


@pytest.fixture(scope="session")
def ui_world(tmp_path_factory: pytest.TempPathFactory, model_env: ModelEnv) -> Iterator[World]:
    """A champion, its snapshot scored, one drift run, a user per role, all behind a live API."""
    from attrition.data.generator import generate_workforce
    from attrition.jobs.drift import DriftRequest, run_drift_check
    from attrition.serving.scoring import score_batch

    root = tmp_path_factory.mktemp("ui_world")
    settings = copy_champion(model_env, root)
    score_batch(settings, snapshot_date=SNAPSHOT)
    current = root / "current.csv"
    generate_workforce(600, seed=5, drift="overtime_surge").to_csv(current, index=False)
    outcome = run_drift_check(settings, DriftRequest(current_csv=current))
    assert outcome.status == "ok", outcome.markdown
    add_users(settings)
    with api_process(settings, root) as url:
        yield World(settings, url, root)


@pytest.fixture(scope="session")
def empty_world(tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: object) -> Iterator[World]:
    """No champion, no employees, no scores, no drift run: only the users, behind a live API."""
    root = tmp_path_factory.mktemp("ui_empty")
    settings = make_settings(root)
    upgrade(settings.db_url)
    (root / "var").mkdir(exist_ok=True)
    shutil.copy2(str(empty_mlflow_db), root / "var" / "mlflow.db")
    add_users(settings)
    with api_process(settings, root) as url:
        yield World(settings, url, root)
