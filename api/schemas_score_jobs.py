"""Response models of ``/v1/score-jobs``: a batch scoring job of an uploaded CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

JobStatus = Literal["queued", "running", "done", "failed"]

_JOB_ID = "3f2b8c1d9e7a4f6b8c0d1e2f3a4b5c6d"
EXAMPLE_JOB: dict[str, Any] = {
    "job_id": _JOB_ID,
    "status": "done",
    "filename": "workforce_2026-10.csv",
    "created_by": "user:ana",
    "created_at": "2026-11-02T09:15:27.412000Z",
    "updated_at": "2026-11-02T09:15:49.903000Z",
    "finished_at": "2026-11-02T09:15:49.903000Z",
    "rows_total": 50000,
    "rows_read": 50000,
    "progress": 1.0,
    "rows_scored": 49997,
    "rows_rejected": 3,
    "issue_count": 3,
    "issues": [
        {
            "line": 1207,
            "column": "Department",
            "severity": "error",
            "reason": "Department: 'Space' is not one of Human Resources, Research & Development, Sales",
        }
    ],
    "risk_bands": {"low": 31850, "medium": 11214, "high": 5120, "critical": 1813},
    "high_risk": 6933,
    "model_name": "attrition-classifier",
    "model_version": "3",
    "batch_id": "9c4e2a7b1d3f4e5a8b6c7d8e9f0a1b2c",
    "rows_per_second": 2350.4,
    "error": None,
    "result_url": f"/v1/score-jobs/{_JOB_ID}/result",
    "issues_url": f"/v1/score-jobs/{_JOB_ID}/issues",
}


class ScoreJobIssue(BaseModel):
    """A rejected or warned-about row of the upload: file line (1 = header), column, why."""

    line: int | None = Field(
        None, description="Line of the file (the header is line 1); null: the whole file"
    )
    column: str | None = None
    severity: Literal["error", "warning"]
    reason: str


class RiskBandCounts(BaseModel):
    low: int = 0
    medium: int = 0
    high: int = 0
    critical: int = 0


class ScoreJob(BaseModel):
    """A scoring job: where it is, what it found, where to download its results."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_JOB]}, protected_namespaces=())

    job_id: str = Field(description="32 lowercase hex characters")
    status: JobStatus
    filename: str = Field(description="The uploaded file's name (path and unsafe characters removed)")
    created_by: str = Field(description="The key or user (`user:<name>`) that uploaded it")
    created_at: dt.datetime
    updated_at: dt.datetime = Field(description="Last heartbeat or progress update (UTC)")
    finished_at: dt.datetime | None = None
    rows_total: int | None = Field(None, description="Data rows counted at upload (lines - 1; approximate)")
    rows_read: int
    progress: float = Field(ge=0, le=1)
    rows_scored: int
    rows_rejected: int
    issue_count: int = Field(description="Every issue found; `issues` shows the first 100")
    issues: list[ScoreJobIssue]
    risk_bands: RiskBandCounts
    high_risk: int = Field(description="Rows in the high and critical bands")
    model_name: str | None = None
    model_version: str | None = None
    batch_id: str | None = Field(None, description="The prediction log's request_id of every scored row")
    rows_per_second: float | None = None
    error: str | None = Field(None, description="Why the job failed (status failed)")
    result_url: str
    issues_url: str

    @field_validator("created_at", "updated_at", "finished_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value
