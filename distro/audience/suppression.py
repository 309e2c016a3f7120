"""The suppression list: addresses distro never mails, and the log of who was let back in.

Four reasons (``SuppressionReason``): ``unsubscribed`` and ``hard_bounce`` come and go freely;
``complaint`` and ``do_not_contact`` are protected, and only a forced removal lifts them. Every
addition and every removal, by hand, by import or from a tracking event, writes one
``SuppressionLog`` row. Addresses are stored trimmed and lower-cased, the way contacts are, so the
send-time join on email matches.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from distro.audience.csv_rows import (
    CsvRecords,
    Unreadable,
    address_in_columns,
    header_key,
    open_lines,
)
from distro.db import writing_session
from distro.errors import NotFoundError, ValidationError
from distro.models import Suppression, SuppressionLog, SuppressionReason
from distro.models.types import utcnow

SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[attr-defined]
SUPPRESSION_LOG: Table = SuppressionLog.__table__  # type: ignore[attr-defined]

# Removing these needs force: someone complained, or staff said never again.
PROTECTED_REASONS = frozenset({SuppressionReason.COMPLAINT, SuppressionReason.DO_NOT_CONTACT})
ADDED = "added"
REMOVED = "removed"

EMAIL_HEADERS = frozenset({"email", "emailaddress", "mail", "address"})
REASON_HEADERS = frozenset({"reason", "suppressionreason"})
NOTE_HEADERS = frozenset({"note", "notes", "comment", "comments"})


def valid_reasons() -> str:
    return ", ".join(r.value for r in SuppressionReason)


def parse_reason(value: str | SuppressionReason) -> SuppressionReason:
    """A reason from user input: case and ``-``/``_`` forgiven; anything else refused."""
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return SuppressionReason(key)
    except ValueError:
        raise ValidationError(
            f"unknown suppression reason {str(value)!r}: use one of {valid_reasons()}"
        ) from None


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased after a syntax check (no DNS lookup); ValidationError if bad."""
    address = email.strip()
    if not address:
        raise ValidationError("no email address given")
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError(f"{address!r} is not a valid email address: {exc}") from None


def find_suppression(session: Session, email: str) -> Suppression | None:
    address = email.strip().lower()
    return session.exec(select(Suppression).where(Suppression.email == address)).first()


def add_suppression(
    session: Session,
    email: str,
    reason: SuppressionReason | str,
    *,
    source: str,
    note: str = "",
) -> Suppression:
    """Suppress an address and log it; an address already suppressed is returned unchanged.

    Whether the row is new is ``suppression_added(...)``'s second value; the CLI reports an
    existing suppression with its original reason and date.
    """
    suppression, _created = suppression_added(session, email, reason, source=source, note=note)
    return suppression


def suppression_added(
    session: Session,
    email: str,
    reason: SuppressionReason | str,
    *,
    source: str,
    note: str = "",
) -> tuple[Suppression, bool]:
    """``add_suppression`` that also says whether it added a row (False: one was there)."""
    address = normalise_email(email)
    chosen = parse_reason(reason)
    created = _insert(session, address, chosen, source=source, note=note)
    found = find_suppression(session, address)
    assert found is not None  # inserted now, or there before: the insert conflicted on it
    return found, created


def _insert(
    session: Session, address: str, reason: SuppressionReason, *, source: str, note: str
) -> bool:
    """Add one address in the session's transaction; True when it was not suppressed yet."""
    entry = NewSuppression(address, reason, source=source, note=note)
    return bool(add_suppressions(session.connection(), [entry], utcnow()))


@dataclass(frozen=True, slots=True)
class NewSuppression:
    """One address to suppress, already normalised (trimmed, lower-cased)."""

    email: str
    reason: SuppressionReason
    source: str
    note: str = ""
    # The log row's note when it should say more than the suppression's (which event did it).
    log_note: str | None = None
    # The tracking event that caused it, if one did.
    event_id: int | None = None


def add_suppressions(
    conn: Connection, entries: Sequence[NewSuppression], now: datetime
) -> set[str]:
    """Suppress the addresses in the caller's transaction, each logged only when this call added
    it; return those it added. INSERT ... ON CONFLICT DO NOTHING, so a webhook suppressing an
    address at the same moment as staff (or another webhook) cannot make either fail."""
    if not entries:
        return set()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(SUPPRESSIONS)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(SUPPRESSIONS.c.email)
    )
    rows = [
        {
            "email": entry.email,
            "reason": str(entry.reason),
            "source": entry.source,
            "note": entry.note,
            "event_id": entry.event_id,
            "created_at": now,
        }
        for entry in entries
    ]
    added = set(conn.execute(statement, rows).scalars())
    log = [
        {
            "email": entry.email,
            "action": ADDED,
            "reason": str(entry.reason),
            "source": entry.source,
            "note": entry.note if entry.log_note is None else entry.log_note,
            "forced": False,
            "at": now,
        }
        for entry in entries
        if entry.email in added
    ]
    if log:
        conn.execute(SUPPRESSION_LOG.insert(), log)
    return added


