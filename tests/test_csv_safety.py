"""CSV injection neutralisation: formula-like text cells get a leading quote, numbers and the rest do not."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from attrition.data.csv_safety import FORMULA_STARTS, neutralise_cell, neutralise_frame


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("- 1", "'- 1"),
        ("-0.5", "-0.5"),
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("-.25", "-.25"),
        ("Sales", "Sales"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=already", "'=already"),
    ],
)
def test_cell_starting_a_formula_is_quoted_and_a_number_is_not(value: str, expected: str) -> None:
    assert neutralise_cell(value) == expected


@pytest.mark.parametrize("value", [-0.5, 3, None, True, np.float64(-2.0)])
def test_non_string_cells_are_returned_unchanged(value: object) -> None:
    assert neutralise_cell(value) is value


def test_every_formula_start_is_covered() -> None:
    assert {neutralise_cell(f"{start}cmd") for start in FORMULA_STARTS} == {
        f"'{start}cmd" for start in FORMULA_STARTS
    }


def test_frame_neutralises_text_columns_and_leaves_numbers_and_the_input_alone() -> None:
    frame = pd.DataFrame(
        {
            "name": ["=cmd|' /C calc'!A0", "Ana", "-0.5", None, "@x"],
            "mixed": [1, "+SUM(1)", 2.5, "-3", "x"],
            "score": [-0.5, 0.1, 0.2, -1.0, 0.0],
            "typed": pd.Series(["-x", None, "=y", "ok", "+1"], dtype="string"),
            "flag": [True, False, True, False, True],
        }
    )
    before = frame.copy()

    safe = neutralise_frame(frame)

    assert safe["name"].tolist() == ["'=cmd|' /C calc'!A0", "Ana", "-0.5", None, "'@x"]
    assert safe["mixed"].tolist() == [1, "'+SUM(1)", 2.5, "-3", "x"]
    assert safe["typed"].tolist() == ["'-x", pd.NA, "'=y", "ok", "+1"]
    pd.testing.assert_series_equal(safe["score"], before["score"])
    pd.testing.assert_series_equal(safe["flag"], before["flag"])
    pd.testing.assert_frame_equal(frame, before)  # a copy: the caller's frame is untouched


def test_object_column_without_strings_and_empty_frame_pass_through() -> None:
    frame = pd.DataFrame({"ids": pd.Series([1, 2], dtype=object), "when": [pd.Timestamp("2026-01-01")] * 2})
    pd.testing.assert_frame_equal(neutralise_frame(frame), frame)
    empty = pd.DataFrame({"a": pd.Series([], dtype=object)})
    assert neutralise_frame(empty).empty


def test_repeated_labels_are_handled_by_position() -> None:
    frame = pd.DataFrame([["=a", "-1"], ["b", "=c"]], columns=["x", "x"], index=[0, 0])
    safe = neutralise_frame(frame)
    assert safe.to_numpy().tolist() == [["'=a", "-1"], ["b", "'=c"]]
    assert list(safe.index) == [0, 0] and list(safe.columns) == ["x", "x"]


def test_round_trip_through_csv_text_keeps_numbers_numeric() -> None:
    """What the download does: read as text, neutralise, write; numbers still parse as numbers."""
    text = "id,probability,note\n1,-0.25,=1+1\n2,0.75,fine\n"
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    written = neutralise_frame(frame).to_csv(index=False, lineterminator="\n")
    assert written == "id,probability,note\n1,-0.25,'=1+1\n2,0.75,fine\n"
    assert pd.read_csv(io.StringIO(written))["probability"].tolist() == [-0.25, 0.75]
