"""Reading a CSV so that a bad line costs that line's row, never the file or the rows after it.

Python's csv module reads records that may span lines (a quoted cell with a line break), and
trusts the quotes: a cell whose closing quote is missing swallows every following line into
itself, silently. A file is also all or nothing for its encoding. So the file is read as
physical lines, each checked on its own, and given to csv one record at a time:

* Encoding: UTF-8, with or without a byte-order mark, decided per line. A line with a byte that
  is not UTF-8, or with a NUL, is reported by line and column and left out; the other lines are
  read. A file starting with a UTF-16 byte-order mark is refused as a whole (every line of it
  would be unreadable). No other encoding is guessed: a file in Windows-1252 would decode
  without error into wrong names, so its lines with accents are reported instead.
* Size: a line longer than ``RECORD_LIMIT`` characters is reported and skipped without being
  held in memory; a record may not run past ``RECORD_LIMIT`` characters or ``RECORD_LINES``
  lines either. ``RECORD_LIMIT`` is csv's own default field limit, so it is never csv that
  gives up on a long record first.
* Quotes: a quoted cell that runs on into a line which, read on its own, starts a new row (the
  caller's ``starts_row``, e.g. "has an address in the email column"), into an unreadable line,
  past the limits or to the end of the file, or that closes in the middle of a cell on a later
  line (csv's forgiving reading stays for one-line records), is an unbalanced quote: the line
  it opens on is reported and left out, and reading starts again at the line after it, so each
  following row is read as if that quote had never been there.

Line numbers are physical lines (``\\r\\n``, ``\\n`` or ``\\r`` ends one), as an editor counts.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO

from distro.errors import ValidationError

RECORD_LIMIT = 131_072
RECORD_LINES = 100
# Something shaped like an address: a line inside a quoted cell holding one in the email column
# is a row the cell swallowed, not part of the cell.
LOOSE_ADDRESS = re.compile(r'[^\s@"<>,;]+@[^\s@"<>,;]+\.[^\s@"<>,;]+')
_LINE_ENDS = ("\n", "\r")


# NamedTuples rather than frozen dataclasses: one of each is made per line of the file.


class Line(NamedTuple):
    """One physical line, with its line ending; ``problem`` says why it cannot be read."""

    number: int
    text: str
    problem: str = ""


class Record(NamedTuple):
    """The cells of one CSV record and the line it starts on."""

    line: int
    cells: list[str]


class Unreadable(NamedTuple):
    """A record that cannot be read: the line it starts on, and why."""

    line: int
    reason: str


def line_problem(text: str) -> str:
    """Why one decoded line cannot be read, or "" when it can."""
    if not text.isascii():
        try:
            # Bytes that were not UTF-8 came out of "surrogateescape" decoding as lone
            # surrogates (U+DC80..U+DCFF), which strict encoding refuses.
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            byte = ord(text[exc.start]) - 0xDC00
            return (
                f"not UTF-8 text (byte 0x{byte:02x} at column {exc.start + 1}): "
                "save the file as UTF-8 CSV"
            )
    if "\x00" in text:
        column = text.index("\x00") + 1
        return f"contains a NUL byte at column {column}"
    return ""


def physical_lines(path: Path, text: TextIO) -> Iterator[Line]:
    """The lines of ``text``, numbered; an over-long one is skipped, never held whole."""
    number = 0
    try:
        while chunk := text.readline(RECORD_LIMIT + 1):
            number += 1
            if len(chunk) > RECORD_LIMIT and not chunk.endswith(_LINE_ENDS):
                while chunk and not chunk.endswith(_LINE_ENDS):
                    chunk = text.readline(RECORD_LIMIT)
                yield Line(number, "", f"longer than {RECORD_LIMIT:,} characters (a huge cell?)")
            else:
                yield Line(number, chunk, line_problem(chunk))
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None


@contextmanager
def open_lines(path: Path) -> Iterator[Iterator[Line]]:
    """The numbered lines of the file at ``path``, decoded one by one."""
    try:
        raw: BinaryIO = path.open("rb")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None
    with raw:
        try:
            start = raw.read(4)
            raw.seek(0)
        except OSError as exc:
            raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ValidationError(f"{path}: UTF-16 text: save the file as UTF-8 CSV and retry")
        encoding = "utf-8-sig" if start.startswith(codecs.BOM_UTF8) else "utf-8"
        text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
        yield physical_lines(path, text)


def header_key(header: str) -> str:
    """A header as matched against known names: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def address_in_columns(columns: Sequence[int], width: int) -> Callable[[str], bool]:
    """A ``starts_row`` for a file with email columns: whether a line, read as a row of its
    own, has something shaped like an address in one of them (and, in a file of several
    columns, more than one cell)."""

    def starts_row(text: str) -> bool:
        cells = next(csv.reader([text]), [])
        if len(cells) < 2 <= width:
            return False
        return any(
            index < len(cells) and LOOSE_ADDRESS.fullmatch(cells[index].strip()) is not None
            for index in columns
        )

    return starts_row


