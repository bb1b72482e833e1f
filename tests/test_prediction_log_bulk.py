"""The prediction log's bulk path: the rows it writes read back exactly as the plain rows do.

"Plain" is how the log wrote before: one dict per prediction (``prediction_rows``, factors
as dicts from ``AttritionModel.explain``), inserted with a SQLAlchemy Core executemany.
"Bulk" is batch scoring's path: ``prediction_columns`` (factors as JSON text, inputs packed
or, for a snapshot, only the key) through ``insert_predictions`` (COPY / fast_executemany /
executemany). On every backend the readers (``query_predictions``, ``predictions_frame``,
``get_prediction``) must not tell them apart.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest_model import ModelEnv

from attrition.db.engine import create_db_engine
from attrition.db.models import Prediction, pack_inputs, unpack_inputs
from attrition.db.repositories import (
    PredictionColumns,
    get_prediction,
    insert_employees,
    insert_predictions,
    predictions_frame,
    query_predictions,
)
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SNAPSHOT_DATE
from attrition.serving.loader import Predictor
from attrition.serving.prediction_log import (
    new_prediction_ids,
    pack_frame,
    prediction_columns,
    prediction_rows,
)
from attrition.serving.scoring import TopFactors, factor_text

_PREDICTIONS = cast(sa.Table, Prediction.__table__)
#: Fields that differ by construction between two writes of the same predictions.
_PER_WRITE = ("id", "prediction_id", "request_id", "created_at")
ROWS = 40


@pytest.fixture
def predictor(model_env: ModelEnv) -> Predictor:
    return Predictor(model_env.settings.model_name, model_env.version, model_env.result.model)


def _records(model_env: ModelEnv, source: str) -> pd.DataFrame:
    records = model_env.employees.head(ROWS).reset_index(drop=True)
    if source != "snapshot":
        records = records.drop(columns=[SNAPSHOT_DATE])
    return records.drop(columns=["Attrition"])


def _write_plain(engine: sa.Engine, predictor: Predictor, records: pd.DataFrame, source: str) -> None:
    scored = predictor.predict_frame(records, top_k=3)
    given: pd.DataFrame | list[dict[str, Any]] = records
    if source == "api":  # the API logs the request's dicts
        given = [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in records.to_dict("records")
        ]
    rows = prediction_rows(predictor, given, scored, source="batch", request_id="plain", caller="key-1")
    for row in rows:
        row["snapshot_date"] = row["snapshot_date"] if source == "snapshot" else None
    with engine.begin() as conn:
        conn.execute(_PREDICTIONS.insert(), rows)


def _write_bulk(engine: sa.Engine, predictor: Predictor, records: pd.DataFrame, source: str) -> int:
    scored = predictor.model.predict(records)
    factors = TopFactors.of(predictor.model, records, 3).json()
    if source == "api":  # the API's entries go through the log as dicts
        rows = prediction_rows(
            predictor,
            records,
            scored.assign(top_factors=[json.loads(f) for f in factors]),
            source="batch",
            request_id="bulk",
            caller="key-1",
        )
        return insert_predictions(engine, rows)
    columns = prediction_columns(
        predictor,
        records,
        scored,
        source="batch",
        request_id="bulk",
        factors=factors,
        inputs_stored=source == "snapshot",
        caller="key-1",
    )
    return insert_predictions(engine, columns)


def _by_employee(rows: list[dict[str, Any]], run: str) -> dict[int, dict[str, Any]]:
    return {
        r["employee_number"]: {k: v for k, v in r.items() if k not in _PER_WRITE}
        for r in rows
        if r["request_id"] == run
    }


@pytest.mark.parametrize("source", ["snapshot", "csv", "api"])
def test_bulk_rows_read_back_as_the_plain_rows(
    db_url: str, model_env: ModelEnv, predictor: Predictor, source: str
) -> None:
    engine = create_db_engine(db_url)
    records = _records(model_env, source)
    if source == "snapshot":
        insert_employees(engine, model_env.employees.head(ROWS), "test")
    _write_plain(engine, predictor, records, source)
    assert _write_bulk(engine, predictor, records, source) == ROWS

    rows, total = query_predictions(engine, limit=1000)
    assert total == 2 * ROWS
    plain, bulk = _by_employee(rows, "plain"), _by_employee(rows, "bulk")
    assert len(plain) == ROWS and plain == bulk
    one = bulk[int(records[ID_COLUMN].iloc[0])]
    assert one["inputs"] == {
        c: records[c].iloc[0].item() if hasattr(records[c].iloc[0], "item") else records[c].iloc[0]
        for c in RECORD_COLUMNS
    }
    assert len(one["top_factors"]) == 3 and one["caller"] == "key-1"

    frame = predictions_frame(engine)
    ids = {r["prediction_id"]: r["request_id"] for r in rows}
    frame["run"] = frame["prediction_id"].map(ids)
    halves = [
        frame[frame["run"] == run]
        .drop(columns=["prediction_id", "created_at", "run"])
        .sort_values(ID_COLUMN)
        .reset_index(drop=True)
        for run in ("plain", "bulk")
    ]
    pd.testing.assert_frame_equal(halves[0], halves[1])
    assert list(halves[0].columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)

    for row in rows[:4]:
        stored = get_prediction(engine, row["prediction_id"])
        assert stored is not None and stored == row
    engine.dispose()


def test_a_snapshot_score_stores_its_key_not_a_copy(
    db_url: str, model_env: ModelEnv, predictor: Predictor
) -> None:
    engine = create_db_engine(db_url)
    insert_employees(engine, model_env.employees.head(ROWS), "test")
    _write_bulk(engine, predictor, _records(model_env, "snapshot"), "snapshot")
    _write_bulk(engine, predictor, _records(model_env, "csv"), "csv")
    with engine.connect() as conn:
        raw = conn.execute(
            sa.select(_PREDICTIONS.c.snapshot_date, sa.type_coerce(_PREDICTIONS.c.inputs, sa.Text))
        ).all()
    assert sorted(text is None for _day, text in raw) == [False] * ROWS + [True] * ROWS
    packed = [text for _day, text in raw if text is not None]
    assert all(text.startswith("[") for text in packed)  # the contract's keys are not stored per row
    assert all(len(json.loads(text)) == len(RECORD_COLUMNS) for text in packed)
    engine.dispose()


def test_a_retried_write_fails_whole_and_stores_nothing_twice(
    db_url: str, model_env: ModelEnv, predictor: Predictor
) -> None:
    engine = create_db_engine(db_url)
    records = _records(model_env, "csv")
    columns = prediction_columns(
        predictor, records, predictor.model.predict(records), source="batch", request_id="r"
    )
    assert insert_predictions(engine, columns) == ROWS
    with pytest.raises(sa.exc.IntegrityError):
        insert_predictions(engine, columns)  # a retry after a lost acknowledgement
    fresh = PredictionColumns(
        {
            **columns.values,
            "prediction_id": [*columns.values["prediction_id"][:1], *new_prediction_ids(ROWS - 1)],
        },
        columns.constant,
        ROWS,
    )
    with pytest.raises(sa.exc.IntegrityError):
        insert_predictions(engine, fresh)  # one stored id in the chunk: the whole chunk is refused
    assert query_predictions(engine, limit=1)[1] == ROWS
    engine.dispose()


def test_factors_as_arrays_json_and_text_are_explains(model_env: ModelEnv) -> None:
    model = model_env.result.model
    records = _records(model_env, "csv").head(200)
    factors = TopFactors.of(model, records, 4)
    expected = model.explain(records, top_k=4)
    assert factors.lists() == expected
    assert [json.loads(text) for text in factors.json()] == expected
    for rank in range(4):
        assert factors.texts(rank) == [factor_text(f[rank]) for f in expected]
    assert TopFactors.of(model, records, 0).json() == ["[]"] * len(records)


def test_packed_inputs_round_trip_and_the_frame_packing_equals_the_record_packing(
    model_env: ModelEnv,
) -> None:
    records = _records(model_env, "csv")
    dicts = records.to_dict("records")
    assert pack_frame(records) == [pack_inputs(r) for r in dicts]
    assert [unpack_inputs(t) for t in pack_frame(records)] == dicts
    assert unpack_inputs(pack_inputs({"EmployeeNumber": 7})) == {"EmployeeNumber": 7}  # partial: as given
    with pytest.raises(ValueError, match=f"expected {len(RECORD_COLUMNS)} values"):
        unpack_inputs("[1, 2]")
    ids = new_prediction_ids(1000)
    assert len(set(ids)) == 1000 and all(len(i) == 36 and i[14] == "7" and i[19] in "89ab" for i in ids)


def test_text_with_tabs_newlines_and_backslashes_round_trips(db_url: str) -> None:
    """COPY's text format escapes them; every backend must read back what was given."""
    engine = create_db_engine(db_url)
    odd = 'a\\b\tc\nd\re "q" é'
    row = {
        "prediction_id": new_prediction_ids(1)[0],
        "employee_number": None,
        "model_name": "attrition-classifier",
        "model_version": "1",
        "probability": 0.1 + 0.2,
        "threshold": 1 / 3,
        "label": True,
        "risk_band": "high",
        "inputs": {ID_COLUMN: 5, "note": odd},
        "top_factors": [{"feature": "Age", "value": odd, "contribution": -1e-7, "direction": "lowers"}],
        "source": "api",
        "request_id": odd[:60],
        "caller": odd,
    }
    insert_predictions(engine, [row])
    stored = get_prediction(engine, row["prediction_id"])
    assert stored is not None
    assert {k: stored[k] for k in row} == row
    engine.dispose()
