"""Settings: environment ``ATTRITION_*`` over YAML files in ``configs/`` over defaults.

Each YAML file in the config directory fills the section of its name
(``training.yaml`` -> ``settings.training``); ``attrition.yaml``, if present,
holds top-level keys. Nested values can be set from the environment with a
double underscore: ``ATTRITION_TRAINING__TRIALS=5``.

Every setting carries a ``Field(description=...)``: docs/configuration.md is generated from
them (``python scripts/config-reference.py``; a test fails when it is out of date).

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


def at_least(level: str | None, minimum: str) -> bool:
    """True when ``level`` is a verdict at or above ``minimum`` (none < moderate < severe < critical)."""
    return level is not None and SEVERITIES.index(level) >= SEVERITIES.index(minimum)


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

    medium: float = Field(default=0.25, description="Lowest probability of the `medium` risk band.")
    high: float = Field(default=0.50, description="Lowest probability of the `high` risk band (at risk).")
    critical: float = Field(
        default=0.75,
        description="Lowest probability of the `critical` risk band (0 < medium < high < critical < 1).",
    )

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

    trials: int = Field(
        default=30, ge=1, description="Optuna trials of the search (in total, across parallel workers)."
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="Stop the search after this many seconds (unset: no time limit)."
    )
    seed: int = Field(default=42, ge=0, description="Seed of the split, the sampler and the models.")
    cv_folds: int = Field(
        default=5, ge=2, description="Stratified cross-validation folds each trial is scored on."
    )
    holdout_fraction: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Share of the rows held out for the final metrics with intervals and the fairness audit.",
    )
    min_rows: int = Field(
        default=200, ge=1, description="Fewest training rows accepted; fewer is an error, nothing trained."
    )
    protected_attributes: list[str] = Field(
        default_factory=lambda: [Col.GENDER.value, Col.AGE.value, Col.MARITAL_STATUS.value],
        description="Columns the fairness audit always covers.",
    )
    exclude_protected_from_features: bool = Field(
        default=True, description="Leave the protected attributes out of the model's inputs."
    )
    threshold_rule: Literal["f2", "cost"] = Field(
        default="f2",
        description="Decision threshold: maximise F2, or minimise the cost of missed leavers and interventions.",
    )
    cost_missed_leaver: float = Field(
        default=5.0, gt=0, description="Cost of a missed leaver (a false negative), rule `cost`."
    )
    cost_intervention: float = Field(
        default=1.0, gt=0, description="Cost of a needless intervention (a false positive), rule `cost`."
    )
    families: list[ModelFamily] = Field(
        default_factory=lambda: list(MODEL_FAMILIES), description="Model families the search may pick."
    )
    calibration: Literal["auto", "sigmoid", "isotonic"] = Field(
        default="auto",
        description=(
            "Probability calibration; auto: sigmoid below isotonic_min_rows training rows "
            "(isotonic overfits small data), isotonic above."
        ),
    )
    isotonic_min_rows: int = Field(
        default=5000,
        ge=1,
        description="Training rows from which `auto` calibration uses isotonic regression.",
    )
    bootstrap_resamples: int = Field(
        default=500,
        ge=1,
        description="Bootstrap resamples of the holdout for the metrics' confidence intervals.",
    )
    shap_max_rows: int = Field(
        default=2000,
        ge=1,
        description="Holdout rows explained for global SHAP importance (a seeded sample when the holdout is larger).",
    )
    threads: int = Field(
        default=1,
        ge=1,
        description=(
            "BLAS/OpenMP threads per training process; scale out with several processes on one study instead."
        ),
    )
    risk_bands: RiskBands = Field(default_factory=RiskBands)
    # Fairness gate: a model over either limit is never promoted.
    max_equal_opportunity_difference: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Fairness gate: largest equal-opportunity difference a promoted model may show.",
    )
    max_demographic_parity_difference: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Fairness gate: largest demographic-parity difference a promoted model may show.",
    )
    min_group_size: int = Field(
        default=30,
        ge=1,
        description="Holdout rows a group needs to be gated (smaller groups are reported only).",
    )
    fairness_confidence: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        default=0.95,
        description=(
            "A gap fails the gate when its one-sided lower bound at this confidence is above the limit "
            "(beyond the holdout's sampling noise); 0 gates the point estimate."
        ),
    )
    fairness_gated_attributes: list[str] | None = Field(
        default_factory=lambda: [Col.GENDER.value],
        description=(
            "Attributes the fairness gate applies to (null: every protected attribute); the others are "
            "audited and reported. See configs/training.yaml for why Age and MaritalStatus are not gated."
        ),
    )
    # Promotion gate.
    min_roc_auc: float = Field(
        default=0.70, ge=0, le=1, description="Promotion gate: lowest holdout ROC-AUC of a new champion."
    )
    max_roc_auc_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Promotion gate: largest ROC-AUC drop allowed against the current champion.",
    )


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    host: str = Field(default="127.0.0.1", description="Bind address of `attrition serve api`.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of `attrition serve api`.")
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes of one API instance.")
    max_batch_records: int = Field(
        default=1000, ge=1, description="Most records one POST /v1/predict/batch may hold."
    )
    max_body_bytes: int = Field(
        default=2_000_000,
        gt=0,
        description="Largest request body in bytes (bigger: 413), score-job uploads excepted.",
    )
    max_upload_bytes: int = Field(
        default=60_000_000,
        gt=0,
        description="Largest CSV upload of POST /v1/score-jobs, in bytes (the one path allowed a body this large).",
    )
    score_job_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description=(
            "Hours a score job's files and results stay under <data_dir>/score_jobs "
            "(older ones are deleted when a new job is created)."
        ),
    )
    reload_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Seconds between two checks of the champion alias; a moved alias is loaded (0: no polling).",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=1,
        description="Requests per minute per API key or user, per process (an in-memory token bucket).",
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "How long a verified API key or user is trusted before the database is asked again (revocation delay)."
        ),
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description=(
            "HS256 secret of the bearer tokens of POST /v1/auth/token, 32+ characters. Unset: a random secret "
            "per process, so tokens do not survive a restart and several workers/replicas need the same secret."
        ),
    )
    token_minutes: float = Field(default=30.0, gt=0, description="Lifetime of a bearer token, in minutes.")
    sign_in_max_failures: int = Field(
        default=5,
        ge=1,
        description="Sign-in lockout: this many wrong passwords within the window lock the account.",
    )
    sign_in_window_minutes: float = Field(
        default=15.0,
        gt=0,
        description="Sign-in lockout: the window the wrong passwords are counted in, in minutes.",
    )
    sign_in_lock_minutes: float = Field(
        default=15.0, gt=0, description="Sign-in lockout: how long a locked account stays locked, in minutes."
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8501"],
        description="Browser origins allowed to call the API (CORS).",
    )
    log_queue_max: int = Field(
        default=100_000,
        ge=1,
        description="Predictions waiting to be written to the log; when full the oldest waiting one is dropped.",
    )
    log_flush_interval_seconds: float = Field(
        default=0.5, gt=0, description="Seconds between two writes of the prediction log queue."
    )
    log_batch_size: int = Field(
        default=500, ge=1, description="Most predictions written to the database in one batch."
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications (wrong key, bad token, wrong password) one client address may "
        "make per minute before it gets 429; per process, like rate_limit_per_minute.",
    )
    log_spill_dir: Path | None = Field(
        default=None,
        description="Where predictions that could not reach the database are kept (an fsynced append-only "
        "file, replayed once on the next start); unset: <data_dir>/prediction_spill.",
    )
    log_spill_max_bytes: int = Field(
        default=200_000_000,
        gt=0,
        description="Largest size of the prediction spill file; past it new predictions that cannot be "
        "written are dropped and counted (a metric and a log line say so).",
    )


class SeverityThresholds(BaseModel):
    """Limits of the drift severity rule (documented in ``attrition.drift.severity``)."""

    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    drift_share_severe: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Importance-weighted share of drifted features from which drift is severe.",
    )
    drift_share_critical: float = Field(
        default=0.50,
        gt=0,
        le=1,
        description="Importance-weighted share of drifted features from which drift is critical.",
    )
    domain_auc_moderate: float = Field(
        default=0.60, gt=0.5, le=1, description="Domain-classifier ROC-AUC from which drift is moderate."
    )
    domain_auc_severe: float = Field(
        default=0.80, gt=0.5, le=1, description="Domain-classifier ROC-AUC from which drift is severe."
    )
    prediction_psi_severe: float = Field(
        default=0.25, gt=0, description="PSI of the predicted probabilities from which drift is severe."
    )
    performance_drop_moderate: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Confident performance drop (ROC-AUC, recall, precision) from which drift is moderate.",
    )
    performance_drop_severe: float = Field(
        default=0.05, gt=0, le=1, description="Confident performance drop from which drift is severe."
    )
    performance_drop_critical: float = Field(
        default=0.10, gt=0, le=1, description="Confident performance drop from which drift is critical."
    )
    max_missing_rate_increase: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Rise of a column's missing-value rate above which drift is moderate.",
    )
    max_out_of_contract_rate: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of out-of-contract values in a column above which drift is moderate.",
    )


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a YAML file is an error

    min_rows: int = Field(
        default=200,
        ge=1,
        description="Fewest rows in either window for a verdict (fewer: insufficient data).",
    )
    false_discovery_rate: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Benjamini-Hochberg false discovery rate of the per-feature tests.",
    )
    min_psi: float = Field(
        default=0.10,
        ge=0,
        description=(
            "A column drifts when BH-significant and its PSI is at least this, or its second effect size passes."
        ),
    )
    min_wasserstein: float = Field(
        default=0.10,
        ge=0,
        description="Second effect size of continuous columns: normalised Wasserstein distance (W1 / reference std).",
    )
    min_jensen_shannon: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Second effect size of ordinal and categorical columns: Jensen-Shannon distance.",
    )
    max_ordinal_levels: int = Field(
        default=10,
        ge=2,
        description="Integer columns with at most this many values are tested as ordinal (chi-square).",
    )
    psi_bins: int = Field(
        default=10, ge=2, description="Bins of a continuous column's PSI (reference quantiles)."
    )
    psi_epsilon: float = Field(
        default=1e-4, gt=0, lt=1, description="Floor of an empty bin's share in the PSI."
    )
    min_expected_count: float = Field(
        default=5.0, gt=0, description="Chi-square levels with a smaller expected count are pooled."
    )
    # Multivariate check: classifier telling reference rows from current rows.
    domain_classifier: bool = Field(
        default=True,
        description="Run the multivariate check: a classifier telling reference rows from current rows.",
    )
    domain_classifier_max_rows: int = Field(
        default=5000, ge=2, description="Rows per window the domain classifier uses (a seeded sample above)."
    )
    domain_classifier_folds: int = Field(
        default=3, ge=2, description="Cross-validation folds of the domain classifier."
    )
    # Performance estimate and fairness over time.
    performance_samples: int = Field(
        default=1000, ge=1, description="Outcome draws of the label-free performance estimate."
    )
    confidence_level: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Confidence level of the performance intervals and the confident drop.",
    )
    age_band_edges: list[int] = Field(
        default_factory=lambda: [30, 40, 50], description="Age band edges of the fairness-over-time check."
    )
    min_selection_rate_shift: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="A protected group's selection rate shifted when BH-significant and moved by at least this.",
    )
    seed: int = Field(
        default=0, ge=0, description="Seed of the samples, the domain classifier and the outcome draws."
    )
    severity: SeverityThresholds = Field(default_factory=SeverityThresholds)
    fail_on: Severity = Field(
        default="severe", description="`attrition drift run` exits 1 at or above this severity."
    )
    alert_on: Severity = Field(default="moderate", description="Alert sinks fire at or above this severity.")
    webhook_url: str | None = Field(
        default=None,
        description=(
            "Alert webhook (Slack-style incoming webhook or any JSON endpoint); it holds a secret, "
            "set it from the environment."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one webhook call, in seconds."
    )
    interval_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="The drift service (`python -m monitoring`) runs a check every this many seconds.",
    )
    cron: str | None = Field(
        default=None,
        description=(
            'Or at the minutes a 5-field cron expression matches (UTC), e.g. "0 6 * * 1"; '
            "it wins over interval_seconds when set."
        ),
    )
    window_days: int = Field(
        default=30,
        ge=1,
        description="Days of logged predictions in the current window of a `--window` check.",
    )

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

    host: str = Field(default="127.0.0.1", description="Bind address of `attrition serve ui`.")
    port: int = Field(default=8501, ge=1, le=65535, description="Port of `attrition serve ui`.")
    api_url: str = Field(default="http://127.0.0.1:8000", description="The prediction API the UI calls.")
    mlflow_url: str | None = Field(
        default="http://127.0.0.1:5000",
        description="The MLflow UI ML engineers review runs in; the model page links a version's run there.",
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one call of the UI to the API, in seconds."
    )
    cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Seconds the UI keeps an API answer (workforce summary, model card) before asking again.",
    )


class Settings(BaseSettings):
    """All configuration of the platform."""

    model_config = SettingsConfigDict(env_prefix="ATTRITION_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"),
        description="Local state: the SQLite database and MLflow store by default, score jobs, the drift status file.",
    )
    database_url: str | None = Field(
        default=None,
        description="The app database, any SQLAlchemy URL (unset: SQLite file <data_dir>/attrition.db).",
    )
    database_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for a database server to accept a connection (or for a free pooled one).",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking and registry (unset: a local SQLite store <data_dir>/mlflow.db).",
    )
    mlflow_artifact_root: str | None = Field(
        default=None,
        description="Where new experiments keep artifacts (unset: <data_dir>/mlartifacts with a local store, "
        "the server's choice with a tracking server).",
    )
    optuna_storage: str | None = Field(
        default=None,
        description="Optuna RDB storage URL (e.g. postgresql+psycopg://optuna:...@postgres:5432/optuna): every "
        "training on it (CLI, bootstrap, drift retraining) keeps its study there, and processes on the same "
        "data and seed share one study; unset: an in-memory study per process.",
    )
    model_name: str = Field(default=MODEL_NAME, description="Registered model name in MLflow.")
    reports_dir: Path = Field(
        default=Path("reports"), description="Where drift, fairness and training reports go."
    )
    reference_dir: Path = Field(
        default=Path("reference_data"),
        description="The drift reference data, rewritten from the champion on every promotion.",
    )
    log_level: str = Field(
        default="INFO", description="Log level of the CLI and the services (DEBUG, INFO, ...)."
    )
    retention_days: int = Field(
        default=365,
        ge=1,
        description="Days the prediction log, outcomes and drift windows are kept: `attrition purge` "
        "(and the maintenance workflow) removes older ones.",
    )

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


def location_env(settings: Settings, configs: Path) -> dict[str, str]:
    """``ATTRITION_*`` variables that point another process at ``settings``' stores and folders.

    Data, app database, MLflow store and artifacts, reports, reference data, and ``configs``
    as the YAML folder (a folder that does not exist: the code defaults). For processes a
    test or a benchmark starts on a system living in a temporary folder.
    """
    return {
        "ATTRITION_DATA_DIR": str(settings.data_dir),
        "ATTRITION_DATABASE_URL": settings.db_url,
        "ATTRITION_MLFLOW_TRACKING_URI": settings.tracking_uri,
        "ATTRITION_MLFLOW_ARTIFACT_ROOT": settings.artifact_root,
        "ATTRITION_REPORTS_DIR": str(settings.reports_dir),
        "ATTRITION_REFERENCE_DIR": str(settings.reference_dir),
        "ATTRITION_CONFIG_DIR": str(configs),
    }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings so the next ``get_settings()`` reads again."""
    get_settings.cache_clear()
