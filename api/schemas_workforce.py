"""Request and response models of the workforce views (``/v1/workforce/summary``, ``/v1/employees``).

The query-parameter types come from the record contract: a department, job role or
overtime value outside the contract's categories, or a job level outside its hard
bounds, is a 422 naming the parameter. "Latest score", "at risk" and the tenure bands
are defined once in ``attrition.db.workforce``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from api.schemas import EXAMPLE_REQUEST, LoggedScore, RiskBand, _examples
from attrition.db.workforce import TENURE_BANDS
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE, SPECS, Col

if TYPE_CHECKING:
    Department = str
    JobRole = str
    OverTime = str
else:  # the contract's categories, as Literals (an enum in the OpenAPI document)
    Department = Literal[SPECS[Col.DEPARTMENT].categories]
    JobRole = Literal[SPECS[Col.JOB_ROLE].categories]
    OverTime = Literal[SPECS[Col.OVERTIME].categories]

EmployeeSortName = Literal["risk", "employee_number"]
MAX_PAGE = 500

_BANDS = {"low": 30732, "medium": 15146, "high": 3849, "critical": 273}
_STATS: dict[str, Any] = {
    "headcount": 50000,
    "leavers": 8015,
    "with_outcome": 50000,
    "attrition_rate": 0.1603,
    "scored": 50000,
    "at_risk": 4122,
    "at_risk_share": 0.0824,
    "risk_bands": _BANDS,
}
_SMALL: dict[str, Any] = {
    "headcount": 1200,
    "leavers": 190,
    "with_outcome": 1200,
    "attrition_rate": 0.1583,
    "scored": 1180,
    "at_risk": 101,
    "at_risk_share": 0.0856,
    "risk_bands": {"low": 730, "medium": 349, "high": 92, "critical": 9},
}
EXAMPLE_SUMMARY: dict[str, Any] = {
    "snapshot": "2026-10-31",
    "snapshots": ["2026-09-30", "2026-10-31"],
    "filters": {"department": None, "job_role": None, "overtime": None, "job_level": None, "risk_band": None},
    **_STATS,
    "breakdowns": {
        "department": [{"value": "Sales", **_SMALL}],
        "job_role": [{"value": "Sales Executive", **_SMALL}],
        "tenure_band": [{"value": "3-5", **_SMALL}],
        "overtime": [{"value": "Yes", **_SMALL}],
        "job_level": [{"value": 2, **_SMALL}],
    },
    "trend": [{"snapshot": "2026-09-30", **_STATS}, {"snapshot": "2026-10-31", **_STATS}],
}
_FACTORS = [{"feature": "OverTime", "value": "Yes", "contribution": 0.12, "direction": "raises"}]
_SCORE: dict[str, Any] = {
    "prediction_id": "0b7a6f9e-6a0c-4b9b-9d53-2f0a4d1c2b11",
    "probability": 0.62,
    "risk_band": "high",
    "label": True,
    "model_version": "3",
    "scored_at": "2026-11-01T06:00:00Z",
    "top_factors": _FACTORS,
}
EXAMPLE_EMPLOYEE: dict[str, Any] = {
    "employee_number": 1,
    "snapshot_date": "2026-10-31",
    "department": "Sales",
    "job_role": "Sales Executive",
    "job_level": 2,
    "overtime": "Yes",
    "years_at_company": 6,
    "tenure_band": "6-10",
    "attrition": "No",
    "score": _SCORE,
}


def _utc(value: dt.datetime) -> dt.datetime:
    """The database stores naive UTC; say so (RFC 3339 needs the offset)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Stats(BaseModel):
    """Counts of a group of employees. Rates are null when their denominator is 0."""

    headcount: int = Field(description="Employees in the snapshot (after the filters)")
    leavers: int = Field(description="Employees whose Attrition is Yes")
    with_outcome: int = Field(description="Employees whose Attrition is recorded")
    attrition_rate: float | None = Field(description="leavers / with_outcome (historical attrition)")
    scored: int = Field(description="Employees with a latest score for the snapshot")
    at_risk: int = Field(description="Scored employees whose latest score is high or critical")
    at_risk_share: float | None = Field(description="at_risk / scored")
    risk_bands: dict[RiskBand, int] = Field(description="Scored employees per risk band")


