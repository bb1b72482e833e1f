"""The train job (``attrition train`` and the drift service's retraining): typed results, the
preflight before any training, the data's provenance, and the exit codes the CLI passes on."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest_model import SNAPSHOT, ModelEnv

from attrition import jobs
from attrition.config import CHALLENGER, CHAMPION, Settings
from attrition.db.engine import get_engine
from attrition.db.repositories import list_audit
from attrition.jobs.train import TrainOutcome, TrainRequest, train_and_register, with_overrides
from attrition.registry.store import alias_version, configure, version_summary
from attrition.schema import TARGET


def _versions(settings: Settings) -> list[str]:
    client = configure(settings)
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{settings.model_name}'"))


@pytest.mark.slow
def test_training_a_snapshot_registers_it_with_its_dates_and_promotes_through_the_gates(
    champion_env: ModelEnv,
) -> None:
    settings = champion_env.settings
    reported: list[tuple[int, int | None]] = []
    outcome = train_and_register(
        settings,
        TrainRequest(snapshot_date=SNAPSHOT, promote=True, actor="test", reason="job test"),
        progress=lambda done, total: reported.append((done, total)),
    )
    assert isinstance(outcome, TrainOutcome) and outcome.exit_code == 0 and outcome.error is None
    assert outcome.source == f"employees@{SNAPSHOT}" and outcome.version == "2"
    assert outcome.result is not None and outcome.result.snapshot_dates == [str(SNAPSHOT)]
    assert reported[-1] == (settings.training.trials, settings.training.trials)
    data = version_summary(settings, "2")["data"]
    assert data["source"] == f"employees@{SNAPSHOT}" and data["snapshot_dates"] == [str(SNAPSHOT)]
    # Same records, same seed: the champion's model again, so the gates pass (no ROC-AUC drop).
    promotion = outcome.promotion
    assert promotion is not None and promotion.exit_code == 0 and promotion.decision is not None
    assert promotion.decision.promoted and promotion.decision.reasons == ["job test"]
    assert alias_version(configure(settings), settings.model_name, CHAMPION) == "2"
    (trained,) = list_audit(get_engine(settings.db_url), action="model.train")
    assert (trained["actor"], trained["subject"], trained["outcome"]) == ("test", settings.model_name, "ok")
    assert trained["detail"]["version"] == "2" and trained["detail"]["reason"] == "job test"
    assert trained["detail"]["source"] == f"employees@{SNAPSHOT}" and trained["detail"]["error"] is None


def test_the_preflight_fails_before_any_training(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    with get_engine(settings.db_url).begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_log"))
    outcome = train_and_register(settings, TrainRequest(snapshot_date=SNAPSHOT))
    assert outcome.exit_code == 1 and "audit_log" in (outcome.error or "")
    assert outcome.result is None and outcome.version is None  # nothing was trained
    unreachable = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    outcome = train_and_register(unreachable, TrainRequest(snapshot_date=SNAPSHOT))
    assert outcome.exit_code == 1 and "127.0.0.1:9" in (outcome.error or "") and outcome.result is None
    assert _versions(settings) == ["1"]


def test_an_empty_employees_table_exits_2_saying_what_to_do(empty_env: Settings) -> None:
    outcome = train_and_register(empty_env)
    assert outcome.exit_code == 2 and outcome.result is None
    assert "no employees in the employees table; ingest a CSV first" in (outcome.error or "")


def test_records_that_cannot_train_a_model_exit_2_and_register_nothing(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    missing = train_and_register(settings, TrainRequest(csv=champion_env.root / "missing.csv"))
    assert missing.exit_code == 2 and "cannot read training CSV" in (missing.error or "")
    old_day = train_and_register(settings, TrainRequest(snapshot_date=dt.date(2001, 1, 1)))
    assert old_day.exit_code == 2 and "no employees in snapshot 2001-01-01" in (old_day.error or "")
    stayers = champion_env.employees.assign(**{TARGET: "No"})
    one_class = train_and_register(settings, TrainRequest(records=stayers, source="stayers"))
    assert one_class.exit_code == 2 and "one class only" in (one_class.error or "")
    assert one_class.source == "stayers" and one_class.result is None
    assert _versions(settings) == ["1"]
    assert alias_version(configure(settings), settings.model_name, CHALLENGER) is None
    failed = list_audit(get_engine(settings.db_url), action="model.train")
    assert [e["outcome"] for e in failed] == ["failed"] * 3
    assert "one class only" in failed[0]["detail"]["error"] and failed[0]["detail"]["exit_code"] == 2
    assert (
        "cannot read training CSV" in failed[2]["detail"]["error"] and failed[2]["detail"]["version"] is None
    )


def test_overrides_change_only_what_they_give(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    changed = with_overrides(settings, TrainRequest(trials=3, seed=99))
    assert (changed.training.trials, changed.training.seed) == (3, 99)
    assert changed.training.timeout_seconds == settings.training.timeout_seconds
    assert changed.training.families == settings.training.families and settings.training.trials == 8


def test_a_search_only_worker_runs_trials_and_registers_nothing(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    storage = f"sqlite:///{champion_env.root / 'optuna.db'}"
    request = TrainRequest(trials=2, storage=storage, records=champion_env.employees, search_only=True)
    outcome = train_and_register(settings, request)
    assert outcome.exit_code == 0 and outcome.search is not None and outcome.result is None
    assert len(outcome.search.study.trials) == 2 and outcome.version is None
    assert _versions(settings) == ["1"]
    assert (
        list_audit(get_engine(settings.db_url), action="model.train") == []
    )  # a worker's share is not a training
    with pytest.raises(ValueError, match="storage"):
        train_and_register(settings, TrainRequest(records=champion_env.employees, search_only=True))


def test_jobs_load_on_first_use_so_the_cli_starts_without_the_model_stack() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from attrition.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "heavy = ('mlflow', 'sklearn', 'optuna', 'evidently', 'shap', 'sqlalchemy', 'attrition.jobs.train')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
    assert jobs.train.train_and_register is train_and_register  # first access imports the module
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        jobs.__getattr__("nope")
