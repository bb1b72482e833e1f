"""Optuna search: seeded reproducibility, per-fold reports, a study shared through RDB storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from attrition.config import TrainingSettings
from attrition.training.evaluation import labels_of
from attrition.training.search import (
    FAMILIES,
    build_pipeline,
    count_finished,
    create_study,
    run_search,
    suggest_config,
)


def signature(study: optuna.Study) -> list[tuple[str, dict[str, object], float | None]]:
    return [(t.state.name, t.params, t.value) for t in study.trials]


def test_seeded_search_is_reproducible_and_reports_every_fold(workforce: pd.DataFrame) -> None:
    frame = workforce.iloc[:600]
    settings = TrainingSettings(trials=6, seed=3, cv_folds=3)
    first = run_search(frame, labels_of(frame), settings)
    second = run_search(frame, labels_of(frame), settings)
    assert signature(first.study) == signature(second.study)
    assert (first.best_family, first.best_params) == (second.best_family, second.best_params)
    assert first.best_family in FAMILIES and 0.5 < first.cv_roc_auc <= 1.0
    assert 0.0 < first.cv_pr_auc <= 1.0
    for trial in first.study.get_trials(states=(TrialState.COMPLETE,)):
        assert sorted(trial.intermediate_values) == [0, 1, 2]  # running mean after each fold
        assert trial.value == pytest.approx(trial.intermediate_values[2])
        assert {"family", "cv_pr_auc", "worker"} <= set(trial.user_attrs)
    other_seed = run_search(frame, labels_of(frame), settings.model_copy(update={"seed": 4}))
    assert signature(other_seed.study) != signature(first.study)


def test_shared_sqlite_study_totals_n_trials_over_calls(workforce: pd.DataFrame, tmp_path: Path) -> None:
    frame, y = workforce.iloc[:500], labels_of(workforce.iloc[:500])
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    settings = TrainingSettings(trials=5, cv_folds=3, families=["logistic_regression"])
    seen: list[tuple[int, int]] = []
    run_search(
        frame, y, settings, storage=storage, study_name="shared", progress=lambda i, n: seen.append((i, n))
    )
    assert seen == [(i, 5) for i in range(1, 6)]
    again = run_search(frame, y, settings, storage=storage, study_name="shared")  # budget already spent
    assert len(again.study.trials) == 5
    more = run_search(
        frame, y, settings.model_copy(update={"trials": 7}), storage=storage, study_name="shared"
    )
    assert count_finished(more.study) == 7
    assert count_finished(optuna.load_study(study_name="shared", storage=storage)) == 7


def test_timeout_stops_the_search_early(workforce: pd.DataFrame) -> None:
    frame = workforce.iloc[:400]
    settings = TrainingSettings(trials=500, cv_folds=3, timeout_seconds=1.0, families=["logistic_regression"])
    start = time.perf_counter()
    outcome = run_search(frame, labels_of(frame), settings)
    assert time.perf_counter() - start < 30
    assert 1 <= len(outcome.study.trials) < 500


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        build_pipeline("svm", {}, [], 0)
    study = create_study(seed=1)
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        study.optimize(lambda t: suggest_config(t, ["svm"])[1]["x"], n_trials=1)


_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from attrition.config import TrainingSettings
    from attrition.data.generator import generate_workforce
    from attrition.training.pipeline import train_model

    storage, ready, go, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    frame = generate_workforce(800, seed=2)
    settings = TrainingSettings(trials=12, cv_folds=3, families=["logistic_regression"], min_rows=100)
    ready.touch()
    while not go.exists():
        time.sleep(0.05)
    result = train_model(frame, settings, storage=storage, study_name="two-workers")
    me = f":{os.getpid()}"
    mine = [t.number for t in result.study.trials if t.user_attrs.get("worker", "").endswith(me)]
    out.write_text(json.dumps({"mine": mine, "roc_auc": result.metrics["roc_auc"]}))
    """
)


@pytest.mark.integration
@pytest.mark.slow
def test_two_processes_split_the_trials_of_one_postgres_study(
    optuna_postgres_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = []
    for i in range(2):
        args = [optuna_postgres_url, str(tmp_path / f"ready{i}"), str(go), str(tmp_path / f"out{i}.json")]
        procs.append(subprocess.Popen([sys.executable, "-c", _WORKER, *args]))
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), "a worker died before the start"
        time.sleep(0.05)
    go.touch()
    assert [p.wait(timeout=300) for p in procs] == [0, 0]

    study = optuna.load_study(study_name="two-workers", storage=optuna_postgres_url)
    finished = count_finished(study)
    assert 12 <= finished <= 13  # a trial still running elsewhere is counted only once it finishes
    outputs = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert all(len(o["mine"]) >= 1 for o in outputs), outputs  # both did work
    assert sorted(outputs[0]["mine"] + outputs[1]["mine"]) == sorted(t.number for t in study.trials)
    assert all(o["roc_auc"] > 0.7 for o in outputs)  # each went on to a full, working model


@pytest.mark.integration
@pytest.mark.slow
def test_cli_search_only_workers_share_the_study_and_one_version_is_registered(
    optuna_postgres_url: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from attrition.data.generator import generate_workforce, write_csv

    csv = tmp_path / "workforce.csv"
    write_csv(generate_workforce(800, seed=2), csv)
    env = {
        **os.environ,
        "ATTRITION_DATA_DIR": str(tmp_path / "var"),
        "ATTRITION_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "ATTRITION_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "ATTRITION_REPORTS_DIR": str(tmp_path / "reports"),
        "ATTRITION_REFERENCE_DIR": str(tmp_path / "reference_data"),
        "ATTRITION_TRAINING__FAMILIES": '["hist_gradient_boosting"]',
        "ATTRITION_TRAINING__CV_FOLDS": "3",
        "ATTRITION_TRAINING__MIN_ROWS": "100",
        "ATTRITION_TRAINING__BOOTSTRAP_RESAMPLES": "100",
    }
    cli = [sys.executable, "-m", "attrition.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    common = ["train", "--csv", str(csv), "--trials", "12", "--storage", optuna_postgres_url]
    worker = subprocess.Popen([*cli, *common, "--search-only"], env=env, stdout=subprocess.PIPE, text=True)
    main = subprocess.Popen([*cli, *common], env=env, stdout=subprocess.PIPE, text=True)
    worker_out, _ = worker.communicate(timeout=300)
    main_out, _ = main.communicate(timeout=300)
    assert (worker.returncode, main.returncode) == (0, 0), (worker_out, main_out)
    assert "nothing registered (--search-only)" in worker_out
    assert "registered attrition-classifier version 1 as challenger" in main_out

    [summary] = optuna.get_all_study_summaries(storage=optuna_postgres_url)
    study = optuna.load_study(study_name=summary.study_name, storage=optuna_postgres_url)
    assert 12 <= count_finished(study) <= 13
    workers = {t.user_attrs.get("worker", "").rsplit(":", 1)[-1] for t in study.trials}
    assert {str(worker.pid), str(main.pid)} <= workers  # both ran trials
    # The registry too: MlflowClient's default registry is the process-wide one an earlier test set.
    store = env["ATTRITION_MLFLOW_TRACKING_URI"]
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    versions = client.search_model_versions("name = 'attrition-classifier'")
    assert [str(v.version) for v in versions] == ["1"]  # the worker registered nothing


def test_search_only_needs_a_storage() -> None:
    from typer.testing import CliRunner

    from attrition.cli import app

    result = CliRunner().invoke(app, ["train", "--search-only"])
    assert result.exit_code == 2 and "--storage" in result.output