def remove_suppression(
    session: Session,
    email: str,
    *,
    force: bool = False,
    note: str = "",
    source: str = "",
) -> Suppression:
    """Let an address be mailed again, and log who did it and why.

    ``complaint`` and ``do_not_contact`` need ``force=True``; the log row records ``forced``
    when that protection was overridden.
    """
    address = email.strip().lower()
    found = find_suppression(session, address)
    if found is None:
        raise NotFoundError(f"{address!r} is not on the suppression list")
    protected = found.reason in PROTECTED_REASONS
    if protected and not force:
        raise ValidationError(
            f"{address} is suppressed for {found.reason} (since {found.created_at:%Y-%m-%d}): "
            "removing a complaint or do_not_contact suppression needs force (--force)"
        )
    session.add(
        SuppressionLog(
            email=address,
            action=REMOVED,
            reason=found.reason,
            source=source,
            note=note,
            forced=protected,
            at=utcnow(),
        )
    )
    session.delete(found)
    session.flush()
    return found


def list_suppressions(
    session: Session, reason: SuppressionReason | str | None = None
) -> list[Suppression]:
    query = select(Suppression).order_by(col(Suppression.email))
    if reason is not None:
        query = query.where(Suppression.reason == parse_reason(reason))
    return list(session.exec(query).all())


def suppression_log(session: Session, email: str | None = None) -> list[SuppressionLog]:
    """The history, oldest first; only one address's when ``email`` is given."""
    query = select(SuppressionLog).order_by(col(SuppressionLog.at), col(SuppressionLog.id))
    if email is not None:
        query = query.where(SuppressionLog.email == email.strip().lower())
    return list(session.exec(query).all())


# --- import ---------------------------------------------------------------------------------


@dataclass
class SuppressionImportReport:
    added: int = 0
    # Already suppressed (kept as they were, with their original reason).
    existing: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "existing": self.existing,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
        }


@dataclass(frozen=True)
class _Row:
    line: int
    email: str
    reason: str
    note: str
    problem: str = ""  # why the line cannot be read (distro.audience.csv_rows)


def import_suppressions(
    engine: Engine,
    path: Path,
    *,
    reason: SuppressionReason | str = SuppressionReason.DO_NOT_CONTACT,
    source: str = "",
) -> SuppressionImportReport:
    """Suppress every valid address of a file in one transaction; report the rest by line.

    The file is a CSV whose header names an email column (optional ``reason`` and ``note``
    columns override the default reason and add a note per row), or plain text with one
    address per line. Blank lines and lines starting with ``#`` are skipped.
    """
    default_reason = parse_reason(reason)
    source = source or f"import {path.name}"
    report = SuppressionImportReport()
    seen: dict[str, int] = {}
    with writing_session(engine) as session:
        for row in _read_rows(path):
            if row.problem:
                report.invalid.append({"line": row.line, "email": "", "reason": row.problem})
                continue
            if not row.email:
                report.invalid.append({"line": row.line, "email": "", "reason": "no email address"})
                continue
            try:
                address = validate_email(row.email, check_deliverability=False).normalized.lower()
            except EmailNotValidError as exc:
                report.invalid.append({"line": row.line, "email": row.email, "reason": str(exc)})
                continue
            try:
                row_reason = parse_reason(row.reason) if row.reason else default_reason
            except ValidationError as exc:
                report.invalid.append({"line": row.line, "email": address, "reason": str(exc)})
                continue
            if address in seen:
                report.duplicates.append({"email": address, "lines": [seen[address], row.line]})
                continue
            seen[address] = row.line
            if _insert(session, address, row_reason, source=source, note=row.note):
                report.added += 1
            else:
                kept = find_suppression(session, address)
                report.existing.append(
                    {
                        "line": row.line,
                        "email": address,
                        "reason": kept.reason if kept else "",
                    }
                )
    return report


def _read_rows(path: Path) -> Iterator[_Row]:
    """The rows of a CSV with an email column, or of a list with one address per line. A line
    that cannot be read (not UTF-8, a NUL, an unbalanced quote ...) comes as a row with its
    ``problem``, and costs no other row (see ``distro.audience.csv_rows``)."""
    with open_lines(path) as lines:
        first = next((line for line in lines if line.problem or line.text.strip()), None)
        if first is None:
            raise ValidationError(f"{path}: the file is empty")
        if first.problem:
            raise ValidationError(f"{path}: line {first.number}: {first.problem}")
        header = next(csv.reader([first.text]))
        keys = [header_key(h) for h in header]
        if any(k in EMAIL_HEADERS for k in keys):
            yield from _csv_rows(path, keys, CsvRecords(chain([first], lines)))
            return
        if "@" not in first.text and len(header) > 1:
            raise ValidationError(f"{path}: no email column among the headers {header}")
        for line in chain([first], lines):
            text = line.text.strip()
            if line.problem:
                yield _Row(line.number, "", "", "", line.problem)
            elif text and not text.startswith("#"):
                yield _Row(line.number, text, "", "")


def _csv_rows(path: Path, keys: list[str], records: CsvRecords) -> Iterator[_Row]:
    def column(names: frozenset[str]) -> int | None:
        return next((i for i, k in enumerate(keys) if k in names), None)

    email_at, reason_at, note_at = (
        column(EMAIL_HEADERS),
        column(REASON_HEADERS),
        column(NOTE_HEADERS),
    )
    assert email_at is not None

    def cell(cells: list[str], at: int | None) -> str:
        return cells[at].strip() if at is not None and at < len(cells) else ""

    header = records.read()
    if isinstance(header, Unreadable):
        raise ValidationError(f"{path}: line {header.line} (the header row): {header.reason}")
    for record in records.records(address_in_columns([email_at], len(keys))):
        if isinstance(record, Unreadable):
            yield _Row(record.line, "", "", "", record.reason)
        elif any(c.strip() for c in record.cells):
            cells = record.cells
            yield _Row(
                record.line, cell(cells, email_at), cell(cells, reason_at), cell(cells, note_at)
            )
