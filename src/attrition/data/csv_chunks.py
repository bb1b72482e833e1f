"""Read a CSV export in chunks of raw text, turning unreadable lines into issues.

Every value stays a string (``dtype=str``: nothing is coerced before validation) and
every row keeps its physical file line (header = 1; blank lines are kept for the caller
to skip but count). A line with more fields than the header, or a quote that does not
close where a plausible value would, becomes an
:class:`~attrition.data.validation.Issue` on its line instead of failing the file, and
reading resumes on the next physical line: a stray quote never swallows the rows after
it (see :class:`ChunkReader`).
"""

from __future__ import annotations

import csv
import io
import itertools
import warnings
from collections.abc import Iterator
from typing import IO, NamedTuple

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # what read_csv reads as missing, for the careful path

from attrition.data.validation import KNOWN_EXTRA_COLUMNS, Issue
from attrition.schema import ALL_COLUMNS

#: Longest plausible value of any field, in characters. Contract values are a few dozen
#: characters at most; extra columns (free-text notes) get generous room. A quoted value
#: still open after this many characters is taken to start with a stray quote.
MAX_FIELD_CHARS = 1024
#: Longest a rejects-report value gets (the rest is cut, with its length noted).
MAX_SHOWN_CHARS = 120
#: Spare columns that catch lines with more fields than the header (see ``ChunkReader``).
_OVERFLOW = tuple(f"__overflow_{i}__" for i in range(8))
#: Line after the last one a quoted value may reach: it has no quote, so it cannot close one.
_STOP = "\x00 end of the lines a quoted value may span\n"


class Chunk(NamedTuple):
    """A block's rows (raw text, header names), their file lines, and its unreadable lines."""

    frame: pd.DataFrame
    lines: np.ndarray
    issues: list[Issue]
    #: Physical lines the issues stand for (a run of unreadable lines is one issue).
    rejected: int


class ChunkReader:
    """Chunks of ``chunk_rows`` physical lines as raw text, with their file lines, plus issues.

    Fast path: pandas' C parser reads the block. That is right exactly when each of the
    block's lines is one record, which holds when pandas returns as many records as
    there are lines, without an error or a skipped line, and the block has no NUL byte
    (pandas cuts a value at one). Anything else (a quote open across lines, at the
    block's end, a lone carriage return, a NUL, a very long line) sends the block down
    the careful path, line by line with the csv module:

    * a line whose quotes close on it is one record;
    * a quoted value may run on into the next lines only in a column outside the
      contract (contract values never hold a line break), within ``MAX_FIELD_CHARS``,
      and when the record then has no more fields than the header;
    * otherwise the opening quote is taken as stray: the line is reported (runs of such
      lines as one issue with their line range) and reading resumes on the next line,
      which is read again as a row of its own.
    """

    def __init__(self, handle: IO[bytes], header: list[str], chunk_rows: int) -> None:
        self.handle = handle
        self.columns = len(header)
        self.names = [*_unique(header), *_OVERFLOW]
        self.chunk_rows = chunk_rows
        contract = {*ALL_COLUMNS, *KNOWN_EXTRA_COLUMNS}
        #: Per column: whether a value may hold a line break (only outside the contract).
        self.multiline = [name.strip() not in contract for name in header]

    def __iter__(self) -> Iterator[Chunk]:
        self.handle.seek(0)
        self.handle.readline()  # the header, read by the caller
        line = 2
        while lines := list(itertools.islice(self.handle, self.chunk_rows)):
            chunk, count = self._fast(lines, line), len(lines)
            if chunk is None:
                careful = _Careful(self, lines, line)
                chunk = careful.read()
                count = len(careful.texts)  # with any lines a record borrowed past the block
            yield chunk
            line += count

    def _fast(self, lines: list[bytes], first: int) -> Chunk | None:
        """The block read by pandas, or None when its records may not be one per line."""
        block = b"".join(lines)
        if b"\x00" in block or block.count(b"\r") != block.count(b"\r\n"):
            return None  # pandas cuts a value at a NUL and ends a record at a lone CR
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a skipped line
            try:
                frame = self._pandas(block)
            except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError):
                return None
        if len(frame) != len(lines):
            return None
        numbers = np.arange(first, first + len(lines), dtype=np.int64)
        overflow = frame[list(_OVERFLOW)].notna().any(axis=1).to_numpy()
        malformed = []
        if overflow.any():
            malformed = [_malformed(int(n), self.columns) for n in numbers[overflow]]
            frame, numbers = frame[~overflow].reset_index(drop=True), numbers[~overflow]
        return Chunk(frame.drop(columns=list(_OVERFLOW)), numbers, malformed, len(malformed))

    def _pandas(self, block: bytes) -> pd.DataFrame:
        return pd.read_csv(
            io.BytesIO(block),
            header=None,
            names=self.names,
            index_col=False,  # never take a long first line's leading fields as an index
            dtype=str,
            skip_blank_lines=False,
            on_bad_lines="warn",
            encoding="utf-8",
            encoding_errors="replace",
        )


