"""Score jobs: an uploaded contract CSV scored in the background, its state kept on disk.

Each job is a folder ``<data_dir>/score_jobs/<job_id>/`` (0700, files 0600: the upload
holds personal data) with ``input.csv`` (the upload), ``result.csv`` (what
``score_batch`` writes), ``issues.csv`` and ``status.json`` (replaced atomically: temp
file + ``os.replace``). Every API process sharing the data dir can answer for any job,
and finished jobs survive a restart.

Jobs run one at a time on a single-thread executor in the API process (scoring a file
never takes the threads requests need), through ``attrition.serving.scoring.score_batch``
(the code of ``attrition score --csv``), with the API's served model. A heartbeat thread
rewrites ``updated_at`` of every queued or running job of this process every
``HEARTBEAT_SECONDS``; a queued/running job whose heartbeat is older than
``STALE_SECONDS`` belonged to a process that died and is reported failed. At shutdown
queued jobs are marked failed and the running one stops after its current chunk.

Log lines name job ids and counts, never file content (rows hold employee attributes).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from api.lifecycle import ModelHolder
from attrition.config import RISK_BAND_NAMES, Settings
from attrition.data.csv_safety import neutralise_frame
from attrition.data.validation import Issue
from attrition.serving.scoring import ScoreReport, ScoringError, score_batch

logger = logging.getLogger(__name__)

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
_JOB_ID = re.compile(JOB_ID_PATTERN)
#: A queued/running job whose heartbeat is older than this is reported failed.
STALE_SECONDS = 120.0
HEARTBEAT_SECONDS = 15.0
#: Rows per scoring chunk: progress is reported (and a shutdown noticed) after each.
CHUNK_ROWS = 10_000
ISSUES_SHOWN = 100
STOPPED = "the API stopped while this job ran; upload the file again"
ACTIVE = frozenset({"queued", "running"})
INPUT, RESULT, ISSUES, STATUS = "input.csv", "result.csv", "issues.csv", "status.json"
ISSUE_COLUMNS = ("line", "column", "severity", "reason")
_DOWNLOAD_ROWS = 20_000


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _age_seconds(moment: str | None) -> float:
    if not moment:
        return float("inf")
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(moment)).total_seconds()


def valid_job_id(job_id: str) -> bool:
    return bool(_JOB_ID.fullmatch(job_id))


def safe_filename(name: str | None) -> str:
    """The upload's base name, without path, control or header-breaking characters (max 120)."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^\w.\- ]", "_", base).strip(" .")[:120]
    return cleaned or "upload.csv"


