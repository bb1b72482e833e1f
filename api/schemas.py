"""Request and response models, generated from the record contract in ``attrition.schema``.

The record model is built column by column from ``schema.SPECS``: categories
become ``Literal`` types, integers are strict (``"41"`` or ``41.0`` is an error,
not silently coerced) with the contract's *hard* bounds as ``ge``/``le``,
unknown fields are rejected. The record rules after the fields are the ingest's
(``attrition.data.validation.record_errors`` / ``record_warnings``, one implementation):
a broken hard cross-field rule (tenure nesting) is an error; soft-range breaches,
soft cross-field rules and a job role outside its usual departments are not: they
come back as ``warnings``.

The constant columns (``EmployeeCount``, ``Over18``, ``StandardHours``) may be
left out (they carry no information); when given they must equal the constant.
``Attrition`` is optional (a record being scored usually has no outcome yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from attrition.config import DriftRunStatus, PredictionSource, RiskBandName, Severity
from attrition.data.rules import RecordIssue
from attrition.data.validation import record_errors, record_warnings
from attrition.schema import EXAMPLE_RECORD, ID_COLUMN, SPECS, TARGET, ColumnSpec

# The API's names for the Literals defined once in attrition.config.
RiskBand = RiskBandName
Source = PredictionSource
DriftSeverity = Severity
#: The example sent to and shown by clients: the contract's example, minus the outcome.
EXAMPLE_REQUEST: dict[str, str | int] = {k: v for k, v in EXAMPLE_RECORD.items() if k != TARGET}

# --- OpenAPI examples of the responses (tests validate each against its model) ------------------

_PREDICTION_ID = "0b7a6f9e-6a0c-4b9b-9d53-2f0a4d1c2b11"
_MODEL = {"model_name": "attrition-classifier", "model_version": "3"}
_SCORE: dict[str, Any] = {"probability": 0.62, "label": True, "threshold": 0.31, "risk_band": "high"}
_FACTORS: list[dict[str, Any]] = [
    {
        "feature": "OverTime",
        "value": EXAMPLE_REQUEST["OverTime"],
        "contribution": 0.12,
        "direction": "raises",
    },
    {
        "feature": "MonthlyIncome",
        "value": EXAMPLE_REQUEST["MonthlyIncome"],
        "contribution": -0.04,
        "direction": "lowers",
    },
]
EXAMPLE_PREDICTION: dict[str, Any] = {
    "prediction_id": _PREDICTION_ID,
    "employee_number": EXAMPLE_REQUEST[ID_COLUMN],
    **_SCORE,
    **_MODEL,
    "warnings": [],
    "factors": _FACTORS,
}
_LOGGED_PREDICTION: dict[str, Any] = {
    "prediction_id": _PREDICTION_ID,
    "created_at": "2026-03-02T09:15:27.412Z",
    "employee_number": EXAMPLE_REQUEST[ID_COLUMN],
    **_MODEL,
    **_SCORE,
    "source": "api",
    "inputs": EXAMPLE_REQUEST,
    "top_factors": _FACTORS,
}
_MODEL_INFO: dict[str, Any] = {
    **_MODEL,
    "run_id": "5c1f0e2d9a8b4c7e9f6a3b2d1e0c9f8a",
    "trained_at": "2026-02-27T18:04:11Z",
    "family": "logistic_regression",
    "metrics": {"roc_auc": 0.83, "average_precision": 0.55, "recall": 0.71, "precision": 0.42, "brier": 0.11},
    "threshold": 0.31,
    "threshold_rule": "max_f1",
    "risk_bands": {"medium": 0.25, "high": 0.5, "critical": 0.75},
    "fairness_passed": True,
    "input_columns": ["Age", "BusinessTravel", "..."],
    "protected_attributes": ["Gender"],
    "protected_excluded": True,
    "data_fingerprint": "9f2c4e1a",
    "training_rows": 1470,
}
_DRIFT_RUN: dict[str, Any] = {
    "run_id": "5f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e",
    "started_at": "2026-03-01T02:00:00Z",
    "finished_at": "2026-03-01T02:00:41Z",
    "status": "ok",
    "severity": "moderate",
    "reference_description": "reference_data/baseline.parquet (1,470 rows)",
    "current_description": "predictions 2026-01-30 to 2026-03-01 (2,114 rows)",
    "reference_rows": 1470,
    "current_rows": 2114,
    "model_version": "3",
    "drifted_features": ["MonthlyIncome", "OverTime"],
    "reasons": ["2 features drifted: MonthlyIncome, OverTime"],
    "message": "moderate drift: 2 of 30 features drifted",
    "report_path": "reports/drift/2026-03-01T020000Z.html",
    "retrain": None,
    "error": None,
}


def _examples(*examples: Mapping[str, Any], forbid_extra: bool = False) -> ConfigDict:
    """Model config with OpenAPI examples; ``forbid_extra`` for request bodies (unknown keys are 422)."""
    shown: dict[str, Any] = {"examples": [dict(e) for e in examples]}
    return (
        ConfigDict(extra="forbid", json_schema_extra=shown)
        if forbid_extra
        else ConfigDict(json_schema_extra=shown)
    )


class FieldIssue(BaseModel):
    """One problem with one field: which, what was expected, what came."""

    field: str | None = Field(None, examples=["Age"])
    expected: str | None = Field(None, examples=["an integer between 14 and 100"])
    received: Any = Field(None, examples=[7])
    index: int | None = Field(None, description="Record index in a batch request")


class ErrorResponse(BaseModel):
    """Every error the API returns: a message a person can act on, and field-level detail."""

    error: str = Field(examples=["request validation failed: 1 problem"])
    detail: list[FieldIssue] = Field(default_factory=list)
    request_id: str | None = None


# --- the record ------------------------------------------------------------------------------


class _RecordBase(BaseModel):
    model_config = _examples(EXAMPLE_REQUEST, forbid_extra=True)

    @model_validator(mode="after")
    def _hard_cross_field_rules(self) -> Self:
        """Every broken hard rule, with field/expected/received (``api.errors`` makes the 422)."""
        broken = [_issue(i).model_dump(exclude={"index"}) for i in record_errors(self.__dict__)]
        if broken:
            raise PydanticCustomError(
                "cross_field",
                "cross-field rule broken: {rules}",
                {"rules": ", ".join(b["expected"] for b in broken), "issues": broken},
            )
        return self


def field_warnings(record: Mapping[str, Any]) -> list[FieldIssue]:
    """Plausible-but-unusual values of a valid record: kept, and reported."""
    return [_issue(i) for i in record_warnings(record)]


def _issue(issue: RecordIssue) -> FieldIssue:
    return FieldIssue(field=issue.column, expected=issue.expected, received=issue.received)


def _record_field(spec: ColumnSpec) -> tuple[Any, Any]:
    name, description = spec.name.value, spec.description
    if spec.kind == "categorical":
        return Annotated[Literal[spec.categories], Field(description=description)], ...
    if spec.kind == "target":
        return Annotated[Literal[spec.categories] | None, Field(description=description)], None
    if spec.kind == "constant":
        return Annotated[Literal[spec.constant], Field(description=description)], spec.constant
    extra: Any = {"x-soft-range": [spec.soft_min, spec.soft_max]} if spec.soft_min is not None else None
    soft = f" (typical {spec.soft_min}-{spec.soft_max})" if spec.soft_min is not None else ""
    field = Field(
        strict=True,
        ge=spec.hard_min,
        le=spec.hard_max,
        description=f"{description}{soft}",
        examples=[EXAMPLE_RECORD[name]],
        json_schema_extra=extra,
    )
    return Annotated[int, field], ...


def _record_model() -> type[_RecordBase]:
    fields: dict[str, Any] = {name: _record_field(spec) for name, spec in SPECS.items()}
    return create_model(
        "PredictionRequest",
        __base__=_RecordBase,
        __doc__="One employee record (the HR record contract).",
        **fields,
    )


if TYPE_CHECKING:  # the fields are generated from the schema at run time: checkers see the base
    PredictionRequest = _RecordBase
else:
    PredictionRequest = _record_model()


class BatchPredictionRequest(BaseModel):
    """Several records in one call (at most ``serving.max_batch_records``)."""

    model_config = _examples(
        {"records": [EXAMPLE_REQUEST, {**EXAMPLE_REQUEST, ID_COLUMN: 2}]}, forbid_extra=True
    )
    records: list[PredictionRequest] = Field(
        min_length=1, examples=[[EXAMPLE_REQUEST, {**EXAMPLE_REQUEST, ID_COLUMN: 2, "OverTime": "No"}]]
    )


# --- predictions -----------------------------------------------------------------------------


class Factor(BaseModel):
    """One reason behind a prediction: an original contract column and its signed contribution."""

    feature: str = Field(examples=["OverTime"])
    value: Any = Field(examples=["Yes"])
    contribution: float = Field(examples=[0.12])
    direction: Literal["raises", "lowers"]


class PredictionResponse(BaseModel):
    """One prediction (``factors`` only with ``?explain=true``)."""

    model_config = _examples(EXAMPLE_PREDICTION)
    prediction_id: str = Field(examples=["0b7a6f9e-6a0c-4b9b-9d53-2f0a4d1c2b11"])
    employee_number: int = Field(examples=[1])
    probability: float = Field(
        ge=0.0, le=1.0, examples=[0.62], description="Calibrated probability of leaving"
    )
    label: bool = Field(examples=[True], description="probability >= the model's decision threshold")
    threshold: float = Field(examples=[0.31])
    risk_band: RiskBand = Field(examples=["high"])
    model_name: str = Field(examples=["attrition-classifier"])
    model_version: str = Field(examples=["3"])
    warnings: list[FieldIssue] = Field(default_factory=list, description="Unusual but accepted values")
    factors: list[Factor] | None = Field(None, description="Top reasons (only with ?explain=true)")


class BatchPredictionResponse(BaseModel):
    model_config = _examples(
        {
            **_MODEL,
            "count": 2,
            "predictions": [
                {**EXAMPLE_PREDICTION, "factors": None},
                {
                    **EXAMPLE_PREDICTION,
                    "prediction_id": "6d2e1c0b-9a8f-4e7d-b6c5-a4b3c2d1e0f9",
                    "employee_number": 2,
                    "probability": 0.18,
                    "label": False,
                    "risk_band": "low",
                    "factors": None,
                },
            ],
        }
    )

    model_name: str
    model_version: str
    count: int
    predictions: list[PredictionResponse]


# --- model, predictions log, feedback --------------------------------------------------------


#: The example column of the input schema (ColumnInfo and ModelResponse show it).
_AGE_COLUMN: dict[str, Any] = {
    "name": "Age",
    "kind": "integer",
    "description": "Age in years",
    "minimum": 14,
    "maximum": 100,
    "typical_minimum": 18,
    "typical_maximum": 60,
    "required": True,
}


class ColumnInfo(BaseModel):
    model_config = _examples(_AGE_COLUMN)

    name: str
    kind: str
    description: str
    categories: list[str] | None = None
    minimum: int | None = None
    maximum: int | None = None
    typical_minimum: int | None = None
    typical_maximum: int | None = None
    required: bool


def input_schema() -> list[ColumnInfo]:
    """The record contract as clients see it (from ``schema.SPECS``)."""
    return [
        ColumnInfo(
            name=name,
            kind=spec.kind,
            description=spec.description,
            categories=list(spec.categories) or None,
            minimum=spec.hard_min,
            maximum=spec.hard_max,
            typical_minimum=spec.soft_min,
            typical_maximum=spec.soft_max,
            required=spec.kind not in ("constant", "target"),
        )
        for name, spec in SPECS.items()
    ]


class ModelResponse(BaseModel):
    model_config = _examples(
        {
            **_MODEL,
            "loaded_at": "2026-03-02T08:00:03Z",
            "fast_path": True,
            "info": _MODEL_INFO,
            "input_schema": [
                _AGE_COLUMN,
                {
                    "name": "OverTime",
                    "kind": "categorical",
                    "description": "Works overtime",
                    "categories": ["No", "Yes"],
                    "required": True,
                },
            ],
        }
    )

    model_name: str
    model_version: str
    loaded_at: dt.datetime
    fast_path: bool = Field(description="Single predictions use the compiled numpy path")
    info: dict[str, Any] = Field(
        description="Training date, metrics, threshold, risk bands, fairness gate result, input columns"
    )
    input_schema: list[ColumnInfo]


class LoggedScore(BaseModel):
    """What every logged prediction says, in the prediction log and an employee's score history."""

    prediction_id: str
    created_at: dt.datetime = Field(description="When it was predicted (UTC)")
    model_name: str
    model_version: str
    probability: float
    threshold: float
    label: bool
    risk_band: str
    source: str
    top_factors: list[Any] | None = None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        """The database stores naive UTC; say so (RFC 3339 needs the offset)."""
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class LoggedPrediction(LoggedScore):
    model_config = _examples(_LOGGED_PREDICTION)

    employee_number: int | None
    inputs: dict[str, Any]
    caller: str | None = Field(
        None,
        description="Who asked: the API key name, or user:<name> for a person; shown to admins only "
        "(null for other roles, batch runs and predictions logged before this field existed)",
    )