class _Careful:
    """One block read line by line with the csv module (see :class:`ChunkReader`)."""

    def __init__(self, reader: ChunkReader, lines: list[bytes], first: int) -> None:
        self.reader = reader
        self.texts = [raw.decode("utf-8", errors="replace") for raw in lines]
        self.first = first
        self.records: list[list[str | None]] = []
        self.numbers: list[int] = []
        self.issues: list[Issue] = []
        self.unreadable: list[tuple[int, int, str]] = []  # runs: first line, last line, why
        self._real = 0  # lines of the file the current record's source has yielded

    def read(self) -> Chunk:
        i = 0
        while i < len(self.texts):
            spans, why = self._record(i)
            if why is not None:
                self._unreadable(self.first + i, why)
                i += 1
            else:
                i += spans
        columns = self.reader.names[: self.reader.columns]
        frame = pd.DataFrame(self.records or None, columns=columns, dtype=object)
        issues = self.issues + [_unreadable(start, end, why) for start, end, why in self.unreadable]
        issues.sort(key=lambda issue: issue.row or 0)
        rejected = len(self.issues) + sum(end - start + 1 for start, end, _ in self.unreadable)
        return Chunk(frame, np.asarray(self.numbers, dtype=np.int64), issues, rejected)

    def _record(self, i: int) -> tuple[int, str | None]:
        """Store the record starting on line ``i``: the lines it spans, or why it is unreadable."""
        source = self._source(i)
        reader = csv.reader(source)
        try:
            fields = next(reader, [])
        except csv.Error as exc:
            if "field limit" in str(exc):
                return 1, f"a value longer than {csv.field_size_limit():,} characters, not a plausible field"
            return 1, f"the line cannot be read as CSV ({exc})"
        spans = reader.line_num
        if spans > self._real:  # it read on into _STOP: the quote never closed in time
            return 1, _STRAY_QUOTE
        if spans > 1 and not self._plausible(fields):
            return 1, _STRAY_QUOTE
        line = self.first + i
        if len(fields) > self.reader.columns:
            self.issues.append(_malformed(line, self.reader.columns, len(fields)))
            return spans, None
        padded: list[str | None] = [None if f in STR_NA_VALUES else f for f in fields]
        padded += [None] * (self.reader.columns - len(fields))
        self.records.append(padded)
        self.numbers.append(line)
        return spans, None

    def _source(self, i: int) -> Iterator[str]:
        """Line ``i``, then the lines a value opened on it may span, then ``_STOP``."""
        self._real = 1
        yield self.texts[i]
        room = MAX_FIELD_CHARS
        j = i + 1
        while room >= 0 and any(self.reader.multiline):
            if j == len(self.texts) and not self._borrow():
                break
            self._real += 1
            yield self.texts[j]
            room -= len(self.texts[j])
            j += 1
        yield _STOP

    def _borrow(self) -> bool:
        """Read one more line of the file into this block (a record runs past its end)."""
        raw = self.reader.handle.readline()
        if raw:
            self.texts.append(raw.decode("utf-8", errors="replace"))
        return bool(raw)

    def _plausible(self, fields: list[str]) -> bool:
        """Whether a record spanning lines is real: plausible values, breaks only where allowed."""
        if len(fields) > self.reader.columns:
            return False
        allowed = self.reader.multiline
        return all(
            len(value) <= MAX_FIELD_CHARS and (allowed[k] or ("\n" not in value and "\r" not in value))
            for k, value in enumerate(fields)
        )

    def _unreadable(self, line: int, why: str) -> None:
        if self.unreadable and self.unreadable[-1][1] == line - 1 and self.unreadable[-1][2] == why:
            start, _, _ = self.unreadable[-1]
            self.unreadable[-1] = (start, line, why)
        else:
            self.unreadable.append((line, line, why))


_STRAY_QUOTE = (
    "a quoted value opens on this line and is never closed where a plausible value would end "
    f'(within {MAX_FIELD_CHARS} characters, and on the same line for a contract column): a stray "?'
)


def _unreadable(start: int, end: int, why: str) -> Issue:
    where = "this line was" if start == end else f"lines {start}-{end} were"
    reason = f"malformed CSV: {why}; {where} skipped and reading resumed on the next line"
    return Issue(start, None, "error", reason)


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
