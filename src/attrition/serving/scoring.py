"""Batch scoring with the champion: employees snapshot or contract CSV in, predictions out.

Input is processed in chunks (a CSV is streamed, never read whole; a snapshot is paged
out of the database by EmployeeNumber), so memory stays flat for millions of rows. Each
chunk is validated (CSV only: the DB holds validated rows), scored, explained (top
factors, when asked), written to the ``predictions`` table (``source="batch"``, one
``request_id`` per batch run; one bulk write per chunk) and appended to the output file
(CSV or Parquet, written to a temp name and renamed when complete). Every step works on
the chunk's arrays, not row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from attrition.config import HIGH_RISK_BANDS, RISK_BAND_NAMES, PredictionSource, Settings
from attrition.data.csv_safety import neutralise_frame
from attrition.data.validation import Issue, SchemaError, SeenKeys, validate_frame
from attrition.db.engine import get_engine, refresh_statistics
from attrition.db.models import Prediction, latest_scores
from attrition.db.repositories import gc_paused, insert_predictions, iter_employees
from attrition.schema import ID_COLUMN, SNAPSHOT_DATE
from attrition.serving.loader import Predictor
from attrition.serving.model import AttritionModel
from attrition.serving.prediction_log import json_fragments, prediction_columns

logger = logging.getLogger(__name__)

SOURCE: PredictionSource = "batch"
#: Bands flagged as high risk in the output and the summary.
DEFAULT_CHUNK_ROWS = 50_000
#: Top factors per prediction unless asked otherwise (``--factors``).
DEFAULT_FACTORS = 3
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
    top_k: int = DEFAULT_FACTORS,
    log_predictions: bool = True,
    predictor: Predictor | None = None,
    progress: Progress | None = None,
) -> ScoreReport:
    """Score a snapshot of the ``employees`` table (default: the latest) or a contract CSV.

    Rows failing validation are reported in ``ScoreReport.issues`` and skipped; the
    rest are scored. Raises ScoringError when there is nothing to score at all, and
    serving.ModelNotAvailable when there is no champion. ``top_k`` factors per record (0: none,
    and no SHAP cost). A snapshot's predictions log their employees key, not a copy of the row.
    """
    if top_k < 0:
        raise ScoringError(f"top factors: expected 0 or more, got {top_k}")
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
            with gc_paused():  # the chunk's arrays and texts hold no cycles
                _score_into(report, predictor, records, top_k, engine, writer, inputs_stored=csv is None)
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
    inputs_stored: bool,
) -> None:
    """Score one chunk: log it, append it to the output, count it in ``report``.

    Column-wise all the way (predict, rank factors, pack, bulk-write, Arrow out): no Python
    object per row but the ids and texts the log stores. Factors only when ``top_k`` > 0.
    """
    scored = predictor.model.predict(records)
    factors = TopFactors.of(predictor.model, records, top_k) if top_k > 0 else None
    if engine is not None:
        logged = prediction_columns(
            predictor,
            records,
            scored,
            source=SOURCE,
            request_id=report.batch_id,
            factors=factors.json() if factors is not None else None,
            inputs_stored=inputs_stored,
        )
        report.rows_logged += insert_predictions(engine, logged)
    if writer is not None:
        writer.write(_output_table(records, scored, factors, top_k))
    report.rows_scored += len(scored)
    for band, count in scored["risk_band"].value_counts().items():
        report.band_counts[str(band)] = report.band_counts.get(str(band), 0) + int(count)


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


@dataclass(frozen=True)
class TopFactors:
    """Each record's top factors as arrays, ranked once per chunk (what ``AttritionModel.explain`` says).

    ``order[r, j]`` is the input column of record ``r``'s ``j``-th factor, ``contribution``
    its signed contribution (probability points) and ``values[j][r]`` the record's value.
    The log's JSON, the output file's texts and the API's dicts are built from these.
    """

    columns: list[str]
    order: np.ndarray
    contribution: np.ndarray
    values: list[list[Any]]
    source: pd.DataFrame = field(repr=False, compare=False)

    @classmethod
    def of(cls, model: AttritionModel, records: pd.DataFrame, top_k: int) -> TopFactors:
        """Rank every record's contributions (one argsort over the chunk) and keep the ``top_k`` largest."""
        contributions = model.contributions(records).values
        matrix = contributions.to_numpy(dtype=np.float64)
        columns = [str(c) for c in contributions.columns]
        order = np.argsort(-np.abs(matrix), axis=1, kind="stable")[:, :top_k]
        picked = np.take_along_axis(matrix, order, axis=1)
        cells = [np.empty(len(records), dtype=object) for _ in range(order.shape[1])]
        for i, column in enumerate(columns):
            hit = order == i
            if hit.any():
                raw = np.empty(len(records), dtype=object)
                raw[:] = records[column].tolist()  # Python values, as the record holds them
                for j, cell in enumerate(cells):
                    cell[hit[:, j]] = raw[hit[:, j]]
        return cls(columns, order, picked, [cell.tolist() for cell in cells], records)

    def __len__(self) -> int:
        return int(self.order.shape[0])

    def lists(self) -> list[list[dict[str, Any]]]:
        """The factors as ``explain`` gives them: a list of dicts per record."""
        rows: list[list[dict[str, Any]]] = [[] for _ in range(len(self))]
        for j in range(self.order.shape[1]):
            names = [self.columns[i] for i in self.order[:, j].tolist()]
            for row, name, value, amount in zip(
                rows, names, self.values[j], self.contribution[:, j].tolist(), strict=True
            ):
                direction = "raises" if amount > 0 else "lowers"
                row.append({"feature": name, "value": value, "contribution": amount, "direction": direction})
        return rows

    def json(self) -> list[str]:
        """Each record's factors as JSON text that decodes to ``lists()``'s, joined in Arrow."""
        size, ranks = len(self), []
        # Column i's fragment of record r sits at i * size + r: one take per rank picks them.
        fragments = json_fragments(self.source, self.columns)
        stacked = pa.concat_arrays([fragments[c] for c in self.columns]) if self.columns else None
        names = pa.array([json.dumps(c) for c in self.columns], type=pa.string())
        for j in range(self.order.shape[1]):
            columns = self.order[:, j]
            amounts = self.contribution[:, j]
            ranks.append(
                pc.binary_join_element_wise(
                    '{"feature":',
                    pc.take(names, pa.array(columns)),
                    ',"value":',
                    pc.take(stacked, pa.array(columns * size + np.arange(size))),
                    ',"contribution":',
                    _number_texts(amounts),
                    ',"direction":',
                    pc.if_else(pa.array(amounts > 0), '"raises"', '"lowers"'),
                    "}",
                    "",
                )
            )
        if not ranks:
            return ["[]"] * size
        body = pc.binary_join_element_wise(*ranks, ",")
        return cast(list[str], pc.binary_join_element_wise("[", body, "]", "").to_pylist())

    def texts(self, rank: int) -> list[str | None]:
        """The ``rank``-th factor of every record for a spreadsheet cell (:func:`factor_text`)."""
        if rank >= self.order.shape[1]:
            return [None] * len(self)
        names = [self.columns[i] for i in self.order[:, rank].tolist()]
        points = (self.contribution[:, rank] * 100).tolist()
        return [f"{n}={v} ({p:+.1f} pts)" for n, v, p in zip(names, self.values[rank], points, strict=True)]