class Group(Stats):
    value: str | int = Field(description="The group: a category, a tenure band or a job level")


class TrendPoint(Stats):
    snapshot: dt.date


class Filters(BaseModel):
    department: Department | None = None
    job_role: JobRole | None = None
    overtime: OverTime | None = None
    job_level: int | None = None
    risk_band: RiskBand | None = None


class Breakdowns(BaseModel):
    department: list[Group]
    job_role: list[Group]
    tenure_band: list[Group] = Field(
        description="From YearsAtCompany: " + ", ".join(label for label, _, _ in TENURE_BANDS) + " years"
    )
    overtime: list[Group]
    job_level: list[Group]


class WorkforceSummaryResponse(Stats):
    """One snapshot's totals and breakdowns, and one row per snapshot (same filters) for trends."""

    model_config = _examples(EXAMPLE_SUMMARY)

    snapshot: dt.date | None = Field(description="The snapshot summarised (null: no employees stored yet)")
    snapshots: list[dt.date] = Field(description="Every stored snapshot, oldest first")
    filters: Filters
    breakdowns: Breakdowns
    trend: list[TrendPoint] = Field(description="Every snapshot's totals, oldest first")


class LatestScore(BaseModel):
    prediction_id: str
    probability: float
    risk_band: str
    label: bool
    model_version: str
    scored_at: dt.datetime = Field(description="When it was predicted (UTC)")
    top_factors: list[Any] | None = None

    @field_validator("scored_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        return _utc(value)


class EmployeeSummary(BaseModel):
    """One employee of a snapshot and their latest score (null: not scored for this snapshot)."""

    model_config = _examples(EXAMPLE_EMPLOYEE)

    employee_number: int
    snapshot_date: dt.date
    department: str
    job_role: str
    job_level: int
    overtime: str
    years_at_company: int
    tenure_band: str
    attrition: str | None
    score: LatestScore | None


class EmployeePage(BaseModel):
    model_config = _examples(
        {
            "snapshot": "2026-10-31",
            "sort": "risk",
            "limit": 50,
            "items": [EXAMPLE_EMPLOYEE],
            "next_cursor": "eyJzb3J0IjoicmlzayIsInAiOjAuNzEyLCJuIjoxMDQyfQ",
        }
    )

    snapshot: dt.date | None
    sort: EmployeeSortName
    limit: int
    items: list[EmployeeSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


class ScoreEntry(LoggedScore):
    snapshot_date: dt.date | None = Field(description="The snapshot scored (null: an ad-hoc API prediction)")


_RECORD = {**EXAMPLE_REQUEST, "Attrition": "No", SNAPSHOT_DATE: "2026-10-31"}


class EmployeeDetail(BaseModel):
    """One employee's stored records (one per snapshot, newest first) and score history (newest first)."""

    model_config = _examples(
        {
            "employee_number": EXAMPLE_REQUEST[ID_COLUMN],
            "records": [_RECORD],
            "scores": [
                {
                    **{k: v for k, v in _SCORE.items() if k != "scored_at"},
                    "created_at": "2026-11-01T06:00:00Z",
                    "snapshot_date": "2026-10-31",
                    "model_name": "attrition-classifier",
                    "threshold": 0.31,
                    "source": "batch",
                }
            ],
        }
    )

    employee_number: int
    records: list[dict[str, Any]] = Field(
        description="Contract columns + snapshot_date, newest snapshot first"
    )
    scores: list[ScoreEntry] = Field(
        description="The newest 100 predictions; GET /v1/predictions?employee_number= has them all"
    )
