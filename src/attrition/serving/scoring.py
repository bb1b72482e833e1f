"""Batch scoring with the champion: employees snapshot or contract CSV in, predictions out.

Input is processed in chunks (a CSV is streamed, never read whole; a snapshot is paged
out of the database by EmployeeNumber), so memory stays flat for millions of rows. Each chunk is validated (CSV only: the DB holds validated
rows), scored, explained (top factors), written to the ``predictions`` table
(``source="batch"``, one ``request_id`` per batch run) and appended to the output
file (CSV or Parquet, written to a temp name and renamed when complete).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from attrition.config import HIGH_RISK_BANDS, RISK_BAND_NAMES, PredictionSource, Settings
from attrition.data.csv_safety import neutralise_frame
from attrition.data.validation import Issue, SchemaError, SeenKeys, validate_frame
from attrition.db.engine import get_engine, refresh_statistics
from attrition.db.models import Prediction, latest_scores
from attrition.db.repositories import insert_predictions, iter_employees
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE
from attrition.serving.loader import Predictor
from attrition.serving.model import AttritionModel
from attrition.serving.prediction_log import prediction_rows

logger = logging.getLogger(__name__)

SOURCE: PredictionSource = "batch"
#: Bands flagged as high risk in the output and the summary.
DEFAULT_CHUNK_ROWS = 50_000
#: Issues kept in the report (the counts are always complete).
MAX_ISSUES_KEPT = 1000
Progress = Callable[[int, int | None], None]


class ScoringError(Exception):
    """Nothing could be scored (no data, unreadable file, wrong columns); the message says why."""


@dataclass
class ScoreReport:
    """What a batch run did: rows, rejects, risk bands, where the output went."""

    batch_id: str
    model_name: str
    model_version: str
    source: str
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    rows_logged: int = 0
    band_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RISK_BAND_NAMES, 0))
    issues: list[Issue] = field(default_factory=list)
    issue_count: int = 0
    out: Path | None = None
    seconds: float = 0.0

    @property
    def high_risk(self) -> int:
        return sum(self.band_counts.get(b, 0) for b in HIGH_RISK_BANDS)

    @property
    def rows_per_second(self) -> float:
        return self.rows_scored / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_scored": self.rows_scored,
            "rows_rejected": self.rows_rejected,
            "rows_logged": self.rows_logged,
            "band_counts": dict(self.band_counts),
            "high_risk": self.high_risk,
            "issue_count": self.issue_count,
            "out": str(self.out) if self.out else None,
            "seconds": round(self.seconds, 3),
        }


def score_batch(
    settings: Settings,
    *,
    snapshot_date: dt.date | None = None,
    csv: Path | str | None = None,
    out: Path | str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    top_k: int = 3,
    log_predictions: bool = True,
    predictor: Predictor | None = None,
    progress: Progress | None = None,
) -> ScoreReport:
    """Score a snapshot of the ``employees`` table (default: the latest) or a contract CSV.

    Rows failing validation are reported in ``ScoreReport.issues`` and skipped; the
    rest are scored. Raises ScoringError when there is nothing to score at all, and
    serving.ModelNotAvailable when there is no champion.
    """
    if csv is not None and snapshot_date is not None:
        raise ScoringError("give either a snapshot date or a CSV file, not both")
    out_path = _check_out(out)
    predictor = predictor or Predictor.load(settings)
    engine = get_engine(settings.db_url) if log_predictions else None
    source = f"csv:{Path(csv).name}" if csv is not None else f"employees@{snapshot_date or 'latest'}"
    report = ScoreReport(
        uuid.uuid4().hex, predictor.model_name, predictor.model_version, source, out=out_path
    )
    started = time.perf_counter()
    chunks = (
        _csv_chunks(Path(csv), chunk_rows, report)
        if csv is not None
        else _db_chunks(settings, snapshot_date, chunk_rows, report)
    )
    writer = _OutputWriter(out_path) if out_path else None
    try:
        for records in chunks:
            if records.empty:
                continue
            _score_into(report, predictor, records, top_k, engine, writer)
            if progress is not None:
                progress(report.rows_read, None)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    report.seconds = time.perf_counter() - started
    if engine is not None and report.rows_logged:
        for table in (Prediction.__tablename__, latest_scores.name):  # both filled by the log writes
            refresh_statistics(engine, table)
    _log_summary(report)
    return report


def _score_into(
    report: ScoreReport,
    predictor: Predictor,
    records: pd.DataFrame,
    top_k: int,
    engine: sa.Engine | None,
    writer: _OutputWriter | None,
) -> None:
    """Score one chunk: log it, append it to the output, count it in ``report``."""
    scored = _score_chunk(predictor, records, top_k)
    if engine is not None:
        report.rows_logged += insert_predictions(
            engine, prediction_rows(predictor, records, scored, source=SOURCE, request_id=report.batch_id)
        )
    if writer is not None:
        writer.write(_output_frame(records, scored, top_k))
    report.rows_scored += len(scored)
    for band, count in Counter(scored["risk_band"]).items():
        report.band_counts[band] = report.band_counts.get(band, 0) + count


def _log_summary(report: ScoreReport) -> None:
    if report.rows_scored == 0 and report.rows_read > 0:
        logger.warning("batch %s: all %d rows were rejected", report.batch_id, report.rows_read)
    logger.info(
        "batch %s: %d scored, %d rejected, %d high risk, %.0f rows/s",
        report.batch_id,
        report.rows_scored,
        report.rows_rejected,
        report.high_risk,
        report.rows_per_second,
    )


# --- input -----------------------------------------------------------------------------------


def _db_chunks(
    settings: Settings, snapshot_date: dt.date | None, chunk_rows: int, report: ScoreReport
) -> Iterator[pd.DataFrame]:
    """The snapshot page by page (keyset pagination in the database), never loaded whole."""
    # Without a date the latest snapshot is fixed once, so every page comes from the same one.
    empty = True
    for chunk in iter_employees(get_engine(settings.db_url), snapshot_date, chunk_rows):
        empty = False
        report.rows_read += len(chunk)
        yield chunk
    if empty:
        which = f"snapshot {snapshot_date}" if snapshot_date else "any snapshot"
        raise ScoringError(
            f"no employees stored for {which}: ingest a file first (`attrition ingest FILE`) or score a CSV (--csv)"
        )


def _csv_chunks(path: Path, chunk_rows: int, report: ScoreReport) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise ScoringError(f"CSV file not found: {path}")
    seen = SeenKeys()
    line = 2  # line 1 is the header
    try:
        reader = pd.read_csv(
            path, dtype=str, keep_default_na=False, chunksize=chunk_rows, encoding_errors="replace"
        )
        for raw in reader:
            try:
                result = validate_frame(raw, first_row_number=line, seen=seen)
            except SchemaError as exc:
                raise ScoringError(f"{path.name}: {exc}") from exc
            line += len(raw)
            report.rows_read += len(raw)
            report.rows_rejected += result.rejected_rows
            report.issue_count += len(result.issues)
            room = MAX_ISSUES_KEPT - len(report.issues)
            if room > 0:
                report.issues.extend(result.issues[:room])
            yield result.valid
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
        raise ScoringError(f"{path.name}: cannot read as CSV ({exc})") from exc


# --- scoring and output ----------------------------------------------------------------------


def _score_chunk(predictor: Predictor, records: pd.DataFrame, top_k: int) -> pd.DataFrame:
    scored = predictor.model.predict(records)
    scored["top_factors"] = (
        top_factors(predictor.model, records, top_k) if top_k > 0 else [[] for _ in range(len(records))]
    )
    return scored


def top_factors(model: AttritionModel, records: pd.DataFrame, top_k: int) -> list[list[dict[str, Any]]]:
    """What ``AttritionModel.explain`` returns (same factors, order and fields), vectorised.

    ``explain`` reads one cell at a time, which is fine for an API request and slow for a
    million rows; here the ranking is one argsort over the whole chunk.
    """
    contributions = model.contributions(records).values
    values = contributions.to_numpy(dtype=np.float64)
    columns = [str(c) for c in contributions.columns]
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top_k]
    picked = np.take_along_axis(values, order, axis=1)
    raw = [records[c].tolist() for c in columns]
    return [
        [
            {
                "feature": columns[i],
                "value": raw[i][row],
                "contribution": float(v),
                "direction": "raises" if v > 0 else "lowers",
            }
            for i, v in zip(order[row].tolist(), picked[row].tolist(), strict=True)
        ]
        for row in range(len(values))
    ]


def factor_text(factor: dict[str, Any]) -> str:
    """One factor for a spreadsheet cell: ``OverTime=Yes (+12.3 pts)``."""
    return f"{factor['feature']}={factor['value']} ({factor['contribution'] * 100:+.1f} pts)"


def _output_frame(records: pd.DataFrame, scored: pd.DataFrame, top_k: int) -> pd.DataFrame:
    frame = pd.DataFrame({ID_COLUMN: records[ID_COLUMN].to_numpy()})
    if SNAPSHOT_DATE in records:
        frame[SNAPSHOT_DATE] = pd.to_datetime(records[SNAPSHOT_DATE]).dt.date.to_numpy()
    frame["probability"] = scored["probability"].to_numpy()
    frame["label"] = scored["label"].to_numpy(dtype=bool)
    frame["risk_band"] = scored["risk_band"].to_numpy()
    frame["high_risk"] = frame["risk_band"].isin(HIGH_RISK_BANDS)
    factors = scored["top_factors"].tolist()
    for i in range(top_k):
        frame[f"top_factor_{i + 1}"] = [factor_text(f[i]) if len(f) > i else None for f in factors]
    return frame


def _check_out(out: Path | str | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ScoringError(f"output file must end in .csv or .parquet, got {path.name!r}")
    return path


class _OutputWriter:
    """Appends chunks to a CSV or Parquet file under a temp name; ``close`` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.partial")
        self.parquet = path.suffix.lower() == ".parquet"
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._started = False
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table)
        else:
            neutralise_frame(frame).to_csv(
                self.tmp, mode="a" if self._started else "w", header=not self._started, index=False
            )
        self._started = True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if not self._started:  # nothing scored: still leave a valid, empty file
            self.write(_output_frame_empty())
            if self._writer is not None:
                self._writer.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def _output_frame_empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            ID_COLUMN: pd.Series(dtype="int64"),
            "probability": pd.Series(dtype="float64"),
            "label": pd.Series(dtype=bool),
            "risk_band": pd.Series(dtype=object),
            "high_risk": pd.Series(dtype=bool),
        }
    )