class _Abandoned(Exception):
    """The record being read cannot be one (raised through csv's reader, which lets it pass)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Feed:
    """The lines csv reads: put-back lines first, then the file's. Keeps the lines of the record
    being read, and abandons it as soon as it runs somewhere a record cannot go."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self.lines = lines
        self.put_back: deque[Line] = deque()
        self.taken: list[Line] = []
        self.size = 0
        self.ended_inside = False  # csv wanted more of a record at the end of the file
        self.starts_row: Callable[[str], bool] | None = None

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.put_back.popleft() if self.put_back else next(self.lines, None)
        if line is None:
            self.ended_inside = bool(self.taken)
            raise StopIteration
        taken = self.taken
        taken.append(line)
        if len(taken) == 1 and not line.problem:  # the usual case: a record's first line
            self.size = len(line.text)
            return line.text
        return self._continued(line)

    def _continued(self, line: Line) -> str:
        """A line that cannot be read, or one a record runs on into."""
        taken = self.taken
        if len(taken) == 1:
            raise _Abandoned(line.problem)
        if line.problem:
            raise _Abandoned(
                f"the quoted cell opened here runs into line {line.number}, which cannot be read"
            )
        self.size += len(line.text)
        if self.size > RECORD_LIMIT or len(taken) > RECORD_LINES:
            raise _Abandoned(
                "unbalanced quote: the quoted cell opened here is not closed within "
                f"{RECORD_LINES} lines or {RECORD_LIMIT:,} characters"
            )
        if self.starts_row is not None and self.starts_row(line.text):
            raise _Abandoned(
                f"unbalanced quote: the quoted cell opened here runs into line {line.number}, "
                "which starts a new row"
            )
        return line.text

    def read_again_after_first(self) -> None:
        """Put back the lines of the abandoned record after its first, to be read afresh."""
        self.put_back.extendleft(reversed(self.taken[1:]))


class CsvRecords:
    """The records of a stream of lines, each either read or reported as unreadable."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._feed = _Feed(lines)
        self._reader = csv.reader(self._feed)

    def read(self, starts_row: Callable[[str], bool] | None = None) -> Record | Unreadable | None:
        """The next record; None at the end. ``starts_row`` tells whether a line met inside a
        quoted cell would start a row of its own, which makes that quote unbalanced."""
        feed = self._feed
        feed.taken = []
        feed.ended_inside = False
        feed.starts_row = starts_row
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except (_Abandoned, csv.Error) as exc:
            # csv's reader is in the middle of the abandoned record: start a fresh one.
            self._reader = csv.reader(feed)
            reason = exc.reason if isinstance(exc, _Abandoned) else f"not CSV: {exc}"
            return self._abandon(reason)
        if feed.ended_inside:
            return self._abandon("unbalanced quote: the quoted cell opened here is never closed")
        if len(feed.taken) > 1 and not _strictly_csv(feed.taken):
            # Two stray quotes pair up: the cell the first opens is closed by the second in the
            # middle of a later cell, which csv, being forgiving, reads on through.
            return self._abandon(
                "unbalanced quote: the quoted cell opened here is closed on line "
                f"{feed.taken[-1].number} in the middle of a cell"
            )
        return Record(feed.taken[0].number, cells)

    def _abandon(self, reason: str) -> Unreadable:
        feed = self._feed
        if len(feed.taken) > 1:
            reason += f"; the row is left out and lines {feed.taken[1].number} on are read again"
        feed.read_again_after_first()
        return Unreadable(feed.taken[0].number, reason)

    def records(
        self, starts_row: Callable[[str], bool] | None = None
    ) -> Iterator[Record | Unreadable]:
        while (record := self.read(starts_row)) is not None:
            yield record


def _strictly_csv(lines: list[Line]) -> bool:
    """Whether the lines are one record by the letter of RFC 4180 (a closing quote followed by
    a comma or the end of the line), which a record over several lines is held to."""
    try:
        for _ in csv.reader([line.text for line in lines], strict=True):
            pass
    except csv.Error:
        return False
    return True
