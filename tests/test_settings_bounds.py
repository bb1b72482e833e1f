"""Every setting has the bounds that make sense; an invalid one is one line naming it, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from attrition.config import (
    MonitoringSettings,
    ServingSettings,
    Settings,
    SeverityThresholds,
    TrainingSettings,
    UiSettings,
)

ATTRITION = str(Path(sys.executable).with_name("attrition"))


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATTRITION_")}
    base |= {"ATTRITION_DATA_DIR": str(tmp_path / "var"), "ATTRITION_CONFIG_DIR": str(tmp_path / "none")}
    return subprocess.run(
        [ATTRITION, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=base | env,
        check=False,
    )


# (model, field, a value out of bounds, a value in bounds)
BOUNDS = [
    (TrainingSettings, "trials", 0, 1),
    (TrainingSettings, "timeout_seconds", 0, 0.5),
    (TrainingSettings, "seed", -1, 0),
    (TrainingSettings, "cv_folds", 1, 2),
    (TrainingSettings, "holdout_fraction", 1.0, 0.5),
    (TrainingSettings, "holdout_fraction", 0.0, 0.01),
    (TrainingSettings, "min_rows", 0, 1),
    (TrainingSettings, "cost_missed_leaver", 0, 0.1),
    (TrainingSettings, "bootstrap_resamples", 0, 1),
    (TrainingSettings, "threads", 0, 1),
    (TrainingSettings, "max_demographic_parity_difference", 1.5, 1.0),
    (TrainingSettings, "min_roc_auc", -0.1, 0.0),
    (TrainingSettings, "max_roc_auc_drop", 2, 0.5),
    (ServingSettings, "port", 70000, 65535),
    (ServingSettings, "workers", 0, 1),
    (ServingSettings, "reload_interval_seconds", -1, 0),
    (ServingSettings, "rate_limit_per_minute", 0, 1),
    (ServingSettings, "log_flush_interval_seconds", 0, 0.01),
    (ServingSettings, "log_batch_size", 0, 1),
    (SeverityThresholds, "drift_share_severe", 0, 1),
    (SeverityThresholds, "domain_auc_moderate", 0.5, 0.51),
    (SeverityThresholds, "performance_drop_critical", 1.5, 1.0),
    (SeverityThresholds, "max_out_of_contract_rate", -0.01, 0),
    (MonitoringSettings, "min_rows", 0, 1),
    (MonitoringSettings, "false_discovery_rate", 1, 0.99),
    (MonitoringSettings, "psi_bins", 1, 2),
    (MonitoringSettings, "domain_classifier_folds", 1, 2),
    (MonitoringSettings, "confidence_level", 1, 0.99),
    (MonitoringSettings, "webhook_timeout_seconds", 0, 0.1),
    (MonitoringSettings, "window_days", 0, 1),
    (UiSettings, "port", 0, 1),
]


@pytest.mark.parametrize(("model", "name", "bad", "good"), BOUNDS, ids=lambda v: str(v))
def test_a_setting_out_of_its_bounds_is_refused(model: type, name: str, bad: object, good: object) -> None:
    assert getattr(model(**{name: good}), name) == good
    with pytest.raises(ValidationError) as caught:
        model(**{name: bad})
    assert caught.value.errors()[0]["loc"] == (name,)


def test_the_defaults_and_the_shipped_yaml_are_within_bounds() -> None:
    Settings()  # configs/*.yaml of the checkout, nothing from the environment needed


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "ATTRITION_TRAINING__TRIALS",
            "0",
            "training.trials = '0' (ATTRITION_TRAINING__TRIALS or configs/training.yaml): expected a value >= 1",
        ),
        ("ATTRITION_TRAINING__CV_FOLDS", "abc", "training.cv_folds = 'abc'"),
        ("ATTRITION_MONITORING__SEVERITY__DOMAIN_AUC_SEVERE", "2", "expected a value <= 1"),
        ("ATTRITION_SERVING__PORT", "0", "serving.port = '0'"),
        ("ATTRITION_DATABASE_CONNECT_TIMEOUT_SECONDS", "0", "configs/attrition.yaml): expected a value > 0"),
    ],
)
def test_an_invalid_environment_setting_is_one_line_and_exit_2(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    done = _run(tmp_path, "db", "upgrade", **{variable: value})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr  # one line
    assert done.stderr.startswith("error: invalid setting: ") and expected in done.stderr
    assert not (tmp_path / "var").exists()  # nothing ran


def test_train_with_zero_trials_is_refused_before_it_starts(tmp_path: Path) -> None:
    """The reported case: a traceback deep in the search before the bounds."""
    done = _run(tmp_path, "-v", "train", ATTRITION_TRAINING__TRIALS="0")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "training.trials = '0'" in done.stderr


def test_an_invalid_yaml_setting_names_it_too(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "monitoring.yaml").write_text("psi_bins: 1\nseverity:\n  drift_share_critical: 0\n")
    done = _run(tmp_path, "score", ATTRITION_CONFIG_DIR=str(configs))
    assert done.returncode == 2, done.stderr
    assert "monitoring.psi_bins = 1" in done.stderr and "expected a value >= 2" in done.stderr
    assert "monitoring.severity.drift_share_critical = 0" in done.stderr and "Traceback" not in done.stderr


def test_an_unreadable_yaml_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "training.yaml").write_text("trials: [1,\n")
    done = _run(tmp_path, "model-card", ATTRITION_CONFIG_DIR=str(configs))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: invalid settings file {configs / 'training.yaml'}: ")
    assert "line 2" in done.stderr and "Traceback" not in done.stderr


def test_an_invalid_secret_setting_is_named_but_not_echoed(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "monitoring.yaml").write_text("webhook_url: [https://hooks.example/T0/s3cret-path]\n")
    done = _run(tmp_path, "db", "upgrade", ATTRITION_CONFIG_DIR=str(configs))
    assert done.returncode == 2, done.stderr
    assert "monitoring.webhook_url = ***" in done.stderr and "s3cret" not in done.stderr
