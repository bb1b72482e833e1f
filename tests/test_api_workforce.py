"""The workforce views end to end: real app, real keys, real app DB (every configured backend).

Employees come from the generator in two snapshots; predictions are written with
``insert_predictions`` so the "latest score" has real choices to make: re-scores, an
older score inserted after a newer one, a same-time tie, unscored employees and
ad-hoc API predictions without snapshot. Every number the API returns is checked
against a count done in pandas on ``load_employees`` and the predictions table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from api_support import Api, running_api

from api.schemas_workforce import EmployeeDetail, EmployeePage, EmployeeSummary, WorkforceSummaryResponse
from attrition.config import HIGH_RISK_BANDS, RISK_BAND_NAMES, Settings
from attrition.data.generator import generate_workforce
from attrition.db.models import ApiKey, Prediction
from attrition.db.repositories import insert_employees, insert_predictions, load_employees
from attrition.db.workforce import TENURE_BANDS
from attrition.keys import create_key, revoke_key
from attrition.schema import ATTRITION_YES, ID_COLUMN, SNAPSHOT_DATE, Col

OLD, NEW = dt.date(2026, 9, 30), dt.date(2026, 10, 31)
T1, T2 = dt.datetime(2026, 10, 1, 6), dt.datetime(2026, 11, 1, 6)
ROWS = 240
UNSCORED = 15  # the last employees of NEW have no score for NEW


@pytest.fixture
def api(empty_env: Settings, db_url: str) -> Iterator[Api]:
    with running_api(empty_env.model_copy(update={"database_url": db_url})) as running:
        yield running


def _prediction(
    number: int, snapshot: dt.date | None, when: dt.datetime, p: float, tag: str
) -> dict[str, Any]:
    band = RISK_BAND_NAMES[min(3, int(p * 4))]
    return {
        "prediction_id": f"{tag}-{number}-{snapshot}",
        "created_at": when,
        "employee_number": number,
        "snapshot_date": snapshot,
        "model_name": "attrition-classifier",
        "model_version": tag,
        "probability": p,
        "threshold": 0.3,
        "label": p >= 0.3,
        "risk_band": band,
        "inputs": {},
        "top_factors": [{"feature": "OverTime", "value": "Yes", "contribution": round(p, 3)}],
        "source": "api" if snapshot is None else "batch",
    }


def _seed(engine: sa.Engine) -> None:
    old = generate_workforce(ROWS, seed=3, snapshot_date=OLD)
    new = generate_workforce(ROWS - 20, seed=4, snapshot_date=NEW)
    insert_employees(engine, old, "test")
    insert_employees(engine, new, "test")
    numbers = new[ID_COLUMN].tolist()
    scored = numbers[:-UNSCORED]
    # Newest first in insertion order: the latest score is chosen by time, not by id.
    rows = [_prediction(n, NEW, T2, ((n * 37) % 100) / 100, "v2") for n in scored]
    rows += [_prediction(n, NEW, T1, 0.99, "v1") for n in scored]  # older: never the latest
    rows += [_prediction(n, OLD, T1, ((n * 53) % 100) / 100, "v1") for n in old[ID_COLUMN]]
    rows += [_prediction(n, None, T2 + dt.timedelta(days=1), 0.97, "adhoc") for n in numbers[:30]]
    insert_predictions(engine, rows)
    # A same-time tie on the first employee: the later row (greater id) wins.
    insert_predictions(engine, [{**_prediction(numbers[0], NEW, T2, 0.05, "tie"), "prediction_id": "tie"}])


@pytest.fixture
def seeded(api: Api) -> Api:
    _seed(api.engine)
    return api


# --- the pandas count ------------------------------------------------------------------------


def _latest(engine: sa.Engine, snapshot: dt.date) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(Prediction.__table__), conn)
    frame = frame[frame["snapshot_date"].notna() & frame["employee_number"].notna()]
    frame = frame[pd.to_datetime(frame["snapshot_date"]).dt.date == snapshot]
    latest = frame.sort_values(["created_at", "id"]).groupby("employee_number").tail(1)
    return latest.assign(employee_number=latest["employee_number"].astype("int64"))


def _expected_frame(engine: sa.Engine, snapshot: dt.date) -> pd.DataFrame:
    people = load_employees(engine, snapshot)
    latest = _latest(engine, snapshot)[["employee_number", "risk_band", "probability", "prediction_id"]]
    merged = people.merge(latest, left_on=ID_COLUMN, right_on="employee_number", how="left")
    edges = [-1] + [high for _, _, high in TENURE_BANDS[:-1]] + [10_000]
    labels = [label for label, _, _ in TENURE_BANDS]
    merged["tenure_band"] = pd.cut(merged[Col.YEARS_AT_COMPANY], bins=edges, labels=labels).astype(str)
    return merged


def _stats(frame: pd.DataFrame) -> dict[str, Any]:
    scored = frame[frame["risk_band"].notna()]
    leavers = int((frame[Col.ATTRITION] == ATTRITION_YES).sum())
    known = int(frame[Col.ATTRITION].notna().sum())
    at_risk = int(scored["risk_band"].isin(HIGH_RISK_BANDS).sum())
    return {
        "headcount": len(frame),
        "leavers": leavers,
        "with_outcome": known,
        "attrition_rate": pytest.approx(leavers / known) if known else None,
        "scored": len(scored),
        "at_risk": at_risk,
        "at_risk_share": pytest.approx(at_risk / len(scored)) if len(scored) else None,
        "risk_bands": {band: int((scored["risk_band"] == band).sum()) for band in RISK_BAND_NAMES},
    }


def _only_stats(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in ("value", "snapshot")}


def _check_summary(body: dict[str, Any], frame: pd.DataFrame) -> None:
    assert _only_stats({k: body[k] for k in _stats(frame)}) == _stats(frame)
    columns = {
        "department": Col.DEPARTMENT,
        "job_role": Col.JOB_ROLE,
        "tenure_band": "tenure_band",
        "overtime": Col.OVERTIME,
        "job_level": Col.JOB_LEVEL,
    }
    for name, column in columns.items():
        got = {g["value"]: _only_stats(g) for g in body["breakdowns"][name]}
        expected = {value: _stats(group) for value, group in frame.groupby(column, observed=True)}
        assert got == expected, name


def test_summary_numbers_equal_a_pandas_count(seeded: Api) -> None:
    headers = seeded.headers("viewer")
    latest = seeded.client.get("/v1/workforce/summary", headers=headers)
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["snapshot"] == NEW.isoformat() and body["snapshots"] == [OLD.isoformat(), NEW.isoformat()]
    new = _expected_frame(seeded.engine, NEW)
    assert body["scored"] == ROWS - 20 - UNSCORED and body["headcount"] == ROWS - 20
    _check_summary(body, new)
    old = _expected_frame(seeded.engine, OLD)
    assert [(t["snapshot"], _only_stats(t)) for t in body["trend"]] == [
        (OLD.isoformat(), _stats(old)),
        (NEW.isoformat(), _stats(new)),
    ]
    older = seeded.client.get("/v1/workforce/summary", params={"snapshot": OLD.isoformat()}, headers=headers)
    _check_summary(older.json(), old)


def test_summary_filters_equal_a_pandas_count(seeded: Api) -> None:
    new = _expected_frame(seeded.engine, NEW)
    cases = [
        ({"department": "Sales"}, new[new[Col.DEPARTMENT] == "Sales"]),
        ({"overtime": "Yes", "job_level": 1}, new[(new[Col.OVERTIME] == "Yes") & (new[Col.JOB_LEVEL] == 1)]),
        ({"job_role": "Manager"}, new[new[Col.JOB_ROLE] == "Manager"]),
        ({"risk_band": "high"}, new[new["risk_band"] == "high"]),
    ]
    for params, frame in cases:
        response = seeded.client.get("/v1/workforce/summary", params=params, headers=seeded.headers("viewer"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert {k: body["filters"][k] for k in params} == params
        _check_summary(body, frame)
        assert len(body["trend"]) == 2


def test_summary_of_an_empty_database(api: Api) -> None:
    body = api.client.get("/v1/workforce/summary", headers=api.headers("viewer")).json()
    assert body["snapshot"] is None and body["headcount"] == 0 and body["attrition_rate"] is None
    assert body["trend"] == [] and body["breakdowns"]["department"] == []
    page = api.client.get("/v1/employees", headers=api.headers("viewer")).json()
    assert page["items"] == [] and page["next_cursor"] is None


# --- the employee list -----------------------------------------------------------------------


def _walk(api: Api, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = api.client.get("/v1/employees", params=query, headers=api.headers("viewer"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= page["limit"]
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_pagination_walks_every_employee_exactly_once_in_order(seeded: Api) -> None:
    new = _expected_frame(seeded.engine, NEW)
    by_risk = _walk(seeded, limit=17)
    numbers = [i["employee_number"] for i in by_risk]
    assert sorted(numbers) == sorted(new[ID_COLUMN]) and len(set(numbers)) == len(numbers)
    keys = [(-(i["score"]["probability"] if i["score"] else -1.0), i["employee_number"]) for i in by_risk]
    assert keys == sorted(keys)
    assert all(i["score"] is None for i in by_risk[-UNSCORED:])
    expected = new.set_index(ID_COLUMN)
    for item in by_risk:
        row = expected.loc[item["employee_number"]]
        assert item["tenure_band"] == row["tenure_band"] and item["department"] == row[Col.DEPARTMENT]
        if item["score"] is not None:
            assert item["score"]["prediction_id"] == row["prediction_id"]
            assert item["score"]["probability"] == pytest.approx(row["probability"])
            assert item["score"]["scored_at"].endswith("Z") or "+00:00" in item["score"]["scored_at"]
    tie = next(i for i in by_risk if i["employee_number"] == int(new[ID_COLUMN].iloc[0]))
    assert tie["score"]["prediction_id"] == "tie"
    by_number = _walk(seeded, sort="employee_number", limit=50, snapshot=OLD.isoformat())
    assert [i["employee_number"] for i in by_number] == sorted(load_employees(seeded.engine, OLD)[ID_COLUMN])
    for item in by_risk[:3] + by_number[:3]:
        EmployeeSummary.model_validate(item)


def test_employee_list_filters(seeded: Api) -> None:
    new = _expected_frame(seeded.engine, NEW)
    items = _walk(seeded, department="Research & Development", risk_band="low", limit=500)
    wanted = new[(new[Col.DEPARTMENT] == "Research & Development") & (new["risk_band"] == "low")]
    assert sorted(i["employee_number"] for i in items) == sorted(wanted[ID_COLUMN])
    assert all(i["score"]["risk_band"] == "low" for i in items)


# --- one employee ----------------------------------------------------------------------------


def test_employee_detail_history_404_and_sample_route(seeded: Api) -> None:
    headers = seeded.headers("viewer")
    number = int(load_employees(seeded.engine, NEW)[ID_COLUMN].iloc[0])
    response = seeded.client.get(f"/v1/employees/{number}", headers=headers)
    assert response.status_code == 200, response.text
    body = EmployeeDetail.model_validate(response.json())
    assert response.json()["records"][0][SNAPSHOT_DATE] == NEW.isoformat()
    assert all(r[ID_COLUMN] == number for r in body.records)
    created = [s.created_at for s in body.scores]
    assert created == sorted(created, reverse=True)
    assert {s.model_version for s in body.scores} >= {"v2", "v1", "tie", "adhoc"}
    missing = seeded.client.get("/v1/employees/1999999999", headers=headers)
    assert missing.status_code == 404 and "1999999999" in missing.json()["error"]
    sample = seeded.client.get("/v1/employees/sample", headers=headers)
    assert sample.status_code == 200 and sample.json()[ID_COLUMN] == 1


# --- bad input, auth, roles ------------------------------------------------------------------


def _field(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {d["field"] for d in response.json()["detail"]}


def test_bad_input_is_a_422_naming_the_field(seeded: Api) -> None:
    get, headers = seeded.client.get, seeded.headers("viewer")
    summary, employees = "/v1/workforce/summary", "/v1/employees"
    assert _field(get(summary, params={"department": "Marketing"}, headers=headers)) == {"department"}
    assert _field(get(summary, params={"snapshot": "2026-13-01"}, headers=headers)) == {"snapshot"}
    not_stored = get(summary, params={"snapshot": "2026-01-31"}, headers=headers)
    assert (
        _field(not_stored) == {"snapshot"} and NEW.isoformat() in not_stored.json()["detail"][0]["expected"]
    )
    assert _field(get(summary, params={"job_level": 9}, headers=headers)) == {"job_level"}
    assert _field(get(summary, params={"risk": "high"}, headers=headers)) == {"risk"}
    assert _field(get(employees, params={"limit": 0}, headers=headers)) == {"limit"}
    assert _field(get(employees, params={"limit": 501}, headers=headers)) == {"limit"}
    assert _field(get(employees, params={"sort": "age"}, headers=headers)) == {"sort"}
    assert _field(get(employees, params={"cursor": "not-a-cursor"}, headers=headers)) == {"cursor"}
    issued = get(employees, params={"limit": 5}, headers=headers).json()["next_cursor"]
    other_sort = get(employees, params={"cursor": issued, "sort": "employee_number"}, headers=headers)
    assert _field(other_sort) == {"cursor"} and "sort=risk" in other_sort.json()["error"]
    assert _field(get("/v1/employees/0", headers=headers)) == {"number"}
    assert _field(get("/v1/employees/abc", headers=headers)) == {"number"}


def test_keys_and_roles(seeded: Api) -> None:
    paths = ["/v1/workforce/summary", "/v1/employees", "/v1/employees/1"]
    for path in paths:
        assert seeded.client.get(path).status_code == 401
        assert seeded.client.get(path, headers={"X-API-Key": "atk_nope_x"}).status_code == 401
        for role in ("viewer", "predictor", "admin"):
            assert seeded.client.get(path, headers=seeded.headers(role)).status_code in (200, 404)
    revoked = create_key(seeded.engine, "revoked", "viewer")
    revoke_key(seeded.engine, "revoked")
    assert seeded.client.get(paths[0], headers={"X-API-Key": revoked}).status_code == 401
    # A key whose role is not (or no longer) one of the ordered roles has no rights.
    stale = create_key(seeded.engine, "stale-role", "viewer")
    with seeded.engine.begin() as conn:
        conn.execute(sa.update(ApiKey).where(ApiKey.name == "stale-role").values(role="guest"))
    refused = seeded.client.get(paths[0], headers={"X-API-Key": stale})
    assert refused.status_code == 403 and "viewer" in refused.json()["error"]


def test_openapi_documents_the_new_calls_with_valid_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in ("/v1/workforce/summary", "/v1/employees", "/v1/employees/{number}", "/v1/employees/sample"):
        assert "get" in spec["paths"][path], path
    params = {p["name"]: p for p in spec["paths"]["/v1/workforce/summary"]["get"]["parameters"]}
    assert set(params) >= {"snapshot", "department", "job_role", "overtime", "job_level", "risk_band"}
    for model in (WorkforceSummaryResponse, EmployeePage, EmployeeSummary, EmployeeDetail):
        for example in model.model_json_schema().get("examples", []):
            model.model_validate(example)


def test_summary_cache_serves_repeats_and_follows_every_write(seeded: Api) -> None:
    """A repeated summary costs one version lookup; an ingest or a new score shows at once, on every replica."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    headers = seeded.headers("viewer")
    statements: list[str] = []
    sa.event.listen(seeded.ctx.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    first = seeded.client.get("/v1/workforce/summary", headers=headers).json()
    computed = len(statements)
    statements.clear()
    assert seeded.client.get("/v1/workforce/summary", headers=headers).json() == first
    summary_statements = [s for s in statements if "api_keys" not in s]  # the key check may run too
    assert len(summary_statements) == 1 and "data_versions" in summary_statements[0], statements
    assert computed > 1

    with TestClient(create_app(seeded.settings)) as replica:
        assert replica.get("/v1/workforce/summary", headers=headers).json() == first  # primes its cache
        joiners = generate_workforce(12, seed=11, snapshot_date=NEW)
        joiners[ID_COLUMN] = joiners[ID_COLUMN] + 900_000
        insert_employees(seeded.engine, joiners, "test")
        for client in (seeded.client, replica):
            body = client.get("/v1/workforce/summary", headers=headers).json()
            assert body["headcount"] == first["headcount"] + 12
            _check_summary(body, _expected_frame(seeded.engine, NEW))
        insert_predictions(seeded.engine, [_prediction(n, NEW, T2, 0.9, "v3") for n in joiners[ID_COLUMN]])
        for client in (seeded.client, replica):
            body = client.get("/v1/workforce/summary", headers=headers).json()
            assert body["scored"] == first["scored"] + 12
            assert body["risk_bands"]["critical"] == first["risk_bands"]["critical"] + 12
        adhoc = {
            **_prediction(int(joiners[ID_COLUMN].iloc[0]), None, T2, 0.1, "adhoc2"),
            "prediction_id": "a2",
        }
        version = seeded.ctx.workforce.snapshots(seeded.engine)[0]
        insert_predictions(seeded.engine, [adhoc])  # no snapshot: not a score the views count
        assert seeded.ctx.workforce.snapshots(seeded.engine)[0] == version
