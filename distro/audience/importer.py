"""Contact import from CSV: generous header matching, per-row validation, honest reporting.

Every valid row is imported; every invalid row is reported with its line number and reason and
left out; a bad optional value (an unknown time zone, a language that is not a language code, a
value too long for its column) is dropped with a warning while the contact is kept. Rows
repeating an address inside one file collapse into one contact, later non-empty values winning,
and are reported as duplicates with their line numbers. Role addresses (desk@, newsdesk@ ...)
are imported and flagged. Names and other text are stored as given (trimmed, and every field
but notes on one line: see ``distro.audience.contact_fields``): markup or formula-like text is
neutralised where it is shown or exported, never in the database.

A damaged file loses only its damaged lines (``distro.audience.csv_rows``): a line that is not
UTF-8, holds a NUL or is enormous, and a row whose quote is never closed, are each reported by
line while every readable row around them is imported; nothing a row holds is dropped
unreported (``distro.audience.import_rows``). Only a file without a readable header row, or
without an email column, is refused as a whole.

The file is read and validated as a stream and written in chunks of ``CHUNK`` distinct
addresses with set-based Core statements (one SELECT of the existing rows, one multi-row INSERT
... RETURNING, one executemany UPDATE, bulk replacement of beats and tags, list membership with
ON CONFLICT DO NOTHING), all inside one transaction, rolled back for ``dry_run``. Columns a
contact export writes but an import cannot set (status, created_at, updated_at) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from distro.audience.csv_rows import CsvRecords, Record, Unreadable, open_lines
from distro.audience.import_rows import ImportReport, RowParser
from distro.audience.import_store import ChunkWriter, import_cache, list_id_for
from distro.errors import ValidationError

__all__ = ["ImportProgress", "ImportReport", "import_contacts"]


def read_header(path: Path, records: CsvRecords) -> Record:
    """The first non-blank record; a file without a readable one is refused."""
    while (record := records.read()) is not None:
        if isinstance(record, Unreadable):
            raise ValidationError(f"{path}: line {record.line} (the header row): {record.reason}")
        if any(cell.strip() for cell in record.cells):
            return record
    raise ValidationError(f"{path}: the file is empty")


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import has read: ``line`` of about ``total_lines`` physical lines."""

    line: int
    total_lines: int
    rows: int  # valid rows read so far


ProgressCallback = Callable[[ImportProgress], None]
# How often (in records) a progress callback hears about the import: often enough for a bar to
# move smoothly, rarely enough to cost nothing next to the writing.
PROGRESS_EVERY = 500


def count_lines(path: Path) -> int:
    """The file's physical lines, counted in binary blocks (for a progress bar's total)."""
    lines, last = 0, b""
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None
    return lines + (1 if last and last != b"\n" else 0)


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    list_name: str | None = None,
    update_existing: bool = True,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a CSV of contacts in one transaction (rolled back when ``dry_run``).

    ``on_progress``, if given, hears every ``PROGRESS_EVERY`` records and once at the end.
    """
    report = ImportReport(list_name=list_name, dry_run=dry_run)
    total = count_lines(path) if on_progress else 0
    rows = seen = 0
    line = 0
    with open_lines(path) as lines:
        records = CsvRecords(lines)
        parser = RowParser(path, read_header(path, records), report)
        with engine.connect() as conn, import_cache(conn):
            transaction = conn.begin()
            try:
                list_id = list_id_for(conn, list_name) if list_name else None
                writer = ChunkWriter(conn, report, update_existing=update_existing, list_id=list_id)
                for record in records.records(parser.starts_row):
                    line = record.line
                    if isinstance(record, Unreadable):
                        report.invalid.append(
                            {"line": record.line, "email": "", "reason": record.reason}
                        )
                    elif (parsed := parser.parse(record.line, record.cells)) is not None:
                        writer.add(parsed)
                        rows += 1
                    seen += 1
                    if on_progress and seen % PROGRESS_EVERY == 0:
                        on_progress(ImportProgress(line, max(total, line), rows))
                writer.flush()
                if on_progress:
                    on_progress(ImportProgress(max(total, line), max(total, line), rows))
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    return report
