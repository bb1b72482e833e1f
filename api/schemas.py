"""Request and response models, generated from the record contract in ``attrition.schema``.

The record model is built column by column from ``schema.SPECS``: categories
become ``Literal`` types, integers are strict (``"41"`` or ``41.0`` is an error,
not silently coerced) with the contract's *hard* bounds as ``ge``/``le``,
unknown fields are rejected. Hard cross-field rules (tenure nesting) are checked
after the fields; soft-range breaches, soft cross-field rules and a job role
outside its usual departments are not errors: they come back as ``warnings``.

The constant columns (``EmployeeCount``, ``Over18``, ``StandardHours``) may be
left out (they carry no information); when given they must equal the constant.
``Attrition`` is optional (a record being scored usually has no outcome yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from attrition.config import DRIFT_RUN_STATUSES, PREDICTION_SOURCES, RISK_BAND_NAMES, SEVERITIES
from attrition.schema import (
    CROSS_FIELD_RULES,
    EXAMPLE_RECORD,
    ID_COLUMN,
    ROLE_DEPARTMENTS,
    SPECS,
    TARGET,
    Col,
    ColumnSpec,
)

RiskBand = Literal[RISK_BAND_NAMES]  # type: ignore[valid-type]
Source = Literal[PREDICTION_SOURCES]  # type: ignore[valid-type]
DriftSeverity = Literal[SEVERITIES]  # type: ignore[valid-type]
DriftRunStatus = Literal[DRIFT_RUN_STATUSES]  # type: ignore[valid-type]
#: The example sent to and shown by clients: the contract's example, minus the outcome.
EXAMPLE_REQUEST: dict[str, str | int] = {k: v for k, v in EXAMPLE_RECORD.items() if k != TARGET}


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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_REQUEST]})

    @model_validator(mode="after")
    def _hard_cross_field_rules(self) -> _RecordBase:
        broken = [
            {
                "field": rule.left,
                "expected": rule.description,
                "received": _cross_received(self, rule.left, rule.right),
            }
            for rule in CROSS_FIELD_RULES
            if rule.hard and getattr(self, rule.left) > getattr(self, rule.right) + rule.offset
        ]
        if broken:
            raise PydanticCustomError(
                "cross_field",
                "cross-field rule broken: {rules}",
                {"rules": ", ".join(b["expected"] for b in broken), "issues": broken},
            )
        return self


def _cross_received(record: BaseModel, left: str, right: str) -> str:
    return f"{left}={getattr(record, left)}, {right}={getattr(record, right)}"


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


PredictionRequest: type[_RecordBase] = create_model(  # type: ignore[call-overload]
    "PredictionRequest",
    __base__=_RecordBase,
    __doc__="One employee record (the HR record contract).",
    **{name: _record_field(spec) for name, spec in SPECS.items()},
)


#: (column, typical min, typical max) of the integer columns with a soft range.
_SOFT_RANGES = [
    (name, spec.soft_min, spec.soft_max)
    for name, spec in SPECS.items()
    if spec.kind == "integer" and spec.soft_min is not None and spec.soft_max is not None
]


def record_warnings(record: Mapping[str, Any]) -> list[FieldIssue]:
    """Plausible-but-unusual values of a valid record: kept, and reported."""
    issues = [
        FieldIssue(field=name, expected=f"typically {low}-{high} (value kept)", received=record[name])
        for name, low, high in _SOFT_RANGES
        if not low <= record[name] <= high
    ]
    for rule in CROSS_FIELD_RULES:
        if not rule.hard and record[rule.left] > record[rule.right] + rule.offset:
            received = f"{rule.left}={record[rule.left]}, {rule.right}={record[rule.right]}"
            issues.append(
                FieldIssue(field=rule.left, expected=f"usually {rule.description}", received=received)
            )
    role, department = record[Col.JOB_ROLE], record[Col.DEPARTMENT]
    if department not in ROLE_DEPARTMENTS.get(role, (department,)):
        usual = " or ".join(ROLE_DEPARTMENTS[role])
        issues.append(
            FieldIssue(
                field=Col.DEPARTMENT.value, expected=f"{role} is usually in {usual}", received=department
            )
        )
    return issues


class BatchPredictionRequest(BaseModel):
    """Several records in one call (at most ``serving.max_batch_records``)."""

    model_config = ConfigDict(extra="forbid")
    records: list[PredictionRequest] = Field(  # type: ignore[valid-type]
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
    model_name: str
    model_version: str
    count: int
    predictions: list[PredictionResponse]


# --- model, predictions log, feedback --------------------------------------------------------


class ColumnInfo(BaseModel):
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
    model_name: str
    model_version: str
    loaded_at: dt.datetime
    fast_path: bool = Field(description="Single predictions use the compiled numpy path")
    info: dict[str, Any] = Field(
        description="Training date, metrics, threshold, risk bands, fairness gate result, input columns"
    )
    input_schema: list[ColumnInfo]


class LoggedPrediction(BaseModel):
    prediction_id: str
    created_at: dt.datetime = Field(description="When it was predicted (UTC)")
    employee_number: int | None
    model_name: str
    model_version: str
    probability: float
    threshold: float
    label: bool
    risk_band: str
    source: str
    inputs: dict[str, Any]
    top_factors: list[Any] | None = None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        """The database stores naive UTC; say so (RFC 3339 needs the offset)."""
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class PredictionPage(BaseModel):
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
    outcome_id: int
    employee_number: int
    prediction_id: str | None
    left: bool
    outcome_date: dt.date


class ReloadResponse(BaseModel):
    previous_version: str | None
    model_version: str
    changed: bool


class Check(BaseModel):
    ok: bool
    detail: str


class ReadyResponse(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, Check]


# --- drift runs ------------------------------------------------------------------------------


class DriftRunSummary(BaseModel):
    """One drift check without its per-feature results (``GET /v1/drift/runs/{run_id}`` has them)."""

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

    results: DriftResults | None = Field(None, description="Null while running or when the job failed early")


class DriftRunPage(BaseModel):
    items: list[DriftRunSummary]
    total: int
    limit: int
    offset: int
