"""Windows read in columns and scored in chunks give what the plain row-wise path gave.

Plain path: ``pd.read_csv(dtype=str, keep_default_na=False)`` (every value a Python
string), the whole window validated and scored at once, labels stripped row by row.
Fast path: Arrow's column reader with int64 whole-number columns, chunked scoring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest_model import ModelEnv

from attrition.config import MonitoringSettings
from attrition.data.generator import generate_workforce
from attrition.data.validation import validate_frame
from attrition.drift.features import feature_drift
from attrition.drift.windows import DriftInputError, Window, _score, labels_from_target, read_csv_window
from attrition.schema import ID_COLUMN, TARGET
from attrition.serving.loader import Predictor


def _plain_read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")


def _dirty_workforce(rows: int = 600) -> pd.DataFrame:
    frame = generate_workforce(rows, 31).astype(str)
    frame.loc[3, "Age"] = " 41"
    frame.loc[4, "DistanceFromHome"] = "12.0"
    frame.loc[5, "MonthlyIncome"] = ""
    frame.loc[6, "JobLevel"] = "abc"
    frame.loc[7, "Department"] = " Sales"
    frame.loc[8, "JobRole"] = "Astronaut"
    frame.loc[9, "OverTime"] = ""
    frame.loc[10, "YearsAtCompany"] = "-3"
    frame.loc[11, ID_COLUMN] = frame.loc[2, ID_COLUMN]  # a duplicate employee
    frame["Comment"] = ["NA", "null", "", "a, quoted one"] * (rows // 4)
    return frame


def _assert_same_values(fast: pd.DataFrame, plain: pd.DataFrame) -> None:
    """Same columns and rows; an int64 column holds exactly the numbers its text spelt."""
    assert list(fast.columns) == list(plain.columns) and len(fast) == len(plain)
    for column in plain.columns:
        if fast[column].dtype == np.int64:
            assert plain[column].str.fullmatch(r"-?\d+").all(), column
            assert fast[column].tolist() == [int(v) for v in plain[column]], column
        else:
            assert fast[column].dtype == object and fast[column].equals(plain[column]), column


@pytest.mark.parametrize("dirty", [False, True])
def test_columnar_read_equals_the_plain_text_read(tmp_path: Path, dirty: bool) -> None:
    frame = _dirty_workforce() if dirty else generate_workforce(500, 30)
    path = tmp_path / "window.csv"
    frame.to_csv(path, index=False)
    fast, plain = read_csv_window(path, "current"), _plain_read(path)
    _assert_same_values(fast, plain)
    typed = {c for c in fast.columns if fast[c].dtype == np.int64}
    assert {"EmployeeCount", "TotalWorkingYears"} <= typed and "Department" not in typed
    if dirty:  # only the columns holding something other than plain digits stay text
        assert {"Age", "DistanceFromHome", "MonthlyIncome", "JobLevel"}.isdisjoint(typed)
        assert "YearsAtCompany" in typed and fast.loc[10, "YearsAtCompany"] == -3


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfAge,Department\n41,Sales\n",  # byte-order mark
        b"Age,Department\n41,Sal\xe9s\n",  # Latin-1 byte: replaced, as pandas does
        b"Age,Age\n41,42\n",  # duplicate names: pandas renames the second
        b'Age,Department\n41,"Research\nand Development"\n',  # line break inside quotes
        b"Age,Department\n",  # header only
        b"Age,Department\n\n41,Sales\n\n",  # blank lines
        b"Age,Department\n41,Sales,x\n",  # one field too many: pandas makes the first the index
    ],
    ids=["bom", "bad-utf8", "duplicate-names", "quoted-newline", "header-only", "blank-lines", "extra-field"],
)
def test_files_arrow_reads_differently_give_the_plain_frame(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    fast, plain = read_csv_window(path, "current"), _plain_read(path)
    assert list(fast.columns) == list(plain.columns)
    assert fast.astype(str).equals(plain.astype(str))


@pytest.mark.parametrize(
    "content", [b"", b"Age,Department\n41,Sales\n42,Sales,x,y\n"], ids=["empty", "ragged"]
)
def test_unreadable_files_are_input_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DriftInputError, match=r"current CSV .*cannot read"):
        read_csv_window(path, "current")


def test_feature_drift_is_identical_on_the_columnar_and_the_plain_read(tmp_path: Path) -> None:
    reference_path, current_path = tmp_path / "reference.csv", tmp_path / "current.csv"
    generate_workforce(800, 40).to_csv(reference_path, index=False)
    _dirty_workforce(800).to_csv(current_path, index=False)
    settings = MonitoringSettings()
    fast, fast_schema = feature_drift(
        read_csv_window(reference_path, "reference"), read_csv_window(current_path, "current"), settings
    )
    plain, plain_schema = feature_drift(_plain_read(reference_path), _plain_read(current_path), settings)
    assert [f.to_dict() for f in fast] == [f.to_dict() for f in plain]
    assert fast_schema == plain_schema and fast_schema.extra_in_current == ["Comment"]
    age = next(f for f in fast if f.column == "Age")
    assert age.current_out_of_contract_rate == 0.0 and age.current_missing_rate == 0.0  # " 41" reads as 41


def _plain_scores(frame: pd.DataFrame, predictor: Predictor) -> np.ndarray:
    checked = validate_frame(frame)
    probabilities = np.full(len(frame), np.nan)
    probabilities[checked.kept] = predictor.model.predict_proba(checked.valid)
    return probabilities


@pytest.mark.parametrize("chunk_rows", [7, 100, 100_000])
def test_chunked_scoring_equals_scoring_the_whole_window(
    model_env: ModelEnv, tmp_path: Path, chunk_rows: int
) -> None:
    path = tmp_path / "current.csv"
    _dirty_workforce(400).to_csv(path, index=False)
    frame = read_csv_window(path, "current")
    predictor = Predictor.load(model_env.settings)
    window = Window(frame, "current")
    _score(window, predictor, chunk_rows)
    plain = _plain_scores(_plain_read(path), predictor)
    assert window.probabilities is not None
    np.testing.assert_allclose(window.probabilities, plain, rtol=1e-12, atol=0)
    unscored = np.flatnonzero(np.isnan(window.probabilities)).tolist()
    assert {5, 6, 8, 9, 10, 11} <= set(unscored)  # blank, non-number, unknown, negative, duplicate
    assert window.notes == [
        f"{len(unscored)} of 400 rows break the record contract and were not scored "
        "(they still count in the feature drift and data-quality checks)"
    ]


def test_scoring_a_window_without_the_contract_columns_is_skipped_with_a_note(model_env: ModelEnv) -> None:
    window = Window(generate_workforce(50, 3).drop(columns=["Age"]), "current")
    _score(window, Predictor.load(model_env.settings), 20)
    assert window.probabilities is None
    assert len(window.notes) == 1 and window.notes[0].startswith("not scored (")


def _plain_labels(frame: pd.DataFrame) -> np.ndarray | None:
    values = frame[TARGET].astype("string").str.strip()
    if values.isna().any() or not values.isin(["Yes", "No"]).all() or values.nunique() < 2:
        return None
    return (values == "Yes").to_numpy(dtype=float)


@pytest.mark.parametrize(
    "values",
    [
        ["Yes", "No", " Yes", "No "],
        ["No", "No"],
        ["Yes", None, "No"],
        ["Yes", "", "No"],
        ["Yes", "Maybe"],
        [1, 0, 1],
        [True, False],
        [np.nan, "Yes", "No"],
    ],
)
def test_labels_from_target_equal_the_row_by_row_reading(values: list[object]) -> None:
    frame = pd.DataFrame({TARGET: pd.Series(values, dtype=object)})
    fast, plain = labels_from_target(frame), _plain_labels(frame)
    assert (fast is None) == (plain is None)
    if plain is not None:
        assert fast is not None and fast.tolist() == plain.tolist()
