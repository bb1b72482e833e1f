"""The prediction log: every prediction reaches the ``predictions`` table, off the request path.

``prediction_rows`` builds the rows of a request (dicts: the queue, the spill and
feedback read them); ``prediction_columns`` builds the same rows column-wise for a
batch-scoring chunk (inputs packed once, or only the employees key for a snapshot;
factors as JSON text), which ``insert_predictions`` writes in one bulk call. ``submit``
only appends to a bounded in-process queue; a background thread writes the queue in
batches (``insert_predictions``) every ``flush_interval`` seconds or as soon as
``batch_size`` entries wait.

Durability rules:

* **Database down**: a failed batch goes back to the front of the queue and is
  retried with exponential back-off (up to ``max_backoff`` seconds); one warning
  is logged when the outage starts and one info line when writing resumes.
* **Bound hit**: the queue holds at most ``max_entries`` entries waiting to be
  written (plus the one batch being written). When it is full the **oldest**
  waiting entry is dropped: the newest predictions are the ones monitoring and
  feedback need. Every drop is counted (``stats.dropped``); the first drop of an
  episode is logged as an error, then one line per 1,000 drops.
* **Duplicates / bad rows**: a batch rejected with an integrity or data error is
  retried row by row; a row whose ``prediction_id`` is already stored (a retry
  after a lost commit acknowledgement) is skipped, another bad row is counted
  in ``stats.rejected`` and logged by prediction id only.
* **Spill** (with ``spill_dir``): while the database is down, the writer moves
  what waits to an fsynced local file every ``flush_interval`` (before each
  retry too), so answered predictions survive a shutdown and a crash. When the
  database takes a write again the spill is replayed first, skipping ids already
  stored (idempotent), then deleted; a new log adopts the files a dead process
  left and replays them at start (``prediction_spill``). Past ``spill_max_bytes``
  new entries are dropped and counted (``stats.dropped``).
* **Shutdown**: ``close`` stops accepting entries and writes everything that
  waits; if the database stays down for ``drain_timeout`` seconds the rest goes
  to the spill (without one, the lost count is logged as an error).
* **kill -9** loses at most what is in memory: the predictions answered since the
  last flush (``flush_interval``), plus, when the database just failed, those
  answered while the failing write waited for it (at most the connect timeout).

Log lines name prediction ids and counts, never employee attributes. The queue
is per process: with several API workers each has its own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from attrition.config import PredictionSource, Settings
from attrition.db.models import pack_inputs, utcnow
from attrition.db.repositories import (
    PredictionColumns,
    get_prediction,
    insert_predictions,
    stored_prediction_ids,
)
from attrition.schema import ID_COLUMN, RECORD_COLUMNS, SNAPSHOT_DATE
from attrition.serving.prediction_spill import Spill

if TYPE_CHECKING:
    from attrition.serving.loader import Predictor

logger = logging.getLogger(__name__)

Entry = Mapping[str, Any]
_ROW_ERRORS = (sa_exc.IntegrityError, sa_exc.DataError)


def prediction_rows(
    predictor: Predictor,
    records: pd.DataFrame | Sequence[Mapping[str, Any]],
    scored: pd.DataFrame | Mapping[str, Sequence[Any]],
    *,
    source: PredictionSource,
    request_id: str | None,
    caller: str | None = None,
) -> list[dict[str, Any]]:
    """The ``predictions`` rows of scored records, one per record, for a frame or a few dicts.

    ``scored`` holds ``probability``, ``label``, ``risk_band`` and optionally
    ``top_factors`` per record (``Predictor.predict_frame``'s columns). ``inputs`` are
    the record's contract columns (no outcome); ``created_at`` is now, when it was
    predicted, not when the log gets to write it; ``caller`` who asked (key or user name).
    """
    inputs, numbers, snapshots = _record_columns(records)
    factors = _values(scored["top_factors"]) if "top_factors" in scored else [None] * len(inputs)
    name, version, threshold, now = (
        predictor.model_name,
        predictor.model_version,
        predictor.threshold,
        utcnow(),
    )
    return [
        {
            "prediction_id": str(uuid.uuid4()),
            "created_at": now,
            "employee_number": number,
            "snapshot_date": snapshot,
            "model_name": name,
            "model_version": version,
            "probability": float(probability),
            "threshold": threshold,
            "label": bool(label),
            "risk_band": str(band),
            "inputs": record,
            "top_factors": top,
            "source": source,
            "request_id": request_id,
            "caller": caller[:128] if caller else None,
        }
        for number, snapshot, record, probability, label, band, top in zip(
            numbers,
            snapshots,
            inputs,
            _values(scored["probability"]),
            _values(scored["label"]),
            _values(scored["risk_band"]),
            factors,
            strict=True,
        )
    ]


def prediction_columns(
    predictor: Predictor,
    records: pd.DataFrame,
    scored: pd.DataFrame,
    *,
    source: PredictionSource,
    request_id: str | None,
    factors: Sequence[str | None] | None = None,
    inputs_stored: bool = False,
    caller: str | None = None,
) -> PredictionColumns:
    """:func:`prediction_rows` of a whole chunk, column by column: the same stored rows, no dict per row.

    ``factors`` are each record's top factors as JSON text (``scoring.TopFactors.json``),
    None for none. ``inputs_stored``: the records are rows of the ``employees`` table
    (snapshot scoring), so only their key is logged and the inputs are read back from there;
    otherwise they are packed once here (:func:`pack_frame`).
    """
    size = len(records)
    missing = [None] * size
    values: dict[str, list[Any]] = {
        "prediction_id": new_prediction_ids(size),
        "employee_number": records[ID_COLUMN].tolist() if ID_COLUMN in records else missing,
        "snapshot_date": records[SNAPSHOT_DATE].tolist() if SNAPSHOT_DATE in records else missing,
        "probability": scored["probability"].to_numpy(dtype=float).tolist(),
        "label": scored["label"].to_numpy(dtype=bool).tolist(),
        "risk_band": scored["risk_band"].astype(str).tolist(),
        "inputs": missing if inputs_stored else pack_frame(records),
        "top_factors": list(factors) if factors is not None else missing,
    }
    constant = {
        "created_at": utcnow(),
        "model_name": predictor.model_name,
        "model_version": predictor.model_version,
        "threshold": predictor.threshold,
        "source": source,
        "request_id": request_id,
        "caller": caller[:128] if caller else None,
    }
    return PredictionColumns(values, constant, size)


def new_prediction_ids(count: int) -> list[str]:
    """``count`` time-ordered (version 7, RFC 9562) UUIDs as text, from one read of the OS's random source.

    The first 48 bits are the time in milliseconds, the other 74 random: as unique as
    version 4, but a chunk's ids sort after the ones already stored, so each lands at the
    end of the unique index instead of on a random page of it (SQLite wrote 2x faster
    at a million rows).
    """
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    millis = time.time_ns() // 1_000_000
    raw[:, :6] = np.frombuffer(millis.to_bytes(6, "big"), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70  # version 7
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC variant
    text = raw.tobytes().hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def pack_frame(records: pd.DataFrame) -> list[str]:
    """``models.pack_inputs`` of every record of a frame, joined column-wise in Arrow (no Python loop per row)."""
    columns = [c for c in RECORD_COLUMNS if c in records.columns]
    if len(columns) < len(RECORD_COLUMNS):  # not the whole contract: the object form, row by row
        return [cast(str, pack_inputs(r)) for r in records[columns].to_dict("records")]
    fragments = json_fragments(records, RECORD_COLUMNS)
    body = pc.binary_join_element_wise(*(fragments[c] for c in RECORD_COLUMNS), ",")
    return cast(list[str], pc.binary_join_element_wise("[", body, "]", "").to_pylist())


def json_fragments(records: pd.DataFrame, columns: Sequence[str]) -> dict[str, pa.Array]:
    """Each value of each column as JSON text (``json.dumps`` of the Python value; null for missing)."""
    return {c: _column_fragments(records[c]) for c in columns}


def _column_fragments(column: pd.Series) -> pa.Array:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":  # numpy ints: no missing values
        return pc.cast(pa.array(column.to_numpy()), pa.string())
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = [_fragment(u) for u in uniques.tolist()] + ["null"]
    return pc.take(pa.array(texts, type=pa.string()), pa.array(np.where(codes < 0, len(texts) - 1, codes)))


def _fragment(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "null"
    return json.dumps(value.item() if hasattr(value, "item") else value)


def _record_columns(records: pd.DataFrame | Sequence[Mapping[str, Any]]) -> tuple[list[Any], ...]:
    """(inputs, employee numbers, snapshot dates) per record; a frame column-wise, dicts one by one."""
    if isinstance(records, pd.DataFrame):
        missing = [None] * len(records)
        columns = [c for c in RECORD_COLUMNS if c in records.columns]
        numbers = records[ID_COLUMN].tolist() if ID_COLUMN in records else missing
        snapshots = records[SNAPSHOT_DATE].tolist() if SNAPSHOT_DATE in records else missing
        return records[columns].to_dict("records"), numbers, snapshots
    inputs = [{c: r[c] for c in RECORD_COLUMNS if c in r} for r in records]
    return inputs, [r.get(ID_COLUMN) for r in records], [r.get(SNAPSHOT_DATE) for r in records]


def _values(column: Sequence[Any]) -> list[Any]:
    return column.tolist() if isinstance(column, pd.Series) else list(column)


@dataclass
class LogStats:
    """Counters of the log since start (read by the metrics endpoint)."""

    submitted: int = 0
    written: int = 0
    dropped: int = 0
    rejected: int = 0
    duplicates: int = 0
    failed_flushes: int = 0
    spilled: int = 0
    replayed: int = 0
    refused: int = 0  # predictions not made because the queue had no room (the caller retries)
    last_error: str | None = None
    db_available: bool = True


class PredictionLog:
    """Bounded queue + writer thread; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_entries: int = 100_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_backoff: float = 5.0,
        drain_timeout: float = 10.0,
        spill_dir: Path | None = None,
        spill_max_bytes: int = 200_000_000,
    ) -> None:
        if max_entries < 1 or batch_size < 1:
            raise ValueError("max_entries and batch_size must be at least 1")
        self.engine = engine
        self.max_entries = max_entries
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.drain_timeout = drain_timeout
        self.stats = LogStats()
        self._queue: deque[Entry] = deque()
        self._inflight: list[Entry] = []
        self._reserved = 0  # room promised by reserve() to predictions not yet submitted
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.spill = Spill(spill_dir, spill_max_bytes) if spill_dir is not None else None
        self._retry_at = 0.0  # while down: monotonic time of the next write attempt

    @classmethod
    def from_settings(cls, engine: sa.Engine, settings: Settings) -> PredictionLog:
        """The API's log: sizes, flush interval and spill directory from ``settings.serving``."""
        serving = settings.serving
        return cls(
            engine,
            max_entries=serving.log_queue_max,
            batch_size=serving.log_batch_size,
            flush_interval=serving.log_flush_interval_seconds,
            spill_dir=serving.log_spill_dir or settings.data_dir / "prediction_spill",
            spill_max_bytes=serving.log_spill_max_bytes,
        )

    # -- producer side -------------------------------------------------------------

    def start(self) -> PredictionLog:
        """Adopt the spill files a dead process left, start the writer thread (idempotent)."""
        if self._thread is None:
            if self.spill is not None:
                with self._cond:
                    self.spill.adopt()
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()
        return self

    def submit(self, entry: Entry) -> None:
        """Queue one entry; never blocks on the database."""
        self.submit_many((entry,))

    def submit_many(self, entries: Sequence[Entry]) -> None:
        """Queue several entries at once (a batch prediction)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("prediction log is closed")
            self._queue.extend(entries)
            self.stats.submitted += len(entries)
            self._trim()
            if len(self._queue) >= self.batch_size and self.stats.db_available:
                self._cond.notify()

    @contextmanager
    def reserve(self, count: int) -> Iterator[bool]:
        """Room for ``count`` more entries, held until the block ends; yields False (counted as
        refused) when there is none.

        The API reserves before it predicts and submits inside the block: a prediction that
        would be answered and then dropped is refused instead (503 + Retry-After), so a client
        sending faster than the writer keeps up is slowed down rather than silently losing its
        log rows. Concurrent requests cannot overshoot the bound between check and submit.
        """
        with self._cond:
            room = len(self._queue) + self._reserved + count <= self.max_entries
            if room:
                self._reserved += count
            else:
                self.stats.refused += count
        try:
            yield room
        finally:
            if room:
                with self._cond:
                    self._reserved -= count

    @property
    def depth(self) -> int:
        """Entries not yet written (waiting + being written + spilled)."""
        with self._cond:
            return len(self._queue) + len(self._inflight) + self._spilled()

    def _spilled(self) -> int:
        return self.spill.count if self.spill is not None else 0

    def find_pending(self, prediction_id: str) -> Entry | None:
        """An entry still waiting to be written, by prediction id (feedback right after predict).

        A spilled entry comes back as its id and employee number only.
        """
        with self._cond:
            for entry in (*self._inflight, *self._queue):
                if entry.get("prediction_id") == prediction_id:
                    return entry
            if self.spill is not None and prediction_id in self.spill.ids:
                return {"prediction_id": prediction_id, "employee_number": self.spill.ids[prediction_id]}
        return None

    def knows_employee(self, employee_number: int) -> bool:
        """Does an entry not yet written (waiting or spilled) score ``employee_number``?"""
        with self._cond:
            if any(e.get("employee_number") == employee_number for e in (*self._inflight, *self._queue)):
                return True
            return self.spill is not None and employee_number in self.spill.ids.values()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written; False on timeout (database down)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
        while time.monotonic() < deadline:
            if self.depth == 0:
                return True
            with self._cond:
                self._cond.notify_all()
            time.sleep(0.01)
        return self.depth == 0

    def close(self) -> None:
        """Stop accepting entries, write what waits (up to ``drain_timeout``), stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(self.drain_timeout + self.max_backoff + 1.0)
            self._thread = None
        else:
            self._drain_inline()
        with self._cond:
            self._spill_queue()
            kept, lost = self._spilled(), len(self._queue) + len(self._inflight)
            if self.spill is not None:
                self.spill.close()
        if kept:
            logger.warning(
                "prediction log closed with %d entries in the spill (database unavailable: %s); "
                "they are written at the next start",
                kept,
                self.stats.last_error,
            )
        if lost:
            logger.error(
                "prediction log closed with %d entries unwritten (database unavailable: %s)",
                lost,
                self.stats.last_error,
            )

    # -- writer side ---------------------------------------------------------------

    def _trim(self) -> None:
        """Drop the oldest waiting entries beyond the bound (called with the lock held).

        Reserved submissions never get here with excess (``reserve`` kept room for them); a
        failed write putting its batch back while the database is down can.
        """
        excess = len(self._queue) - self.max_entries
        for _ in range(max(0, excess)):
            self._queue.popleft()
            self.stats.dropped += 1
            if self.stats.dropped % 1000 == 1:
                cause = (
                    "the writer is slower than the predictions"
                    if self.stats.db_available
                    else f"database unavailable: {self.stats.last_error}"
                )
                logger.error(
                    "prediction log full (%d entries waiting, %s): dropping the oldest entries, %d dropped so far",
                    self.max_entries,
                    cause,
                    self.stats.dropped,
                )

    def _take_batch(self) -> list[Entry]:
        with self._cond:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._inflight = batch
            return batch

    def _settle(self, batch: list[Entry], ok: bool) -> None:
        with self._cond:
            self._inflight = []
            if not ok:
                self._queue.extendleft(reversed(batch))
                self._trim()

    def _run(self) -> None:
        backoff = 0.0
        deadline: float | None = None
        while True:
            with self._cond:
                if self._closing:
                    pass  # drain without waiting
                elif not self.stats.db_available:  # spill every interval; retry on the back-off
                    self._cond.wait(
                        timeout=min(self.flush_interval, max(0.0, self._retry_at - time.monotonic()))
                    )
                elif len(self._queue) < self.batch_size and not self._spilled():
                    self._cond.wait(timeout=self.flush_interval)
                closing, empty = self._closing, not self._queue and not self._spilled()
            if closing and deadline is None:
                deadline = time.monotonic() + self.drain_timeout
            if empty:
                if closing:
                    return
                continue
            if not self.stats.db_available:
                with self._cond:
                    self._spill_queue()  # durable before the (possibly slow) next attempt
                if time.monotonic() < self._retry_at and not closing:
                    continue
            if self._replay() and self._flush_once():
                backoff = 0.0
            else:
                backoff = min(max(2 * backoff, 0.1), self.max_backoff)
                self._retry_at = time.monotonic() + backoff
                with self._cond:
                    self._spill_queue()
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if deadline is not None:  # closing: no wait above, so pace the attempts here
                    time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))

    def _drain_inline(self) -> None:
        deadline = time.monotonic() + self.drain_timeout
        if self.spill is not None:
            self.spill.adopt()
        while (self._queue or self._spilled()) and time.monotonic() < deadline:
            if not (self._replay() and self._flush_once()):
                time.sleep(0.1)

    def _spill_queue(self) -> None:
        """Move what waits to the spill (with the lock held); entries past its bound are dropped."""
        if self.spill is None or not self._queue:
            return
        waiting = list(self._queue)
        try:
            kept = self.spill.append(waiting)
        except OSError as error:  # a full or failing disk: they stay in memory
            logger.error("cannot spill %d predictions (%s); they wait in memory", len(waiting), error)
            return
        self._queue.clear()
        self.stats.spilled += kept
        refused = len(waiting) - kept
        if refused:
            first = (
                self.stats.dropped == 0
                or self.stats.dropped // 1000 != (self.stats.dropped + refused) // 1000
            )
            self.stats.dropped += refused
            if first:
                logger.error(
                    "prediction spill full (%d bytes): dropping %d new predictions, %d dropped so far",
                    self.spill.max_bytes,
                    refused,
                    self.stats.dropped,
                )

    def _replay(self) -> bool:
        """Write the spilled entries (skipping those already stored), then delete the spill."""
        if self.spill is None or not self.spill.count:
            return True
        try:
            for batch in self.spill.batches(self.batch_size):
                stored = stored_prediction_ids(self.engine, [str(e.get("prediction_id")) for e in batch])
                fresh: list[Entry] = [e for e in batch if str(e.get("prediction_id")) not in stored]
                self.stats.duplicates += len(batch) - len(fresh)
                if fresh:
                    self._write(fresh)
                    self.stats.replayed += len(fresh)
        except Exception as error:  # the database failed again: keep the spill, retry later
            self._mark_down(error)
            return False
        self._mark_up()  # before the spill empties: a flush() that sees depth 0 sees the log up
        with self._cond:
            self.spill.clear()
        return True

    def _flush_once(self) -> bool:
        """Write one batch; True when the queue moved forward."""
        batch = self._take_batch()
        if not batch:
            return True
        try:
            self._write(batch)
        except Exception as error:  # any database failure means "retry later"
            self._settle(batch, ok=False)
            self._mark_down(error)
            return False
        self._settle(batch, ok=True)
        self._mark_up()
        return True

    def _write(self, batch: list[Entry]) -> None:
        try:
            insert_predictions(self.engine, batch)
            self.stats.written += len(batch)
        except _ROW_ERRORS:
            self._write_rows(batch)

    def _write_rows(self, batch: list[Entry]) -> None:
        """Row by row after a batch was refused: skip duplicates, count bad rows."""
        for entry in batch:
            try:
                insert_predictions(self.engine, [entry])
                self.stats.written += 1
            except _ROW_ERRORS as error:
                if self._stored(str(entry.get("prediction_id"))):
                    self.stats.duplicates += 1
                    continue
                self.stats.rejected += 1
                logger.error(
                    "prediction %s rejected by the database (%s); not retried",
                    entry.get("prediction_id"),
                    type(error.orig).__name__ if error.orig is not None else type(error).__name__,
                )

    def _stored(self, prediction_id: str) -> bool:
        return get_prediction(self.engine, prediction_id) is not None

    def _mark_down(self, error: Exception) -> None:
        self.stats.failed_flushes += 1
        self.stats.last_error = _describe(error)
        if self.stats.db_available:
            logger.warning(
                "prediction log cannot write to the database (%s); %d entries wait and will be retried",
                self.stats.last_error,
                self.depth,
            )
        self.stats.db_available = False

    def _mark_up(self) -> None:
        if not self.stats.db_available:
            logger.info("prediction log writes again; %d entries still waiting", self.depth)
        self.stats.db_available = True
        self.stats.last_error = None


def _describe(error: Exception) -> str:
    """A short, attribute-free description of a database error (no SQL, no parameters)."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(orig or error).__name__}: {first[:200]}"
