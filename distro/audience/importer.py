"""Contact import from CSV: generous header matching, per-row validation, honest reporting.

Every valid row is imported; every invalid row is reported with its line number and reason and
left out; a bad optional value (an unknown time zone, a language that is not a language code, a
value too long for its column) is dropped with a warning while the contact is kept. Rows
repeating an address inside one file collapse into one contact, later non-empty values winning,
and are reported as duplicates with their line numbers. Role addresses (desk@, newsdesk@ ...)
are imported and flagged. Names and other text are stored exactly as given (trimmed): markup or
formula-like text is neutralised where it is shown or exported, never in the database.

The file is read and validated as a stream and written in chunks of ``CHUNK`` distinct
addresses with set-based Core statements (one SELECT of the existing rows, one multi-row INSERT
... RETURNING, one executemany UPDATE, bulk replacement of beats and tags, list membership with
ON CONFLICT DO NOTHING), all inside one transaction, rolled back for ``dry_run``. Columns a
contact export writes but an import cannot set (status, created_at, updated_at) are ignored.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from distro.audience.import_rows import ImportReport, RowParser
from distro.audience.import_store import ChunkWriter, import_cache, list_id_for
from distro.errors import ValidationError

__all__ = ["ImportReport", "import_contacts"]


def check_text(path: Path) -> None:
    """Refuse, before anything is written, a file that is not UTF-8 text (a BOM is fine)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0  # bytes fed to the decoder before the current block
    newlines = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    position = offset - pending + exc.start
                    line = newlines + exc.object[: exc.start].count(b"\n") + 1
                    bad = exc.object[exc.start]
                    raise ValidationError(
                        f"{path}: not UTF-8 text (byte 0x{bad:02x} at offset {position}, "
                        f"line {line}): save the file as UTF-8 CSV and retry"
                    ) from None
                if "\x00" in text:
                    raise ValidationError(
                        f"{path}: contains NUL bytes (UTF-16?): save the file as UTF-8 CSV"
                    )
                newlines += block.count(b"\n")
                offset += len(block)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ValidationError(
                    f"{path}: not UTF-8 text (truncated character at the end, offset {offset}):"
                    " save the file as UTF-8 CSV and retry"
                ) from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None


@contextmanager
def open_rows(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]]]]:
    """The header row and a stream of (line number, cells) for non-blank rows."""
    check_text(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            headers = next(reader)
        except StopIteration:
            raise ValidationError(f"{path}: the file is empty") from None
        except csv.Error as exc:
            raise ValidationError(f"{path}: line 1: not CSV: {exc}") from None

        def rows() -> Iterator[tuple[int, list[str]]]:
            line = reader.line_num + 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ValidationError(f"{path}: line {line}: not CSV: {exc}") from None
                if any(cell.strip() for cell in row):
                    yield line, row
                line = reader.line_num + 1

        yield headers, rows()


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    list_name: str | None = None,
    update_existing: bool = True,
    dry_run: bool = False,
) -> ImportReport:
    """Import a CSV of contacts in one transaction (rolled back when ``dry_run``)."""
    report = ImportReport(list_name=list_name, dry_run=dry_run)
    with open_rows(path) as (headers, rows):
        parser = RowParser(path, headers, report)
        with engine.connect() as conn, import_cache(conn):
            transaction = conn.begin()
            try:
                list_id = list_id_for(conn, list_name) if list_name else None
                writer = ChunkWriter(conn, report, update_existing=update_existing, list_id=list_id)
                for line, cells in rows:
                    parsed = parser.parse(line, cells)
                    if parsed is not None:
                        writer.add(parsed)
                writer.flush()
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    return report