def _number_texts(amounts: np.ndarray) -> pa.Array:
    """Floats as JSON numbers that read back as the same floats (``2.0``, not ``2``)."""
    if not np.isfinite(amounts).all():  # NaN and infinities as json.dumps names them
        return pa.array([json.dumps(a) for a in amounts.tolist()], type=pa.string())
    texts = pc.cast(pa.array(amounts), pa.string())  # shortest text that round-trips
    whole = pc.match_substring_regex(texts, r"^-?[0-9]+$")
    return pc.if_else(whole, pc.binary_join_element_wise(texts, ".0", ""), texts)


def top_factors(model: AttritionModel, records: pd.DataFrame, top_k: int) -> list[list[dict[str, Any]]]:
    """What ``AttritionModel.explain`` returns (same factors, order and fields), vectorised."""
    return TopFactors.of(model, records, top_k).lists()


def factor_text(factor: dict[str, Any]) -> str:
    """One factor for a spreadsheet cell: ``OverTime=Yes (+12.3 pts)``."""
    return f"{factor['feature']}={factor['value']} ({factor['contribution'] * 100:+.1f} pts)"


def _output_table(
    records: pd.DataFrame, scored: pd.DataFrame, factors: TopFactors | None, top_k: int
) -> pa.Table:
    """The output rows of a chunk as an Arrow table, straight from the arrays (one type per column)."""
    bands = scored["risk_band"].to_numpy(dtype=object)
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array(records[ID_COLUMN].to_numpy(dtype=np.int64))}
    if SNAPSHOT_DATE in records:
        days = pd.to_datetime(records[SNAPSHOT_DATE]).dt.date
        columns[SNAPSHOT_DATE] = pa.array(days.tolist(), type=pa.date32())
    columns["probability"] = pa.array(scored["probability"].to_numpy(dtype=np.float64))
    columns["label"] = pa.array(scored["label"].to_numpy(dtype=bool))
    columns["risk_band"] = pa.array(bands.tolist(), type=pa.string())
    columns["high_risk"] = pa.array(np.isin(bands, list(HIGH_RISK_BANDS)))
    for rank in range(top_k):
        texts = factors.texts(rank) if factors is not None else [None] * len(records)
        columns[f"top_factor_{rank + 1}"] = pa.array(texts, type=pa.string())
    return pa.table(columns)


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
        self._started = False
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if self.parquet:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table)
        else:
            neutralise_frame(table.to_pandas()).to_csv(
                self.tmp, mode="a" if self._started else "w", header=not self._started, index=False
            )
        self._started = True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if not self._started:  # nothing scored: still leave a valid, empty file
            self.write(pa.Table.from_pandas(_output_frame_empty(), preserve_index=False))
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
