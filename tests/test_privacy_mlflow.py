"""One employee in the MLflow runs: exported, forgotten, and never in the model's input example.

A real trained model (``model_env``'s result) logged into a private MLflow store (forget
rewrites run artifacts, and ``private_env`` shares its artifacts with other tests): the
training run logged the holdout and the drift reference sample, each row an employee. If forget stopped at the app database, the
person's record would stay in every training run; if the input example were real rows, it
would travel with every copy of the model where no forget reaches.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest_model import ModelEnv, make_settings
from mlflow.models import Model

from attrition.data.generator import generate_workforce
from attrition.db.engine import get_engine
from attrition.db.migrate import upgrade
from attrition.db.repositories import insert_employees
from attrition.jobs import privacy
from attrition.registry.privacy import EMPLOYEE_TABLES
from attrition.registry.runs import log_and_register
from attrition.registry.store import HOLDOUT_ARTIFACT, configure, load_run_frame
from attrition.schema import ID_COLUMN


@pytest.fixture
def private_env(model_env: ModelEnv, tmp_path: Path) -> ModelEnv:
    """The trained model registered in an MLflow store and app DB of this test's own."""
    settings = make_settings(tmp_path)
    upgrade(settings.db_url)
    insert_employees(get_engine(settings.db_url), model_env.employees, "test")
    version = log_and_register(model_env.result, settings, actor="test", source="test")
    return ModelEnv(tmp_path, settings, model_env.result, version, model_env.employees)


def _run_id(env: ModelEnv) -> str:
    client = configure(env.settings)
    return str(client.get_model_version(env.settings.model_name, env.version).run_id)


def test_forget_removes_the_employee_from_every_run_table_and_keeps_the_others(private_env: ModelEnv) -> None:
    settings, run_id = private_env.settings, _run_id(private_env)
    client = configure(settings)
    before = {a: load_run_frame(client, run_id, a) for a in EMPLOYEE_TABLES}
    target, other = (int(n) for n in before[HOLDOUT_ARTIFACT][ID_COLUMN].iloc[:2])
    exported = privacy.export_employee(settings, target, "dpo")
    assert exported.exit_code == 0, exported.error
    lines = exported.data["files"]["mlflow_runs"]
    assert {line["artifact"] for line in lines} >= {HOLDOUT_ARTIFACT}
    assert all(line["run_id"] == run_id for line in lines)
    assert all(row[ID_COLUMN] == target for line in lines for row in line["rows"])

    forgotten = privacy.forget_employee(settings, target, "dpo")
    assert forgotten.exit_code == 0, forgotten.error
    held = sum(int((frame[ID_COLUMN] == target).sum()) for frame in before.values())
    assert forgotten.files["mlflow_runs"] == held >= 1
    for artifact, frame in before.items():
        after = load_run_frame(client, run_id, artifact)  # still loads: the model card and reference read it
        assert target not in set(after[ID_COLUMN])
        assert len(after) == len(frame) - int((frame[ID_COLUMN] == target).sum())
        assert list(after.columns) == list(frame.columns)
    assert other in set(load_run_frame(client, run_id, HOLDOUT_ARTIFACT)[ID_COLUMN])
    again = privacy.export_employee(settings, target, "dpo")
    assert again.exit_code == 1 and "nothing is stored" in (again.error or "")


def test_an_unreachable_mlflow_fails_the_export_and_the_forget_instead_of_skipping_it(
    private_env: ModelEnv,
) -> None:
    target = int(private_env.employees[ID_COLUMN].iloc[0])
    down = private_env.settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    exported = privacy.export_employee(down, target, "dpo")
    assert exported.exit_code == 1 and "127.0.0.1:9" in (exported.error or "")
    forgotten = privacy.forget_employee(down, target, "dpo")
    assert forgotten.exit_code == 1 and "re-run it to finish" in (forgotten.error or "")
    assert privacy.export_employee(private_env.settings, target, "dpo").exit_code == 0  # nothing was deleted


def test_the_models_input_example_is_generated_not_an_employee(private_env: ModelEnv, tmp_path: Path) -> None:
    configure(private_env.settings)
    uri = f"models:/{private_env.settings.model_name}/{private_env.version}"
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path))
    frame = Model.load(local).load_input_example(local)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 5
    generated = generate_workforce(5, seed=0)
    assert frame[ID_COLUMN].tolist() == generated[ID_COLUMN].tolist()
    assert frame["MonthlyIncome"].tolist() == generated["MonthlyIncome"].tolist()
