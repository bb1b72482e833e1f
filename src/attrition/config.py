"""Settings: environment ``ATTRITION_*`` over YAML files in ``configs/`` over defaults.

Each YAML file in the config directory fills the section of its name
(``training.yaml`` -> ``settings.training``); ``attrition.yaml``, if present,
holds top-level keys. Nested values can be set from the environment with a
double underscore: ``ATTRITION_TRAINING__TRIALS=5``.

Nothing here touches the disk or MLflow at import; ``get_settings()`` reads once
and caches, ``reset_settings()`` forgets (tests, CLI options).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from attrition.schema import Col

MODEL_NAME = "attrition-classifier"
CHAMPION = "champion"
CHALLENGER = "challenger"
TRAINING_EXPERIMENT = "attrition-training"
MONITORING_EXPERIMENT = "attrition-monitoring"

# Each set of names is one Literal (for type checkers and the API's request models) and
# its tuple of values (for code that iterates or indexes them), read from the Literal.
Severity = Literal["none", "moderate", "severe", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
#: A drift_runs row: "running" until the check ends, then its analysis status or "error".
DriftRunStatus = Literal["running", "ok", "insufficient_data", "error"]
DRIFT_RUN_STATUSES: tuple[str, ...] = get_args(DriftRunStatus)
RiskBandName = Literal["low", "medium", "high", "critical"]
RISK_BAND_NAMES: tuple[str, ...] = get_args(RiskBandName)
#: The bands counted as "at risk" (batch scoring's HIGH RISK, the workforce views' at-risk share).
HIGH_RISK_BANDS: tuple[str, ...] = RISK_BAND_NAMES[2:]
#: Where a logged prediction came from: the API or a batch run.
PredictionSource = Literal["api", "batch"]
PREDICTION_SOURCES: tuple[str, ...] = get_args(PredictionSource)
ModelFamily = Literal["logistic_regression", "random_forest", "hist_gradient_boosting"]
MODEL_FAMILIES: tuple[ModelFamily, ...] = get_args(ModelFamily)
LOGISTIC, FOREST, BOOSTING = MODEL_FAMILIES


class RiskBands(BaseModel):
    """Lower probability bounds of the risk bands above ``low``."""

    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    medium: float = 0.25
    high: float = 0.50
    critical: float = 0.75

    @model_validator(mode="after")
    def _ordered(self) -> RiskBands:
        if not 0.0 < self.medium < self.high < self.critical < 1.0:
            raise ValueError(
                f"risk band cut-offs must satisfy 0 < medium < high < critical < 1, "
                f"got medium={self.medium}, high={self.high}, critical={self.critical}"
            )
        return self


class TrainingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    trials: int = 30
    timeout_seconds: float | None = None
    seed: int = 42
    cv_folds: int = 5
    holdout_fraction: float = 0.2
    min_rows: int = 200
    protected_attributes: list[str] = Field(
        default_factory=lambda: [Col.GENDER.value, Col.AGE.value, Col.MARITAL_STATUS.value]
    )
    exclude_protected_from_features: bool = True
    threshold_rule: Literal["f2", "cost"] = "f2"
    cost_missed_leaver: float = 5.0
    cost_intervention: float = 1.0
    # Model families the search may pick.
    families: list[ModelFamily] = Field(default_factory=lambda: list(MODEL_FAMILIES))
    # auto: sigmoid below isotonic_min_rows training rows (isotonic overfits small data), isotonic above.
    calibration: Literal["auto", "sigmoid", "isotonic"] = "auto"
    isotonic_min_rows: int = 5000
    bootstrap_resamples: int = 500
    # Holdout rows explained for global SHAP importance (a seeded sample when the holdout is larger).
    shap_max_rows: int = 2000
    # BLAS/OpenMP threads per training process; scale out with several processes on one study instead.
    threads: int = 1
    risk_bands: RiskBands = Field(default_factory=RiskBands)
    # Fairness gate: a model over either limit is never promoted.
    max_equal_opportunity_difference: float = 0.10
    max_demographic_parity_difference: float = 0.10
    min_group_size: int = 30
    # A gap fails the gate when its one-sided lower bound at this confidence is above the limit
    # (beyond the holdout's sampling noise); 0 gates the point estimate.
    fairness_confidence: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.95
    # Attributes the gate applies to (None: every protected attribute); the others are audited and
    # reported. Age and marital status are genuine drivers of leaving: see configs/training.yaml.
    fairness_gated_attributes: list[str] | None = Field(default_factory=lambda: [Col.GENDER.value])
    # Promotion gate.
    min_roc_auc: float = 0.70
    max_roc_auc_drop: float = 0.02


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch_records: int = 1000
    max_body_bytes: int = 2_000_000
    # CSV uploads of POST /v1/score-jobs (the one path allowed a body this large), and how long
    # their files and results stay under <data_dir>/score_jobs (deleted when a new job is created).
    max_upload_bytes: int = Field(default=60_000_000, gt=0)
    score_job_retention_hours: float = Field(default=24.0, gt=0)
    reload_interval_seconds: float = 30.0
    rate_limit_per_minute: int = 600
    # How long a verified API key is trusted before the database is asked again (revocation delay).
    api_key_cache_seconds: float = 5.0
    # Bearer tokens of POST /v1/auth/token (HS256). Unset: a random secret per process, so
    # tokens do not survive a restart and several workers/replicas need the same secret set.
    token_secret: SecretStr | None = None
    token_minutes: float = Field(default=30.0, gt=0)
    # Sign-in lockout: this many wrong passwords within the window lock the account.
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_window_minutes: float = Field(default=15.0, gt=0)
    sign_in_lock_minutes: float = Field(default=15.0, gt=0)
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8501"])
    log_queue_max: int = 100_000
    log_flush_interval_seconds: float = 0.5
    log_batch_size: int = 500


class SeverityThresholds(BaseModel):
    """Limits of the drift severity rule (documented in ``attrition.drift.severity``)."""

    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    drift_share_severe: float = 0.25
    drift_share_critical: float = 0.50
    domain_auc_moderate: float = 0.60
    domain_auc_severe: float = 0.80
    prediction_psi_severe: float = 0.25
    performance_drop_moderate: float = 0.02
    performance_drop_severe: float = 0.05
    performance_drop_critical: float = 0.10
    max_missing_rate_increase: float = 0.05
    max_out_of_contract_rate: float = 0.01


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    min_rows: int = 200
    false_discovery_rate: float = 0.05
    min_psi: float = 0.10
    # A column drifts when BH-significant and PSI >= min_psi, or its second effect size passes
    # (normalised Wasserstein for continuous columns, Jensen-Shannon distance for levels).
    min_wasserstein: float = 0.10
    min_jensen_shannon: float = 0.10
    max_ordinal_levels: int = 10
    psi_bins: int = 10
    psi_epsilon: float = 1e-4
    min_expected_count: float = 5.0
    # Multivariate check: classifier telling reference rows from current rows.
    domain_classifier: bool = True
    domain_classifier_max_rows: int = 5000
    domain_classifier_folds: int = 3
    # Performance estimate and fairness over time.
    performance_samples: int = 1000
    confidence_level: float = 0.95
    age_band_edges: list[int] = Field(default_factory=lambda: [30, 40, 50])
    min_selection_rate_shift: float = 0.10
    seed: int = 0
    severity: SeverityThresholds = Field(default_factory=SeverityThresholds)
    fail_on: Severity = "severe"
    alert_on: Severity = "moderate"
    # Alert webhook (Slack-style incoming webhook or any JSON endpoint); holds a secret, set it from the env.
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 10.0
    # Schedule of the drift service (`python -m monitoring`): every interval_seconds, or at the
    # minutes a 5-field cron expression matches (UTC), e.g. "0 6 * * 1"; cron wins when set.
    interval_seconds: float = Field(default=86_400.0, gt=0)
    cron: str | None = None
    window_days: int = 30

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str | None) -> str | None:
        """Shape only (the service parses the fields): None or five space-separated fields."""
        if value is None or not value.strip():
            return None
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                f"monitoring.cron must be a 5-field cron expression (minute hour day-of-month month "
                f"day-of-week), e.g. '0 6 * * 1'; got {value!r} ({len(fields)} fields)"
            )
        return " ".join(fields)


class UiSettings(BaseModel):
    """The Streamlit UI (``attrition serve ui``): it reaches the API over HTTP only."""

    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    host: str = "127.0.0.1"
    port: int = 8501
    api_url: str = "http://127.0.0.1:8000"
    # The MLflow UI ML engineers review runs in; the model page links a version's run there.
    mlflow_url: str | None = "http://127.0.0.1:5000"
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # Seconds the UI keeps an API answer (workforce summary, model card) before asking again.
    cache_seconds: float = Field(default=30.0, ge=0)


class Settings(BaseSettings):
    """All configuration of the platform."""

    model_config = SettingsConfigDict(env_prefix="ATTRITION_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    # Seconds to wait for a database server to accept a connection (or for a free pooled one).
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    mlflow_tracking_uri: str | None = None
    mlflow_artifact_root: str | None = None
    model_name: str = MODEL_NAME
    reports_dir: Path = Path("reports")
    reference_dir: Path = Path("reference_data")
    log_level: str = "INFO"

    training: TrainingSettings = Field(default_factory=TrainingSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @property
    def db_url(self) -> str:
        """The app database: ``ATTRITION_DATABASE_URL`` or a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'attrition.db').resolve()}"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking: the configured URI or a local SQLite store in the data dir."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> str:
        """Where a local tracking store keeps artifacts."""
        return self.mlflow_artifact_root or (self.data_dir / "mlartifacts").resolve().as_uri()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlDirSource(settings_cls))


class _YamlDirSource(PydanticBaseSettingsSource):
    """Reads ``config_dir()/*.yaml``; the file name is the section it fills."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        folder = config_dir()
        values: dict[str, Any] = {}
        if folder is None:
            return values
        for path in sorted(folder.glob("*.yaml")):
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(content, dict):
                raise ValueError(f"{path}: expected a mapping of settings, got {type(content).__name__}")
            if path.stem == "attrition":
                values.update(content)
            else:
                values[path.stem] = content
        return values


def config_dir() -> Path | None:
    """``ATTRITION_CONFIG_DIR``, else ``./configs``, else this checkout's ``configs/``; None if none exists.

    The checkout's folder makes a command run from another directory behave as it does
    from the repository root, instead of silently falling back to the code defaults.
    """
    given = os.environ.get("ATTRITION_CONFIG_DIR")
    candidates = (
        [Path(given)] if given else [Path("configs"), Path(__file__).resolve().parents[2] / "configs"]
    )
    return next((c for c in candidates if c.is_dir()), None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings so the next ``get_settings()`` reads again."""
    get_settings.cache_clear()
