"""Read a CSV export in chunks of raw text, turning malformed lines into issues.

Every value stays a string (``dtype=str``: nothing is coerced before validation) and
every row keeps its physical file line (header = 1; blank lines are kept for the caller
to skip but count). A line with more fields than the header, or a quote never closed,
becomes an :class:`~attrition.data.validation.Issue` on its line instead of failing the
file, and reading resumes after it (see :class:`ChunkReader` for when it cannot).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Generator, Iterator
from functools import partial
from typing import IO, Any

import numpy as np
import pandas as pd

from attrition.data.validation import Issue

#: Spare columns that catch lines with more fields than the header (see ``ChunkReader``).
_OVERFLOW = tuple(f"__overflow_{i}__" for i in range(8))
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_EOF_IN_QUOTES = re.compile(r"EOF inside string starting at row (\d+)")

#: A chunk's rows (raw text, header names), their file lines, and the malformed lines met.
Chunk = tuple[pd.DataFrame, np.ndarray, list[Issue]]


class ChunkReader:
    """Chunks of raw text with their file line numbers, plus malformed lines as issues.

    Spare trailing columns catch lines with more fields than the header (pandas
    would otherwise truncate such a line silently at a chunk start); lines longer
    still are skipped by pandas with a warning that names the line, which keeps
    the numbering right.

    A quote that opens a value and is never closed makes pandas' reader fail at the
    end of the file, losing the chunk it was reading. Then the records of that chunk
    before the bad line are read again (they are complete), the bad line is reported,
    and reading resumes on the physical line after it, as a new segment of the file.
    When that line cannot be located the way pandas counts records, the rest of the
    file is reported as not read (``unread_from``).
    """

    def __init__(self, handle: IO[bytes], header: list[str], chunk_rows: int) -> None:
        self.handle = handle
        self.columns = len(header)
        self.names = [*_unique(header), *_OVERFLOW]
        self.chunk_rows = chunk_rows
        #: First line not read, when a malformed line stopped the reading for good.
        self.unread_from: int | None = None

    def __iter__(self) -> Iterator[Chunk]:
        # A segment: its byte offset, the records before it, the records to skip at its start.
        offset, base, skip = 0, 0, 1  # the first segment starts with the header
        while True:
            bad_line = yield from self._segment(offset, base, skip)
            if bad_line is None:
                return
            resume = _offset_after(self.handle, offset, bad_line - 1 - base)
            if resume is None:
                self.unread_from = bad_line
            yield self._nothing([_unterminated(bad_line, resumed=resume is not None)])
            if resume is None:
                return
            offset, base, skip = resume, bad_line, 0

    def _segment(self, offset: int, base: int, skip: int) -> Generator[Chunk, None, int | None]:
        """The chunks of one segment; returns the line of the unterminated quote that ended it."""
        self.handle.seek(offset)
        reader = self._chunks(skip)
        skipped: list[int] = []  # lines pandas skipped as too long, absolute, sorted
        position = 0  # data rows returned so far
        while True:
            try:
                chunk, too_long = self._read(lambda: next(reader, None), base)
            except _ReadFailed as failed:
                done = skip + position + len(skipped)  # records of the segment handled
                bad_line = _error_line(failed.error, base)
                if bad_line is None:  # nowhere to resume: the rest is unread
                    yield self._give_up(base + done + 1, failed.error)
                    return None
                good = bad_line - 1 - base - done - failed.too_long  # complete rows before it
                if good > 0:
                    self.handle.seek(offset)
                    try:
                        chunk, too_long = self._read(partial(self._reader, done, nrows=good), base)
                    except _ReadFailed as again:  # not expected: the rows before are complete
                        yield self._give_up(base + done + 1, again.error)
                        return None
                    if chunk is not None:
                        yield self._chunk(chunk, position, skipped, too_long, base + skip)
                return bad_line
            if chunk is None:
                if too_long:
                    yield self._nothing(self._too_long(too_long, skipped))
                return None
            yield self._chunk(chunk, position, skipped, too_long, base + skip)
            position += len(chunk)

    def _chunks(self, skip: int) -> Iterator[pd.DataFrame]:
        # A generator, so that pandas' reader is made inside ``_read``: it already reads
        # the first rows, and fails there if they hold the unterminated quote.
        yield from self._reader(skip, chunksize=self.chunk_rows)

    def _reader(self, skip: int, **size: int) -> Any:
        return pd.read_csv(
            self.handle,
            header=None,
            skiprows=skip,
            names=self.names,
            dtype=str,
            skip_blank_lines=False,
            on_bad_lines="warn",
            encoding="utf-8",
            encoding_errors="replace",
            **size,
        )

    @staticmethod
    def _read(
        read: Callable[[], pd.DataFrame | None], base: int
    ) -> tuple[pd.DataFrame | None, list[tuple[int, int, int]]]:
        """``read()`` and the lines pandas skipped meanwhile, as (file line, expected, saw)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            try:
                chunk = read()
                error = None
            except pd.errors.ParserError as exc:
                chunk, error = None, exc
        too_long = [
            (base + int(line), int(expected), int(saw))
            for warning in caught
            for line, expected, saw in _SKIPPED_LINE.findall(str(warning.message))
        ]
        if error is not None:
            raise _ReadFailed(error, len(too_long))
        return chunk, too_long

    @staticmethod
    def _too_long(too_long: list[tuple[int, int, int]], skipped: list[int]) -> list[Issue]:
        skipped.extend(line for line, _, _ in too_long)
        skipped.sort()
        return [_malformed(line, expected - len(_OVERFLOW), saw) for line, expected, saw in too_long]

    def _chunk(
        self,
        chunk: pd.DataFrame,
        position: int,
        skipped: list[int],
        too_long: list[tuple[int, int, int]],
        first: int,
    ) -> Chunk:
        malformed = self._too_long(too_long, skipped)
        lines = _line_numbers(position, len(chunk), skipped, first)
        overflow = chunk[list(_OVERFLOW)].notna().any(axis=1).to_numpy()
        if overflow.any():
            malformed += [_malformed(int(line), self.columns) for line in lines[overflow]]
            chunk, lines = chunk[~overflow].reset_index(drop=True), lines[~overflow]
        return chunk.drop(columns=list(_OVERFLOW)), lines, malformed

    def _nothing(self, issues: list[Issue]) -> Chunk:
        return pd.DataFrame(columns=self.names[: self.columns]), np.empty(0, dtype=np.int64), issues

    def _give_up(self, line: int, error: pd.errors.ParserError) -> Chunk:
        self.unread_from = line
        reason = f"malformed CSV: {_reason(error)}; the rest of the file from line {line} was not read"
        return self._nothing([Issue(line, None, "error", reason)])