class PredictionPage(BaseModel):
    model_config = _examples({"items": [_LOGGED_PREDICTION], "total": 1, "limit": 100, "offset": 0})

    items: list[LoggedPrediction]
    total: int
    limit: int
    offset: int


class FeedbackRequest(BaseModel):
    """The actual outcome for an employee; give the prediction id, the employee number, or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "prediction_id": "0b7a6f9e-6a0c-4b9b-9d53-2f0a4d1c2b11",
                    "left": True,
                    "outcome_date": "2026-03-31",
                }
            ]
        },
    )
    prediction_id: str | None = Field(None, min_length=1, max_length=36)
    employee_number: int | None = Field(None, strict=True, ge=1, le=SPECS[ID_COLUMN].hard_max)
    left: bool = Field(strict=True, description="True: the employee left; false: stayed")
    outcome_date: dt.date


class FeedbackResponse(BaseModel):
    model_config = _examples(
        {
            "outcome_id": 17,
            "employee_number": EXAMPLE_REQUEST[ID_COLUMN],
            "prediction_id": _PREDICTION_ID,
            "left": True,
            "outcome_date": "2026-03-31",
        }
    )

    outcome_id: int
    employee_number: int
    prediction_id: str | None
    left: bool
    outcome_date: dt.date


class ReloadResponse(BaseModel):
    model_config = _examples({"previous_version": "2", "model_version": "3", "changed": True})

    previous_version: str | None
    model_version: str
    changed: bool


class Check(BaseModel):
    model_config = _examples({"ok": True, "detail": "app database reachable"})

    ok: bool
    detail: str


class ReadyResponse(BaseModel):
    model_config = _examples(
        {
            "status": "degraded",
            "checks": {
                "model": {"ok": True, "detail": "serving attrition-classifier version 2"},
                "champion": {
                    "ok": False,
                    "detail": "serving version 2, but the champion is version 3: loading version 3 failed: "
                    "OSError: model artifacts not found; next attempt in 60 s, or now with POST /v1/admin/reload",
                },
                "database": {"ok": True, "detail": "app database reachable"},
                "registry": {"ok": True, "detail": "champion alias readable"},
                "prediction_log": {"ok": True, "detail": "0 entries waiting"},
            },
        }
    )

    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, Check]


# --- drift runs ------------------------------------------------------------------------------


class DriftRunSummary(BaseModel):
    """One drift check without its per-feature results (``GET /v1/drift/runs/{run_id}`` has them)."""

    model_config = _examples(_DRIFT_RUN)

    run_id: str = Field(examples=["5f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e"])
    started_at: dt.datetime = Field(description="When the run started (UTC)")
    finished_at: dt.datetime | None = Field(None, description="When it finished (UTC); null while running")
    status: DriftRunStatus = Field(
        description="running; ok (a verdict); insufficient_data (too few rows for one); error (the job failed)"
    )
    severity: DriftSeverity | None = Field(
        None, examples=["moderate"], description="The verdict; null unless status is ok"
    )
    reference_description: str = Field(description="The reference window (baseline snapshot)")
    current_description: str = Field(description="The current window compared against it")
    reference_rows: int
    current_rows: int
    model_version: str | None = Field(None, description="Champion version whose predictions were checked")
    drifted_features: list[str] = Field(default_factory=list, examples=[["MonthlyIncome", "OverTime"]])
    reasons: list[str] = Field(default_factory=list, description="Why the severity is what it is")
    message: str = Field("", description="What the run concluded, or why it could not")
    report_path: str | None = Field(None, description="The HTML/JSON report the run wrote")
    retrain: dict[str, Any] | None = Field(None, description="The retraining the run triggered, if any")
    error: str | None = Field(None, description="What went wrong (status error)")

    @field_validator("started_at", "finished_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        """The database stores naive UTC; say so (RFC 3339 needs the offset)."""
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """A ``drift_runs`` row, with the summary fields of its results lifted to the top."""
        results = row.get("results") or {}
        return cls.model_validate(
            {
                **row,
                "drifted_features": list(results.get("drifted_features") or []),
                "reasons": list(results.get("reasons") or []),
                "message": results.get("message") or "",
            }
        )


class DriftResults(BaseModel):
    """What the analysis found (``DriftResult.to_dict()``) and what the job did with it; other keys pass through."""

    model_config = ConfigDict(extra="allow")

    status: str
    severity: DriftSeverity | None = None
    created_at: str | None = None
    reference_rows: int | None = None
    current_rows: int | None = None
    message: str = ""
    reasons: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    drifted_features: list[str] = Field(default_factory=list)
    drifted_share: float | None = Field(None, description="Share of the features that drifted")
    features: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per column: test, p-value (adjusted), PSI / Wasserstein / JS, drifted, data quality",
    )
    schema_check: dict[str, Any] | None = Field(
        None, alias="schema", description="Columns missing or extra in either window"
    )
    domain_classifier: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = Field(None, description="Drift of the predicted probabilities")
    performance: dict[str, Any] | None = Field(None, description="Realised performance (outcomes known)")
    estimated_performance: dict[str, Any] | None = Field(None, description="Label-free performance estimate")
    fairness: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list, description="What the job could not do (MLflow, reports)")
    alerts: list[dict[str, Any]] = Field(default_factory=list, description="Alerts sent, per sink")
    reports: dict[str, str] = Field(
        default_factory=dict, description="Report files by kind (json, html, ...)"
    )


class DriftRunDetail(DriftRunSummary):
    """One drift check in full."""

    model_config = _examples(
        {
            **_DRIFT_RUN,
            "results": {
                "status": "ok",
                "severity": "moderate",
                "reference_rows": 1470,
                "current_rows": 2114,
                "message": "moderate drift: 2 of 30 features drifted",
                "reasons": ["2 features drifted: MonthlyIncome, OverTime"],
                "drifted_features": ["MonthlyIncome", "OverTime"],
                "drifted_share": 0.067,
                "features": [
                    {"column": "MonthlyIncome", "test": "ks", "p_value": 0.0004, "psi": 0.14, "drifted": True}
                ],
            },
        }
    )

    results: DriftResults | None = Field(None, description="Null while running or when the job failed early")


class DriftRunPage(BaseModel):
    model_config = _examples({"items": [_DRIFT_RUN], "total": 1, "limit": 20, "offset": 0})

    items: list[DriftRunSummary]
    total: int
    limit: int
    offset: int
