"""MLflow: what a training run leaves behind, aliases, the serving Predictor and its errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest_model import ModelEnv, make_settings
from mlflow import MlflowClient

from attrition.config import CHALLENGER, CHAMPION, TRAINING_EXPERIMENT, Settings
from attrition.db.engine import get_engine
from attrition.db.repositories import list_audit
from attrition.registry.aliases import promote
from attrition.registry.runs import log_and_register
from attrition.registry.store import (
    FAIRNESS_ARTIFACT,
    HOLDOUT_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SUMMARY_ARTIFACT,
    RegistryError,
    alias_version,
    configure,
    git_commit,
    load_run_frame,
)
from attrition.schema import RECORD_COLUMNS
from attrition.serving.loader import ModelNotAvailable, Predictor, champion_version
from attrition.serving.pyfunc import load_model_version


def _client(settings: Settings) -> MlflowClient:
    return configure(settings)


def test_run_holds_params_metrics_tags_and_artifacts(model_env: ModelEnv) -> None:
    settings, result = model_env.settings, model_env.result
    client = _client(settings)
    version = client.get_model_version(settings.model_name, model_env.version)
    run = client.get_run(version.run_id)
    assert client.get_experiment(run.info.experiment_id).name == TRAINING_EXPERIMENT

    assert run.data.params["family"] == result.best_family
    assert run.data.params["training.trials"] == str(settings.training.trials)
    assert run.data.params["training.protected_attributes"] == "Gender"
    assert any(key.startswith("model.") for key in run.data.params)
    assert run.data.metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    assert run.data.metrics["cv_roc_auc"] == pytest.approx(result.metrics["cv_roc_auc"])
    assert run.data.metrics["confusion_tp"] == result.confusion["tp"]

    tags = run.data.tags
    assert tags["data_fingerprint"] == result.data_fingerprint
    assert tags["rows_train"] == str(len(result.train_frame))
    assert tags["rows_holdout"] == str(len(result.holdout_frame))
    assert tags["threshold_rule"] == "f2"
    assert tags["protected_attributes"] == "Gender" and tags["protected_excluded"] == "true"
    assert tags["fairness_passed"] == "true"
    assert "attrition rate train=" in tags["class_balance"]
    assert tags["data_source"] == "employees@2026-10-31"
    assert tags.get("git_commit") == git_commit()

    artifacts = _artifact_paths(client, run.info.run_id)
    for expected in (
        HOLDOUT_ARTIFACT,
        REFERENCE_SAMPLE_ARTIFACT,
        SUMMARY_ARTIFACT,
        FAIRNESS_ARTIFACT,
        "reports/trials.csv",
        "reports/optimization_history.png",
        "reports/roc_curve.png",
        "reports/shap_beeswarm.png",
        "reports/fairness.json",
    ):
        assert expected in artifacts, f"{expected} missing from {sorted(artifacts)}"
    trials = pd.read_csv(
        client.download_artifacts(run.info.run_id, "reports/trials.csv", str(model_env.root))
    )
    assert len(trials) == settings.training.trials
    holdout = load_run_frame(client, run.info.run_id, HOLDOUT_ARTIFACT)
    pd.testing.assert_frame_equal(holdout, result.holdout_frame.reset_index(drop=True), check_dtype=False)


def _artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_registered_version_carries_signature_threshold_and_bands(model_env: ModelEnv) -> None:
    settings, model = model_env.settings, model_env.result.model
    client = _client(settings)
    version = client.get_model_version_by_alias(settings.model_name, CHAMPION)
    assert str(version.version) == model_env.version
    assert float(version.tags["threshold"]) == pytest.approx(model.threshold, abs=1e-6)
    assert json.loads(version.tags["risk_bands"]) == model.risk_bands.model_dump()
    assert version.tags["fairness_passed"] == "true"
    assert version.tags[f"{CHAMPION}_set_by"] == "fixture"

    info = mlflow.models.get_model_info(f"models:/{settings.model_name}@{CHAMPION}")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == [c for c in RECORD_COLUMNS]
    assert info.signature.outputs.input_names() == ["probability", "label", "risk_band"]
    # The pickled model carries threshold and bands itself.
    loaded = load_model_version(settings, model_env.version)
    assert loaded.threshold == model.threshold and loaded.risk_bands == model.risk_bands


def test_aliases_after_training_and_promotion_are_recorded(model_env: ModelEnv) -> None:
    settings = model_env.settings
    client = _client(settings)
    assert alias_version(client, settings.model_name, CHAMPION) == model_env.version
    # The promoted challenger is no longer a challenger.
    assert alias_version(client, settings.model_name, CHALLENGER) is None
    events = list_audit(get_engine(settings.db_url))
    moves = [(e["action"], e["subject"], e["detail"]["to_version"]) for e in reversed(events)]
    assert moves == [
        ("set_challenger", f"{settings.model_name}@{CHALLENGER}", model_env.version),
        ("promote", f"{settings.model_name}@{CHAMPION}", model_env.version),
    ]
    promote_event = events[0]
    assert promote_event["actor"] == "fixture"
    assert promote_event["detail"]["from_version"] is None
    assert promote_event["detail"]["challenger_cleared"] is True


def test_predictor_info_describes_the_champion(model_env: ModelEnv) -> None:
    predictor = Predictor.load(model_env.settings)
    info = predictor.info
    assert info["model_version"] == model_env.version == predictor.model_version
    assert info["metrics"]["roc_auc"] == pytest.approx(model_env.result.metrics["roc_auc"])
    assert info["threshold"] == model_env.result.model.threshold
    assert info["risk_bands"] == model_env.result.model.risk_bands.model_dump()
    assert info["fairness_passed"] is True
    assert info["input_columns"] == model_env.result.model.input_columns
    assert "Gender" not in info["input_columns"]
    assert info["trained_at"]
    assert champion_version(model_env.settings) == model_env.version
    frame = predictor.predict_frame(model_env.employees.head(3), top_k=2)
    assert [len(f) for f in frame["top_factors"]] == [2, 2, 2]


def test_no_champion_is_an_actionable_error(empty_env: Settings) -> None:
    assert champion_version(empty_env) is None
    with pytest.raises(ModelNotAvailable, match="attrition train --promote"):
        Predictor.load(empty_env)


def test_unreachable_mlflow_server_is_reported_quickly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mlflow_tracking_uri=f"http://127.0.0.1:{_free_port()}")
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable, match="not reachable"):
        Predictor.load(settings)
    with pytest.raises(ModelNotAvailable, match="ATTRITION_MLFLOW_TRACKING_URI"):
        champion_version(settings)
    assert time.monotonic() - started < 20


def test_missing_audit_table_stops_before_anything_is_logged(model_env: ModelEnv, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # app DB never migrated
    with pytest.raises(RegistryError, match="attrition db upgrade"):
        log_and_register(model_env.result, settings)
    client = _client(settings)
    assert client.search_registered_models() == []
    assert client.get_experiment_by_name(TRAINING_EXPERIMENT) is None


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import mlflow, attrition.registry, attrition.serving.loader, attrition.serving.scoring, attrition.model_card, "
        "attrition.reference; print(mlflow.get_tracking_uri())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTRITION_", "MLFLOW_"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []  # no var/, no mlflow.db, no mlruns/


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
@pytest.mark.slow
def test_against_an_mlflow_server(model_env: ModelEnv, tmp_path: Path) -> None:
    """log, register, promote and serve through a real ``mlflow server`` over HTTP."""
    port = _free_port()
    log = tmp_path / "server.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # No background job runner (a job process and a pool of huey consumers): not needed here.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        start_new_session=True,  # its uvicorn child goes down with it
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_for(uri, server, log, timeout=120)
        settings = make_settings(tmp_path, mlflow_tracking_uri=uri, mlflow_artifact_root=None)
        from attrition.db.migrate import upgrade

        upgrade(settings.db_url)
        version = log_and_register(model_env.result, settings, actor="ci")
        assert promote(settings, actor="ci").promoted
        predictor = Predictor.load(settings)
        assert predictor.model_version == version == champion_version(settings)
        records = model_env.employees.head(50)
        np.testing.assert_array_equal(
            predictor.model.predict_proba(records), model_env.result.model.predict_proba(records)
        )
        assert any((tmp_path / "server-artifacts").rglob("MLmodel"))  # artifacts went through the server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _wait_for(uri: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = log.read_text(errors="replace")[-2000:]
            raise AssertionError(f"mlflow server exited with {server.returncode}: {output}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server at {uri} did not answer within {timeout}s")