class _ReadFailed(Exception):
    def __init__(self, error: pd.errors.ParserError, too_long: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.too_long = too_long  # lines pandas skipped as too long before it failed


def _error_line(error: pd.errors.ParserError, base: int) -> int | None:
    """File line of the record an unterminated quote opened (pandas counts records from 0)."""
    match = _EOF_IN_QUOTES.search(str(error))
    return None if match is None else base + int(match.group(1)) + 1


def _reason(error: pd.errors.ParserError) -> str:
    return str(error).removeprefix("Error tokenizing data. C error: ").strip().rstrip(".")


def _unterminated(line: int, resumed: bool) -> Issue:
    then = (
        "the line was skipped and reading resumed on the next line"
        if resumed
        else f"the rest of the file from line {line} was not read"
    )
    reason = f'malformed CSV: a quoted value opens on this line and is never closed (a stray "?); {then}'
    return Issue(line, None, "error", reason)


def _offset_after(handle: IO[bytes], start: int, records: int) -> int | None:
    """Byte offset of the physical line after the first line of record ``records`` from ``start``.

    Records are counted as pandas counts them (a newline inside quotes does not end
    one), with the csv module. None when that cannot be told: the csv module rejects
    the text, the file ends first, or the line found has no quote (so it is not the
    line pandas meant).
    """
    handle.seek(start)

    def text_lines() -> Iterator[str]:
        while line := handle.readline():
            yield line.decode("utf-8", errors="replace")

    reader = csv.reader(text_lines())
    try:
        for _ in range(records):
            next(reader)
    except (csv.Error, StopIteration):
        return None
    line = handle.readline()
    return handle.tell() if b'"' in line else None


def _line_numbers(start: int, count: int, skipped: list[int], first: int = 1) -> np.ndarray:
    """File lines of data rows ``start .. start+count`` of a segment (skipped lines excluded).

    ``first`` is the number of records before the segment's first data row (1, the
    header, in the file's first segment), so the k-th kept line is ``k + first + 1``
    plus the skipped lines at or before it: with ``skipped`` sorted, ``skipped[i] - i``
    is the kept-line index each one precedes.
    """
    lines = np.arange(start, start + count, dtype=np.int64) + first + 1
    shifted = np.asarray(skipped, dtype=np.int64) - np.arange(len(skipped), dtype=np.int64)
    return lines + np.searchsorted(shifted, lines, side="right")


def _malformed(line: int, expected: int, saw: int | None = None) -> Issue:
    count = f" ({saw})" if saw is not None else ""
    return Issue(
        line,
        None,
        "error",
        f"malformed line: more fields{count} than the header's {expected} columns "
        "(an unquoted comma in a value?)",
    )


def _unique(names: list[str]) -> list[str]:
    """Header names made unique for pandas (repeated contract columns are already an error)."""
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in out:
            n += 1
            candidate = f"{name}#{n}"
        out.append(candidate)
    return out