class JobStore:
    """Job folders under ``root``: create, read (with the stale rule), update, purge."""

    def __init__(self, root: Path, retention_hours: float, stale_seconds: float = STALE_SECONDS) -> None:
        self.root = root
        self.retention_seconds = retention_hours * 3600.0
        self.stale_seconds = stale_seconds
        self._lock = threading.Lock()  # read-modify-write of status.json within this process

    def folder(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise ValueError("job id must be 32 lowercase hex characters")
        return self.root / job_id

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its empty folder (0700)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
        return job_id, folder

    def create(
        self, job_id: str, *, filename: str, created_by: str, rows_total: int | None, top_k: int
    ) -> dict[str, Any]:
        """Write the first status of a job whose ``input.csv`` is in place."""
        moment = now_iso()
        status: dict[str, Any] = {
            "job_id": job_id,
            "status": "queued",
            "filename": filename,
            "created_by": created_by,
            "created_at": moment,
            "updated_at": moment,
            "finished_at": None,
            "rows_total": rows_total,
            "rows_read": 0,
            "progress": 0.0,
            "rows_scored": 0,
            "rows_rejected": 0,
            "issue_count": 0,
            "issues": [],
            "risk_bands": dict.fromkeys(RISK_BAND_NAMES, 0),
            "high_risk": 0,
            "model_name": None,
            "model_version": None,
            "batch_id": None,
            "rows_per_second": None,
            "error": None,
            "top_k": top_k,
        }
        self._write(job_id, status)
        return status

    def read(self, job_id: str) -> dict[str, Any] | None:
        """The job's status as stored, with the stale rule applied; None when there is no such job."""
        try:
            status: dict[str, Any] = json.loads((self.folder(job_id) / STATUS).read_text("utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        if status["status"] in ACTIVE and _age_seconds(status.get("updated_at")) > self.stale_seconds:
            status.update(status="failed", error=STOPPED)
        return status

    def update(self, job_id: str, **changes: Any) -> dict[str, Any] | None:
        """Apply ``changes`` (and a fresh ``updated_at``) to the stored status; None if the job is gone."""
        with self._lock:
            try:
                path = self.folder(job_id) / STATUS
                status: dict[str, Any] = json.loads(path.read_text("utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                return None
            status.update(changes, updated_at=now_iso())
            self._write(job_id, status)
            return status

    def _write(self, job_id: str, status: dict[str, Any]) -> None:
        folder = self.folder(job_id)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".status.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(status, handle)
            os.replace(tmp, folder / STATUS)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def purge_expired(self) -> int:
        """Delete the folders of jobs created more than the retention time ago; returns how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in self.root.iterdir():
            if not (folder.is_dir() and valid_job_id(folder.name)):
                continue
            status = self.read(folder.name)
            if status is not None and status["status"] in ACTIVE:
                continue  # alive: kept whatever its age (a stale one reads as failed)
            created = status["created_at"] if status else None
            age = _age_seconds(created) if created else time.time() - folder.stat().st_mtime
            if age > self.retention_seconds:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


class _Stopped(Exception):
    """Raised from the progress callback to end a job when the API shuts down."""


class JobRunner:
    """Runs jobs one at a time on a single worker thread and keeps their heartbeats fresh."""

    def __init__(self, store: JobStore, settings: Settings, holder: ModelHolder) -> None:
        self.store = store
        self.settings = settings
        self.holder = holder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-job")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="score-job-heartbeat", daemon=True)
        self._heartbeat.start()

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._futures[job_id] = self._executor.submit(self._run, job_id)

    @property
    def pending(self) -> list[str]:
        """This process's jobs not finished yet (queued or running)."""
        with self._lock:
            return [job_id for job_id, future in self._futures.items() if not future.done()]

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            for job_id in self.pending:
                self.store.update(job_id)

    def _run(self, job_id: str) -> None:
        try:
            self._score(job_id)
        except _Stopped:
            self.store.update(job_id, status="failed", error=STOPPED, finished_at=now_iso())
        except Exception as exc:  # the message may quote the file: stored for its owner, not logged
            logger.error("score job %s failed (%s)", job_id, type(exc).__name__)
            self.store.update(job_id, status="failed", error=_job_error(exc), finished_at=now_iso())
        finally:
            with self._lock:
                self._futures.pop(job_id, None)

    def _score(self, job_id: str) -> None:
        status = self.store.update(job_id, status="running")
        if status is None:
            return  # purged or deleted before it started
        loaded = self.holder.current
        if loaded is None:
            raise ScoringError(f"no model is being served: {self.holder.problem}")
        folder = self.store.folder(job_id)
        total = status["rows_total"]

        def progress(rows_read: int, _total: int | None) -> None:
            if self._stop.is_set():
                raise _Stopped
            share = min(rows_read / total, 0.99) if total else 0.0
            self.store.update(job_id, rows_read=rows_read, progress=round(share, 4))

        logger.info("score job %s started", job_id)
        report = score_batch(
            self.settings,
            csv=folder / INPUT,
            out=folder / RESULT,
            chunk_rows=CHUNK_ROWS,
            top_k=status["top_k"],
            predictor=loaded.predictor,
            progress=progress,
        )
        write_issues(folder / ISSUES, report.issues)
        (folder / RESULT).chmod(0o600)
        self.store.update(job_id, **_finished(report))
        logger.info(
            "score job %s done: %d scored, %d rejected", job_id, report.rows_scored, report.rows_rejected
        )

    def close(self, timeout: float = 60.0) -> None:
        """Stop: queued jobs fail now, the running one after its current chunk (waited up to ``timeout``)."""
        self._stop.set()
        with self._lock:
            futures = dict(self._futures)
        for job_id, future in futures.items():
            if future.cancel():
                self.store.update(job_id, status="failed", error=STOPPED, finished_at=now_iso())
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for future in futures.values():
            if not future.cancelled():
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:
                    logger.warning("a score job was still running at shutdown")
        self._heartbeat.join(timeout=1.0)


def _job_error(exc: Exception) -> str:
    if isinstance(exc, ScoringError):
        return str(exc).replace(INPUT, "the uploaded file")[:500]
    return f"scoring failed unexpectedly ({type(exc).__name__}); the server log has the job id"


def _finished(report: ScoreReport) -> dict[str, Any]:
    return {
        "status": "done",
        "finished_at": now_iso(),
        "rows_read": report.rows_read,
        "progress": 1.0,
        "rows_scored": report.rows_scored,
        "rows_rejected": report.rows_rejected,
        "issue_count": report.issue_count,
        "issues": [issue_dict(i) for i in report.issues[:ISSUES_SHOWN]],
        "risk_bands": {band: int(report.band_counts.get(band, 0)) for band in RISK_BAND_NAMES},
        "high_risk": report.high_risk,
        "model_name": report.model_name,
        "model_version": report.model_version,
        "batch_id": report.batch_id,
        "rows_per_second": round(report.rows_per_second, 1),
    }


def issue_dict(issue: Issue) -> dict[str, Any]:
    """An issue as the API shows it: where and why, never the raw value."""
    return {"line": issue.row, "column": issue.column, "severity": issue.severity, "reason": issue.reason}


def write_issues(path: Path, issues: list[Issue]) -> None:
    """The issues file, formula-like text cells neutralised on disk too (line numbers stay numbers)."""
    frame = pd.DataFrame([issue_dict(i) for i in issues], columns=list(ISSUE_COLUMNS))
    frame["line"] = frame["line"].astype("Int64")
    neutralise_frame(frame).to_csv(path, index=False)
    path.chmod(0o600)


def safe_csv_chunks(path: Path, rows: int = _DOWNLOAD_ROWS) -> Iterator[str]:
    """``path`` re-written as CSV text, chunk by chunk, every formula-like cell neutralised.

    Read as text (``dtype=str``) so values go out exactly as stored; a number such as
    ``-0.5`` is left alone by ``neutralise_frame``.
    """
    header = True
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=rows)
    for chunk in reader:
        yield neutralise_frame(chunk).to_csv(index=False, header=header, lineterminator="\n")
        header = False
    if header:  # no rows: still send the header
        with path.open(encoding="utf-8", newline="") as handle:
            first = next(csv.reader(handle), [])
        yield pd.DataFrame(columns=first).to_csv(index=False, lineterminator="\n")
