"""ingest_csv and `attrition ingest`: real files into a real database on every backend."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from attrition.cli import app
from attrition.config import Settings
from attrition.data.ingest import REPORT_COLUMNS, IngestError, ingest_csv, summary_lines
from attrition.db.engine import create_db_engine
from attrition.db.models import employees
from attrition.db.repositories import load_employees
from attrition.schema import ALL_COLUMNS, EXAMPLE_RECORD, SNAPSHOT_DATE

DAY = dt.date(2026, 3, 31)


def _row(number: int, **changes: str) -> dict[str, str]:
    return {k: str(v) for k, v in EXAMPLE_RECORD.items()} | {"EmployeeNumber": str(number)} | changes


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(ALL_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
        return list(reader)


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(employees)).scalar_one())


def test_valid_file_fully_stored(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    path = _write(tmp_path / "jan.csv", [_row(n, Age=str(22 + n)) for n in range(1, 39)])

    report = ingest_csv(path, engine, DAY)

    assert (report.rows_read, report.stored, report.already_present, report.rejected_rows) == (38, 38, 0, 0)
    assert report.snapshot_date == DAY and report.issues_path == tmp_path / "jan.rejects.csv"
    assert _report(report.issues_path) == []
    stored = load_employees(engine, DAY)
    assert stored["EmployeeNumber"].tolist() == list(range(1, 39))
    assert stored["Age"].tolist() == [22 + n for n in range(1, 39)]
    assert stored.loc[0, "JobRole"] == EXAMPLE_RECORD["JobRole"]


def test_bad_rows_rejected_good_rows_kept(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    rows = [
        _row(1),
        _row(2, Age=""),  # line 3: missing
        _row(3, DailyRate="abc"),  # line 4: wrong type
        _row(4, JobLevel="9"),  # line 5: outside hard range
        _row(5, Age="63"),  # line 6: outside soft range, kept
        _row(6, Gender="Other"),  # line 7: unknown category
        _row(7, YearsWithCurrManager="9"),  # line 8: hard cross-field (> YearsAtCompany 6)
        _row(8, Age="21"),  # line 9: soft cross-field (TotalWorkingYears 8 > 21 - 14), kept
        _row(1),  # line 10: duplicate of line 2
        _row(10, StandardHours="40"),  # line 11: bad constant, kept
        _row(11),
    ]
    path = _write(tmp_path / "mixed.csv", rows)

    report = ingest_csv(path, engine, DAY)

    issues = {(int(i["row"]), i["column"], i["severity"]): i for i in _report(tmp_path / "mixed.rejects.csv")}
    assert set(issues) == {
        (3, "Age", "error"),
        (4, "DailyRate", "error"),
        (5, "JobLevel", "error"),
        (6, "Age", "warning"),
        (7, "Gender", "error"),
        (8, "YearsWithCurrManager", "error"),
        (9, "TotalWorkingYears", "warning"),
        (10, "EmployeeNumber", "error"),
        (11, "StandardHours", "warning"),
    }
    assert "missing value" in issues[3, "Age", "error"]["reason"]
    assert "got 'abc'" in issues[4, "DailyRate", "error"]["reason"]
    assert issues[4, "DailyRate", "error"]["value"] == "abc"
    assert "between 1 and 5" in issues[5, "JobLevel", "error"]["reason"]
    assert "usual range 18-60" in issues[6, "Age", "warning"]["reason"]
    assert "must be one of Male, Female" in issues[7, "Gender", "error"]["reason"]
    assert "YearsWithCurrManager <= YearsAtCompany" in issues[8, "YearsWithCurrManager", "error"]["reason"]
    assert "already appears on line 2" in issues[10, "EmployeeNumber", "error"]["reason"]
    assert (report.rows_read, report.stored, report.rejected_rows, report.warning_rows) == (11, 5, 6, 3)
    stored = load_employees(engine, DAY)
    assert stored["EmployeeNumber"].tolist() == [1, 5, 8, 10, 11]
    assert stored.set_index("EmployeeNumber").loc[10, "StandardHours"] == 80


def test_reingest_is_idempotent(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    path = _write(tmp_path / "feb.csv", [_row(n) for n in range(1, 26)] + [_row(99, Age="x")])

    first = ingest_csv(path, engine, DAY)
    again = ingest_csv(path, engine, DAY)

    assert (first.stored, first.already_present, first.rejected_rows) == (25, 0, 1)
    assert (again.stored, again.already_present, again.rejected_rows) == (0, 25, 1)
    assert _count(engine) == 25
    assert len(_report(again.issues_path)) == 1  # the report is rewritten, not appended


def test_multi_chunk_line_numbers(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(sqlite_url)
    header = ",".join(ALL_COLUMNS)
    lines = [header] + [",".join(_row(n)[c] for c in ALL_COLUMNS) for n in range(1, 21)]
    lines[7] = lines[7].replace(",Female,", ",Fem,")  # line 8
    lines[11] += ",oops"  # line 12: one field too many
    lines[15] += "," + ",".join(["x"] * 12)  # line 16: far too many fields
    lines[19] = ",".join(_row(3)[c] for c in ALL_COLUMNS)  # line 20: EmployeeNumber 3 again
    lines.insert(5, "")  # blank line 6: skipped, later lines shift by one
    path = tmp_path / "chunked.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_csv(path, engine, DAY, chunk_rows=3)

    rejected = [(int(i["row"]), i["column"]) for i in _report(report.issues_path)]
    assert sorted(rejected) == [(9, "Gender"), (13, ""), (17, ""), (21, "EmployeeNumber")]
    assert "already appears on line 4" in _report(report.issues_path)[-1]["reason"]
    assert (report.rows_read, report.stored, report.rejected_rows) == (20, 16, 4)
    assert _count(engine) == 16


def test_missing_columns_stop_before_storing(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    columns = [c for c in ALL_COLUMNS if c not in ("Age", "OverTime")]
    path = _write(tmp_path / "partial.csv", [_row(1)], columns)

    with pytest.raises(IngestError, match="missing required column\\(s\\): Age, OverTime") as caught:
        ingest_csv(path, engine, DAY)

    assert _count(engine) == 0
    assert caught.value.issues_path == tmp_path / "partial.rejects.csv"
    assert "Age, OverTime" in _report(caught.value.issues_path)[0]["reason"]


def test_extra_columns_warned_and_ignored(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(sqlite_url)
    rows = [_row(n) | {"Salary": "1", "Team": "x"} for n in (1, 2)]
    path = _write(tmp_path / "extra.csv", rows, [*ALL_COLUMNS, "Salary", "Team"])

    report = ingest_csv(path, engine, DAY)

    assert (report.stored, report.rejected_rows) == (2, 0)
    issue = _report(report.issues_path)[0]
    assert (issue["row"], issue["severity"]) == ("", "warning")
    assert "Salary, Team" in issue["reason"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "starts with a blank line"),
        (",".join(str(v) for v in EXAMPLE_RECORD.values()).encode() + b"\n", "no header"),
        (b"Age;Attrition;BusinessTravel\n41;Yes;Travel_Rarely\n", "no header"),
    ],
)
def test_unreadable_files_raise(sqlite_url: str, tmp_path: Path, content: bytes, message: str) -> None:
    engine = create_db_engine(sqlite_url)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(IngestError, match=message):
        ingest_csv(path, engine, DAY)
    assert _count(engine) == 0


def test_missing_file_raises(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest_csv(tmp_path / "nope.csv", create_db_engine(sqlite_url), DAY)


def test_header_only_stores_nothing(sqlite_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", [])

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY)

    assert (report.rows_read, report.stored, report.rejected_rows) == (0, 0, 0)
    assert "no data rows" in _report(report.issues_path)[0]["reason"]


def test_non_utf8_bytes_reject_only_their_rows(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    path = _write(tmp_path / "latin.csv", [_row(n) for n in range(1, 6)])
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"Single", b"Singl\xe9")  # latin-1 e-acute: invalid UTF-8
    path.write_bytes(b"\n".join(lines))

    report = ingest_csv(path, engine, DAY)

    issue = _report(report.issues_path)[0]
    assert (issue["row"], issue["column"], issue["severity"]) == ("4", "MaritalStatus", "error")
    assert "not valid UTF-8" in issue["reason"]
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 2, 4, 5]


def test_utf8_bom_and_crlf_accepted(sqlite_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "excel.csv", [_row(1), _row(2)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY)

    assert (report.stored, report.rejected_rows, report.error_count) == (2, 0, 0)


def test_snapshot_date_from_column_or_argument(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(sqlite_url)
    rows = [_row(1) | {SNAPSHOT_DATE: "2026-01-31"}, _row(1) | {SNAPSHOT_DATE: "2026-02-28"}]
    path = _write(tmp_path / "dated.csv", rows, [*ALL_COLUMNS, SNAPSHOT_DATE])

    from_file = ingest_csv(path, engine, None)
    overridden = ingest_csv(path, engine, DAY)

    assert from_file.snapshot_dates == (dt.date(2026, 1, 31), dt.date(2026, 2, 28))
    assert from_file.stored == 2
    assert overridden.snapshot_date == DAY
    assert (overridden.stored, overridden.rejected_rows) == (1, 1)  # same id twice in one snapshot
    assert "ignored" in _report(overridden.issues_path)[0]["reason"]


def test_snapshot_defaults_to_today(sqlite_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "today.csv", [_row(1)])
    assert ingest_csv(path, create_db_engine(sqlite_url)).snapshot_date == dt.date.today()


def test_report_falls_back_to_reports_dir(sqlite_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "in.csv", [_row(1, Age="x")])
    (tmp_path / "in.rejects.csv").mkdir()  # the report cannot be written beside the input

    report = ingest_csv(path, create_db_engine(sqlite_url), DAY, reports_dir=tmp_path / "reports")

    assert report.issues_path == tmp_path / "reports" / "in.rejects.csv"
    assert _report(report.issues_path)[0]["column"] == "Age"


def test_unmigrated_database_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", [_row(1)])
    engine = create_db_engine(f"sqlite:///{tmp_path / 'blank.db'}")

    with pytest.raises(IngestError, match="attrition db upgrade"):
        ingest_csv(path, engine, DAY)


def test_progress_reports_rows_and_bytes(sqlite_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "p.csv", [_row(n) for n in range(1, 11)])
    calls: list[tuple[int, int]] = []

    ingest_csv(
        path, create_db_engine(sqlite_url), DAY, chunk_rows=4, progress=lambda r, b: calls.append((r, b))
    )

    assert [rows for rows, _ in calls] == [4, 8, 10]
    assert calls[-1][1] == path.stat().st_size


def test_cli_exit_codes(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    good = _write(tmp_path / "good.csv", [_row(1), _row(2, Age="61")])
    bad = _write(tmp_path / "bad.csv", [_row(3), _row(4, Gender="X")])
    broken = _write(tmp_path / "broken.csv", [_row(5)], [c for c in ALL_COLUMNS if c != "Age"])

    ok = runner.invoke(app, ["ingest", str(good), "--snapshot-date", "2026-03-31"])
    rejected = runner.invoke(app, ["ingest", str(bad), "--snapshot-date", "2026-03-31", "--chunk-rows", "1"])
    unreadable = runner.invoke(app, ["ingest", str(broken)])
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv")])

    assert ok.exit_code == 0, ok.output
    assert "stored           2" in ok.output and "with warnings    1 (kept)" in ok.output
    assert "line 3, Age: unusual value" in ok.output
    assert rejected.exit_code == 1, rejected.output
    assert "line 3, Gender: unknown category" in rejected.output
    assert str(tmp_path / "bad.rejects.csv") in rejected.output
    assert unreadable.exit_code == 2 and "missing required column(s): Age" in unreadable.output
    assert missing.exit_code == 2 and "no such file" in missing.output
    engine = create_db_engine(settings.db_url)
    stored = pd.read_sql(sa.select(employees.c.EmployeeNumber), engine)["EmployeeNumber"]
    assert sorted(stored) == [1, 2, 3]


def _lines(numbers: range | list[int]) -> list[str]:
    return [",".join(_row(n)[c] for c in ALL_COLUMNS) for n in numbers]


@pytest.mark.parametrize("chunk_rows", [3, 50_000])
def test_unterminated_quote_keeps_rows_before_and_resumes_after(
    db_url: str, tmp_path: Path, chunk_rows: int
) -> None:
    engine = create_db_engine(db_url)
    after = _lines(range(20, 26))
    after[2] = after[2].replace(",Female,", ",F,")  # line 12: a bad row after the bad line
    lines = [",".join(ALL_COLUMNS), *_lines(range(1, 8)), '"unterminated,1,2', *after]
    path = tmp_path / "quote.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_csv(path, engine, DAY, chunk_rows=chunk_rows)

    issues = _report(report.issues_path)
    assert [(i["row"], i["column"], i["severity"]) for i in issues] == [
        ("9", "", "error"),
        ("12", "Gender", "error"),
    ]
    assert issues[0]["reason"].startswith(
        "malformed CSV: a quoted value opens on this line and is never closed"
    )
    assert "reading resumed on the next line" in issues[0]["reason"]
    assert (report.rows_read, report.stored, report.rejected_rows) == (14, 12, 2)
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 2, 3, 4, 5, 6, 7, 20, 21, 23, 24, 25]


@pytest.mark.parametrize(("where", "bad_line"), [("first", 2), ("last", 5)])
def test_unterminated_quote_on_first_or_last_data_line(
    sqlite_url: str, tmp_path: Path, where: str, bad_line: int
) -> None:
    engine = create_db_engine(sqlite_url)
    good = _lines(range(1, 4))
    lines = [",".join(ALL_COLUMNS), *(['"bad', *good] if where == "first" else [*good, '"bad,1'])]
    path = tmp_path / "edge.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_csv(path, engine, DAY, chunk_rows=2)

    assert [int(i["row"]) for i in _report(report.issues_path)] == [bad_line]
    assert (report.rows_read, report.stored, report.rejected_rows) == (4, 3, 1)
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 2, 3]


def test_huge_value_is_clipped_in_the_report_and_reading_goes_on(sqlite_url: str, tmp_path: Path) -> None:
    """A 200,000-character value (too large for the csv module) neither stops the reading nor fills the report."""
    engine = create_db_engine(sqlite_url)
    big = _lines([5])[0].replace(",Single,", ',"' + "x" * 200_000 + '",')  # line 6: rejected, complete
    plain = _lines([9])[0].replace(",Single,", "," + "y" * 150_000 + ",")  # line 11: read by pandas
    lines = [",".join(ALL_COLUMNS), *_lines(range(1, 5)), big, *_lines([6]), '"bad', *_lines([7, 8]), plain]
    path = tmp_path / "stuck.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_csv(path, engine, DAY, chunk_rows=4)

    issues = {int(i["row"]): i for i in _report(report.issues_path)}
    assert sorted(issues) == [6, 8, 11]
    assert "a value longer than 131,072 characters" in issues[6]["reason"]
    assert issues[11]["column"] == "MaritalStatus" and issues[11]["value"].endswith("(150,000 characters)")
    assert max(len(cell) for i in issues.values() for cell in i.values()) < 1_000
    assert max(len(line) for line in summary_lines(report)) < 1_000
    assert issues[8]["reason"].endswith("reading resumed on the next line")
    assert (report.stored, report.rejected_rows) == (7, 3)
    assert load_employees(engine, DAY)["EmployeeNumber"].tolist() == [1, 2, 3, 4, 6, 7, 8]


def test_reingest_with_changed_values_warns_and_replace_overwrites(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    _write(tmp_path / "mar.csv", [_row(n) for n in range(1, 9)])
    assert ingest_csv(tmp_path / "mar.csv", engine, DAY).stored == 8
    many = {
        "DailyRate": "500",
        "HourlyRate": "50",
        "MonthlyRate": "9000",
        "Education": "4",
        "DistanceFromHome": "9",
    }
    corrected = [_row(n) for n in range(1, 9)]
    corrected[2] = _row(3, MonthlyIncome="6100")  # line 4
    corrected[4] = _row(5, **many)  # line 6: five columns changed
    path = _write(tmp_path / "mar_fixed.csv", corrected)

    kept = ingest_csv(path, engine, DAY, chunk_rows=3)

    assert (kept.stored, kept.already_present, kept.differing, kept.replaced, kept.rejected_rows) == (
        0,
        6,
        2,
        0,
        0,
    )
    issues = _report(kept.issues_path)
    assert [(i["row"], i["column"], i["severity"]) for i in issues] == [
        ("4", "MonthlyIncome", "warning"),
        ("6", "DailyRate", "warning"),
    ]
    assert "MonthlyIncome (stored 5993, file 6100)" in issues[0]["reason"]
    assert "re-ingest with --replace to overwrite" in issues[0]["reason"]
    assert issues[1]["reason"].count("(stored ") == 3 and "and 2 more" in issues[1]["reason"]
    assert (
        "2 rows differ from the stored snapshot; stored values kept — re-ingest with --replace to overwrite"
        in summary_lines(kept)
    )
    stored = load_employees(engine, DAY).set_index("EmployeeNumber")
    assert stored.loc[3, "MonthlyIncome"] == 5993 and stored.loc[5, "DailyRate"] == int(
        EXAMPLE_RECORD["DailyRate"]
    )

    replaced = ingest_csv(path, engine, DAY, replace=True)

    assert (replaced.stored, replaced.already_present, replaced.differing, replaced.replaced) == (0, 6, 0, 2)
    assert "the stored row was replaced" in _report(replaced.issues_path)[0]["reason"]
    stored = load_employees(engine, DAY).set_index("EmployeeNumber")
    assert stored.loc[3, "MonthlyIncome"] == 6100
    assert {c: str(stored.loc[5, c]) for c in many} == many
    assert stored.loc[4, "MonthlyIncome"] == 5993  # identical rows untouched
    with engine.connect() as conn:
        sources = dict(conn.execute(sa.select(employees.c.EmployeeNumber, employees.c.source)).all())
    assert sources[3] == sources[5] == "mar_fixed.csv" and sources[4] == "mar.csv"
    assert _count(engine) == 8

    again = ingest_csv(path, engine, DAY, replace=True)
    assert (again.already_present, again.differing, again.replaced) == (8, 0, 0)


def test_cli_malformed_csv_and_replace(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\n".join([",".join(ALL_COLUMNS), *_lines([1, 2]), '"oops,1,2', *_lines([3])]) + "\n")
    first = _write(tmp_path / "apr.csv", [_row(10), _row(11)])
    fixed = _write(tmp_path / "apr_fixed.csv", [_row(10), _row(11, MonthlyIncome="7000")])
    day = ["--snapshot-date", "2026-04-30"]

    malformed = runner.invoke(app, ["ingest", str(quoted), *day])
    runner.invoke(app, ["ingest", str(first), *day])
    differs = runner.invoke(app, ["ingest", str(fixed), *day])
    replaced = runner.invoke(app, ["ingest", str(fixed), *day, "--replace"])

    assert malformed.exit_code == 1, malformed.output
    assert isinstance(malformed.exception, SystemExit)  # a clean exit, not a ParserError traceback
    assert "error   line 4: malformed CSV: a quoted value opens on this line" in malformed.output
    assert "stored           3" in malformed.output
    assert differs.exit_code == 0, differs.output
    assert "line 3, MonthlyIncome: differs from the stored snapshot 2026-04-30" in differs.output
    assert "1 row differs from the stored snapshot; stored values kept" in differs.output
    assert replaced.exit_code == 0, replaced.output
    assert "replaced         1" in replaced.output
    engine = create_db_engine(settings.db_url)
    stored = load_employees(engine, dt.date(2026, 4, 30)).set_index("EmployeeNumber")
    assert stored.loc[11, "MonthlyIncome"] == 7000


def _planner_rows(engine: sa.Engine, table: str) -> float:
    """PostgreSQL's planner estimate of ``table``'s rows (-1 until the table is first analysed)."""
    with engine.connect() as conn:
        query = sa.text("SELECT reltuples FROM pg_class WHERE relname = :t")
        return float(conn.execute(query, {"t": table}).scalar_one())


def test_ingest_refreshes_postgresqls_planner_statistics(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are refreshed on PostgreSQL only")
    assert _planner_rows(engine, employees.name) <= 0  # a new table: the planner knows nothing
    path = _write(tmp_path / "jan.csv", [_row(n) for n in range(1, 39)])
    assert ingest_csv(path, engine, DAY).stored == 38
    assert _planner_rows(engine, employees.name) == 38
