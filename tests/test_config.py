"""Settings precedence: environment over YAML files over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from attrition.config import Settings, get_settings, reset_settings

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_env_over_yaml_over_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs = tmp_path / "configs"
    _write(configs / "training.yaml", "trials: 7\ncv_folds: 3\n")
    _write(configs / "attrition.yaml", "model_name: from-yaml\n")
    monkeypatch.setenv("ATTRITION_CONFIG_DIR", str(configs))
    monkeypatch.setenv("ATTRITION_TRAINING__TRIALS", "11")
    monkeypatch.setenv("ATTRITION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ATTRITION_DATABASE_URL", raising=False)
    monkeypatch.delenv("ATTRITION_MLFLOW_TRACKING_URI", raising=False)

    settings = Settings()

    assert settings.training.trials == 11  # env wins
    assert settings.training.cv_folds == 3  # YAML over default
    assert settings.training.seed == 42  # default
    assert settings.model_name == "from-yaml"
    assert settings.db_url == f"sqlite:///{(tmp_path / 'data' / 'attrition.db').resolve()}"
    assert settings.tracking_uri.endswith(str(tmp_path / "data" / "mlflow.db"))
    assert not (tmp_path / "data").exists()  # no side effects


def test_urls_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTRITION_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ATTRITION_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    reset_settings()
    try:
        assert get_settings().db_url == "postgresql+psycopg://u@h/db"
        assert get_settings().tracking_uri == "http://127.0.0.1:5000"
        assert get_settings() is get_settings()  # cached
    finally:
        reset_settings()


def test_yaml_typo_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "training.yaml", "trails: 5\n")
    monkeypatch.setenv("ATTRITION_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="trails"):
        Settings()


def test_risk_bands_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTRITION_TRAINING__RISK_BANDS__HIGH", "0.9")
    with pytest.raises(ValidationError, match="medium < high < critical"):
        Settings()


def test_shipped_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTRITION_CONFIG_DIR", str(REPO_CONFIGS))
    settings = Settings()
    assert settings.training.protected_attributes == ["Gender", "Age", "MaritalStatus"]
    assert settings.serving.max_batch_records == 1000
