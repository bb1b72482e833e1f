"""One implementation of the record rules: the API and the ingest warn (and refuse) alike.

The same records go to ``POST /v1/predict`` (TestClient, real champion, real app DB)
and to ``validate_frame`` as a CSV delivers them (every value a string). The API's
``field`` / ``expected`` / ``received`` must be what ``record_warnings`` says, and the
ingest's column and sentence must be the same rule's, field by field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from api_support import Api, running_api
from conftest_model import ModelEnv

from api.schemas import EXAMPLE_REQUEST
from attrition.data.rules import RecordIssue
from attrition.data.validation import Issue, record_errors, record_warnings, validate_frame
from attrition.schema import ID_COLUMN

RECORD = dict(EXAMPLE_REQUEST)
#: Age 20 allows at most 6 working years; the example has 8 (6 of them at the company).
YOUNG = {"Age": 20}
CASES = [
    pytest.param({"MonthlyIncome": 25_000}, {"MonthlyIncome"}, id="soft-range"),
    pytest.param(YOUNG, {"TotalWorkingYears"}, id="soft-cross-field"),
    pytest.param({"Department": "Research & Development"}, {"Department"}, id="role-department"),
    pytest.param({}, set(), id="clean"),
    pytest.param(
        {"Age": 17, "MonthlyIncome": 900, "NumCompaniesWorked": 12, "JobRole": "Research Director"},
        {"Age", "MonthlyIncome", "NumCompaniesWorked", "TotalWorkingYears", "Department"},
        id="several",
    ),
]


@pytest.fixture
def api(champion_env: ModelEnv) -> Iterator[Api]:
    with running_api(champion_env.settings) as running:
        yield running


def _as_csv(*records: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{k: str(v) for k, v in r.items()} for r in records])


def _api_view(issues: list[RecordIssue]) -> list[dict[str, Any]]:
    return [
        {"field": i.column, "expected": i.expected, "received": i.received, "index": None} for i in issues
    ]


def _ingest_view(issues: list[RecordIssue] | list[Issue]) -> list[tuple[str | None, str]]:
    return sorted((i.column, i.reason) for i in issues)


@pytest.mark.parametrize(("changes", "fields"), CASES)
def test_api_and_ingest_warn_alike(api: Api, changes: dict[str, Any], fields: set[str]) -> None:
    record = {**RECORD, **changes}
    response = api.client.post("/v1/predict", json=record, headers=api.headers())
    assert response.status_code == 200, response.text
    warned = response.json()["warnings"]
    expected = record_warnings(record)

    assert {w["field"] for w in warned} == fields
    assert warned == _api_view(expected)
    ingest = validate_frame(_as_csv(record))
    assert len(ingest.valid) == 1 and ingest.errors == []
    assert _ingest_view(ingest.warnings) == _ingest_view(expected)


def test_batch_warns_per_record_as_the_ingest_does(api: Api) -> None:
    records = [{**RECORD, **p.values[0], ID_COLUMN: n} for n, p in enumerate(CASES, start=1)]
    response = api.client.post("/v1/predict/batch", json={"records": records}, headers=api.headers())
    assert response.status_code == 200, response.text
    ingest = validate_frame(_as_csv(*records), first_row_number=0)
    for row, (record, prediction) in enumerate(zip(records, response.json()["predictions"], strict=True)):
        assert prediction["warnings"] == _api_view(record_warnings(record))
        assert _ingest_view([i for i in ingest.warnings if i.row == row]) == _ingest_view(
            record_warnings(record)
        )
    assert sum(bool(p["warnings"]) for p in response.json()["predictions"]) == 4


def test_api_and_ingest_refuse_broken_tenure_alike(api: Api) -> None:
    record = {**RECORD, "YearsInCurrentRole": 9, "YearsWithCurrManager": 7}  # 6 years at the company
    response = api.client.post("/v1/predict", json=record, headers=api.headers())
    assert response.status_code == 422
    broken = record_errors(record)
    assert [i.column for i in broken] == ["YearsInCurrentRole", "YearsWithCurrManager"]
    assert response.json()["detail"] == _api_view(broken)
    ingest = validate_frame(_as_csv(record))
    assert ingest.valid.empty and _ingest_view(ingest.errors) == _ingest_view(broken)
