"""The prediction log's spill: entries the database could not take, kept on local disk.

Append-only JSON-lines files, one per process (``spill-<pid>-<random>.jsonl``),
each written with ``flush`` + ``fsync`` before the call returns, so a spilled
entry survives a shutdown, ``kill -9`` and a power cut. Each process holds an
exclusive ``flock`` on its own file; at start a process *adopts* the files whose
lock it can take (their writer is gone) and replays them with its own. Replay is
idempotent: entries whose ``prediction_id`` is already stored are skipped, so a
replay interrupted by a crash is simply run again.

The bytes held are bounded (``max_bytes``): past it ``append`` refuses entries
and the caller counts them as dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

try:  # POSIX; elsewhere the files are not locked (one API process per spill directory)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

Entry = Mapping[str, Any]
_SUFFIX = ".jsonl"


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write: times tagged so they come back as times, numpy scalars."""
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot spill a {type(value).__name__}")


def _typed(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$datetime" in obj:
            return dt.datetime.fromisoformat(obj["$datetime"])
        if "$date" in obj:
            return dt.date.fromisoformat(obj["$date"])
    return obj


def encode(entry: Entry) -> bytes:
    """One line of the spill file."""
    return json.dumps(dict(entry), default=_plain, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    value = json.loads(line, object_hook=_typed)
    if not isinstance(value, dict):
        raise ValueError("not an entry")
    return value


@dataclass
class _File:
    path: Path
    handle: IO[bytes]
    size: int = 0


@dataclass
class Spill:
    """The spill files of one prediction log (see the module docstring)."""

    directory: Path
    max_bytes: int
    #: prediction id -> employee number of every spilled entry not yet replayed (feedback looks here).
    ids: dict[str, Any] = field(default_factory=dict)
    torn: int = 0  # lines that could not be read back (a write cut by a crash)
    _files: list[_File] = field(default_factory=list)
    _own: _File | None = None

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def size(self) -> int:
        return sum(f.size for f in self._files)

    def adopt(self) -> int:
        """Take over the spill files no live process holds; returns the entries they hold."""
        if not self.directory.is_dir():
            return 0
        before = self.count
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            if any(f.path == path for f in self._files):
                continue
            handle = path.open("rb+")
            if not _lock(handle):
                handle.close()  # its process is alive and still writing it
                continue
            spilled = _File(path, handle, path.stat().st_size)
            self._files.append(spilled)
            for entry in self._read(spilled):
                self.ids[str(entry.get("prediction_id"))] = entry.get("employee_number")
        adopted = self.count - before
        if adopted:
            logger.warning("replaying %d predictions spilled by a previous run", adopted)
        return adopted

    def append(self, entries: Sequence[Entry]) -> int:
        """Write ``entries`` durably (fsync), as many as the bound allows; returns how many."""
        lines = [encode(e) for e in entries]
        room, taken = self.max_bytes - self.size, 0
        while taken < len(lines) and len(lines[taken]) <= room:
            room -= len(lines[taken])
            taken += 1
        if not taken:
            return 0
        own = self._own_file()
        data = b"".join(lines[:taken])
        own.handle.seek(0, os.SEEK_END)
        own.handle.write(data)
        own.handle.flush()
        os.fsync(own.handle.fileno())
        own.size += len(data)
        for entry in entries[:taken]:
            self.ids[str(entry.get("prediction_id"))] = entry.get("employee_number")
        return taken

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Every spilled entry, oldest file first, in lists of at most ``size``."""
        batch: list[dict[str, Any]] = []
        for spilled in list(self._files):
            for entry in self._read(spilled):
                batch.append(entry)
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def clear(self) -> None:
        """Everything was replayed: delete the files (and release their locks)."""
        for spilled in self._files:
            spilled.path.unlink(missing_ok=True)
            spilled.handle.close()
        self._files, self._own = [], None
        self.ids.clear()

    def close(self) -> None:
        """Release the files, keeping them for the next start."""
        for spilled in self._files:
            spilled.handle.close()
        self._files, self._own = [], None

    def _own_file(self) -> _File:
        if self._own is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"spill-{os.getpid()}-{uuid.uuid4().hex[:8]}{_SUFFIX}"
            handle = path.open("ab+")
            _lock(handle)
            _fsync_directory(self.directory)  # the new name itself survives a crash
            self._own = _File(path, handle)
            self._files.append(self._own)
        return self._own

    def _read(self, spilled: _File) -> Iterator[dict[str, Any]]:
        spilled.handle.flush()
        with spilled.path.open("rb") as reader:
            for number, line in enumerate(reader, 1):
                try:
                    yield decode(line)
                except ValueError:  # json.JSONDecodeError too: a line cut short by a crash
                    self.torn += 1
                    logger.error("spill file %s line %d unreadable; skipped", spilled.path.name, number)


def _lock(handle: IO[bytes]) -> bool:
    """An exclusive lock on ``handle`` without waiting; False when another process holds it."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
