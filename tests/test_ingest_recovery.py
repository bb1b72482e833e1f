"""Ingest recovers from stray quotes and embedded newlines without losing a readable row."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings
from attrition.data.ingest import REPORT_COLUMNS, IngestError, ingest_csv
from attrition.db.engine import create_db_engine
from attrition.db.repositories import load_employees
from attrition.jobs.ingest import IngestRequest, ingest
from attrition.schema import ALL_COLUMNS, EXAMPLE_RECORD

DAY = dt.date(2026, 3, 31)
HEADER = ",".join(ALL_COLUMNS)


def _line(number: int) -> str:
    return ",".join(str(number) if c == "EmployeeNumber" else str(EXAMPLE_RECORD[c]) for c in ALL_COLUMNS)


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
        return list(reader)


def _stray(line: str) -> str:
    """A line with a stray quote opening its MaritalStatus value (never closed on the line)."""
    return line.replace(",Single,", ',"Single,')


@pytest.mark.parametrize("chunk_rows", [50_000, 64])
def test_two_stray_quotes_lose_only_their_own_lines(sqlite_url: str, tmp_path: Path, chunk_rows: int) -> None:
    """The review's case: a quote opened on line 101 and another on 901 of a 1,000-row file."""
    lines = [HEADER, *(_line(n) for n in range(1, 1001))]
    lines[100], lines[900] = _stray(lines[100]), _stray(lines[900])  # file lines 101 and 901
    path = tmp_path / "hris.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = create_db_engine(sqlite_url)

    report = ingest_csv(path, engine, DAY, chunk_rows=chunk_rows)

    assert (report.rows_read, report.stored, report.rejected_rows) == (1000, 998, 2)
    issues = _report(report.issues_path)
    assert [int(i["row"]) for i in issues] == [101, 901]
    assert all("stray" in i["reason"] and "resumed on the next line" in i["reason"] for i in issues)
    assert max(len(cell) for i in issues for cell in i.values()) < 1_000
    stored = load_employees(engine, DAY)["EmployeeNumber"].tolist()
    assert stored == [n for n in range(1, 1001) if n not in (100, 900)]


@pytest.mark.slow
def test_ten_stray_quotes_in_a_large_file(sqlite_url: str, tmp_path: Path) -> None:
    """200,000 rows with 10 stray quotes: exactly the 10 lines are rejected (the review lost 70,785)."""
    bad = {2 + k * 19_999 for k in range(10)}  # file lines
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "\n")
        for n in range(1, 200_001):
            handle.write((_stray(_line(n)) if n + 1 in bad else _line(n)) + "\n")

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY)

    assert (report.rows_read, report.stored, report.rejected_rows) == (200_000, 199_990, 10)
    assert sorted(int(i["row"]) for i in _report(report.issues_path)) == sorted(bad)


def test_quotes_closing_lines_later_do_not_swallow_the_rows_between(sqlite_url: str, tmp_path: Path) -> None:
    """A stray quote on line 3 "closed" by another on line 6: lines 4-5 are rows of their own."""
    lines = [HEADER, *(_line(n) for n in range(1, 9))]
    lines[2] = _stray(lines[2])
    lines[5] = lines[5].replace(",Single,", ',Single",')
    path = tmp_path / "pair.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = create_db_engine(sqlite_url)

    report = ingest_csv(path, engine, DAY, chunk_rows=3)

    issues = {int(i["row"]): i for i in _report(report.issues_path)}
    assert sorted(issues) == [3, 6]
    assert "stray" in issues[3]["reason"]
    assert issues[6]["column"] == "MaritalStatus"  # a literal quote inside a value: an unknown category
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 3, 4, 6, 7, 8]


def test_runs_of_unreadable_lines_are_one_issue_with_their_range(sqlite_url: str, tmp_path: Path) -> None:
    lines = [HEADER, _line(1), '"a', '"b', '"c', _line(2)]
    path = tmp_path / "run.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY)

    issues = _report(report.issues_path)
    assert [i["row"] for i in issues] == ["3"]
    assert "lines 3-5 were skipped" in issues[0]["reason"]
    assert (report.rows_read, report.stored, report.rejected_rows) == (5, 2, 3)


def test_multiline_value_in_an_extra_column_is_kept(sqlite_url: str, tmp_path: Path) -> None:
    """A quoted note spanning lines (outside the contract) is one row, numbered by its first line."""
    lines = [
        HEADER + ",Notes",
        _line(1) + ',"first line\nsecond line"',
        _line(2) + ",plain",
        _line(3) + ',"open note',  # never closes within a plausible length: line 5 rejected
        *(_line(n) + ",x" for n in range(4, 12)),
    ]
    lines[-1] = lines[-1].replace(",Single,", ",Single?,")  # line 13: a bad row, its line number right
    path = tmp_path / "notes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = create_db_engine(sqlite_url)

    report = ingest_csv(path, engine, DAY)

    issues = [(i["row"], i["column"]) for i in _report(report.issues_path) if i["severity"] == "error"]
    assert issues == [("5", ""), ("13", "MaritalStatus")]
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 2, *range(4, 11)]


def test_nul_byte_and_lone_carriage_return_reject_only_their_lines(sqlite_url: str, tmp_path: Path) -> None:
    lines = [HEADER, *(_line(n) for n in range(1, 6))]
    lines[2] = lines[2].replace(",Sales,", ",Sales\x00x,")  # pandas would cut the value at the NUL
    lines[4] = lines[4].replace(",Single,", ",Sin\rgle,")
    path = tmp_path / "nul.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    engine = create_db_engine(sqlite_url)

    report = ingest_csv(path, engine, DAY)

    issues = {int(i["row"]): i for i in _report(report.issues_path)}
    assert sorted(issues) == [3, 5]
    assert issues[3]["column"] == "Department"
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 3, 5]


BINARY = {
    "xlsx": b"PK\x03\x04" + bytes(range(256)) * 8,
    "gzip": gzip.compress(b"a,b\n1,2\n" * 100),
    "random": os.urandom(4096).replace(b"\n", b"\r"),
    "elf": b"\x7fELF\x02\x01\x01\x00" + bytes(512),
    "utf16": (HEADER + "\n").encode("utf-16"),
}


@pytest.mark.parametrize("kind", list(BINARY))
def test_binary_file_is_a_clear_error(settings: Settings, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"export.{kind}"
    path.write_bytes(BINARY[kind])

    with pytest.raises(IngestError, match=r"is not a CSV text file: it looks like .*expected UTF-8"):
        ingest_csv(path, create_db_engine(settings.db_url), DAY)
    outcome = ingest(settings, IngestRequest(path, DAY))
    assert outcome.exit_code == 2 and str(path) in (outcome.error or "")

    result = CliRunner().invoke(app, ["ingest", str(path), "--snapshot-date", "2026-03-31"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert "is not a CSV text file" in result.output
