"""Every CSV the project writes is safe to open in a spreadsheet; numbers stay numbers.

Formula-like text (``=``, ``+``, ``-``, ``@``, tab, CR first) gets a leading quote; a
cell that is a plain number (``-5``, ``-0.5``) is data and is written as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from api.score_jobs import safe_csv_chunks, write_issues
from attrition.data.ingest import ingest_csv
from attrition.data.validation import Issue
from attrition.db.engine import create_db_engine
from attrition.schema import ALL_COLUMNS, EXAMPLE_RECORD

DAY = dt.date(2026, 3, 31)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _line(**changes: str) -> str:
    values = {c: str(v) for c, v in EXAMPLE_RECORD.items()} | changes
    return ",".join(values[c] for c in ALL_COLUMNS)


def test_rejects_report_neutralises_formulas_and_keeps_negative_numbers(
    sqlite_url: str, tmp_path: Path
) -> None:
    lines = [
        ",".join([*ALL_COLUMNS, "=cmd()"]),
        _line(EmployeeNumber="1", Department='"=HYPERLINK(""http://x"",""y"")"') + ",a",
        _line(EmployeeNumber="2", Age="-5") + ",b",
        _line(EmployeeNumber="3", Gender="@SUM(A1)") + ",c",
        _line(EmployeeNumber="4", MaritalStatus="+Single") + ",d",
    ]
    path = tmp_path / "formulas.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY)

    values = {(r["row"], r["column"]): r for r in _rows(report.issues_path)}
    assert values[("2", "Department")]["value"] == '\'=HYPERLINK("http://x","y")'
    assert values[("3", "Age")]["value"] == "-5"  # a number: data, not a formula
    assert values[("4", "Gender")]["value"] == "'@SUM(A1)"
    assert values[("5", "MaritalStatus")]["value"] == "'+Single"
    extra = next(r for r in values.values() if r["row"] == "")
    assert "=cmd()" in extra["reason"] and not extra["reason"].startswith("=")
    for row in values.values():
        for cell in row.values():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell


def test_score_job_issues_file_is_neutralised_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "issues.csv"
    issues = [
        Issue(2, "=Department", "error", "=1+1 looks like a formula"),
        Issue(3, "Age", "warning", "-2 is below the soft range"),
        Issue(None, None, "error", "@whole file"),
    ]

    write_issues(path, issues)

    rows = _rows(path)
    assert [r["line"] for r in rows] == ["2", "3", ""]
    assert [r["column"] for r in rows] == ["'=Department", "Age", ""]
    assert [r["reason"] for r in rows] == [
        "'=1+1 looks like a formula",
        "'-2 is below the soft range",
        "'@whole file",
    ]


def test_score_job_download_neutralises_text_and_keeps_numbers(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    path.write_text(
        "EmployeeNumber,probability,delta,note\n1,0.25,-0.5,=HYPERLINK(1)\n2,0.5,-1e-3,\tx\n3,1,+3,-inf\n",
        encoding="utf-8",
    )

    text = "".join(safe_csv_chunks(path, rows=2))

    rows = list(csv.DictReader(text.splitlines()))
    assert [r["delta"] for r in rows] == ["-0.5", "-1e-3", "+3"]
    assert [r["note"] for r in rows] == ["'=HYPERLINK(1)", "'\tx", "'-inf"]
    assert [r["probability"] for r in rows] == ["0.25", "0.5", "1"]
