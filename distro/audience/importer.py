"""Contact import from CSV: generous header matching, per-row validation, honest reporting.

Every valid row is imported; every invalid row is reported with its line number and reason and
left out; a bad optional value (an unknown time zone) is dropped with a warning while the contact
is kept. Rows repeating an address inside one file collapse into one contact, later non-empty
values winning, and are reported as duplicates with their line numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from distro.audience.lists import add_members, get_or_create_list
from distro.errors import ValidationError
from distro.models import Contact, ContactBeat, ContactTag
from distro.models.types import utcnow

SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "outlet",
    "title",
    "region",
    "country",
    "language",
    "timezone",
    "notes",
)
MULTI_FIELDS = ("beats", "tags")

# Normalised header (lower case, letters and digits only) -> field.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail", "emailadress"), "email"),
    **dict.fromkeys(("firstname", "givenname", "first", "forename"), "first_name"),
    **dict.fromkeys(("lastname", "surname", "familyname", "last"), "last_name"),
    **dict.fromkeys(
        ("outlet", "publication", "mediaoutlet", "media", "organisation", "organization"),
        "outlet",
    ),
    **dict.fromkeys(("title", "role", "jobtitle", "position"), "title"),
    **dict.fromkeys(("beat", "beats", "topics", "topic", "coverage"), "beats"),
    **dict.fromkeys(("region", "state", "province"), "region"),
    **dict.fromkeys(("country",), "country"),
    **dict.fromkeys(("language", "lang"), "language"),
    **dict.fromkeys(("timezone", "tz"), "timezone"),
    **dict.fromkeys(("tag", "tags", "labels", "label"), "tags"),
    **dict.fromkeys(("notes", "note", "comments"), "notes"),
}
ROLE_LOCAL_PARTS = frozenset({"desk", "news", "newsdesk", "info", "editor", "tips", "press"})
MULTI_VALUE_SPLIT = re.compile(r"[;|]")


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_existing: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    list_name: str | None = None
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ContactRow:
    email: str
    lines: list[int]
    values: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)

    def merge(self, later: ContactRow) -> None:
        """Later non-empty values win."""
        self.lines.extend(later.lines)
        self.values.update({k: v for k, v in later.values.items() if v})
        self.multi.update({k: v for k, v in later.multi.items() if v})
        self.custom.update({k: v for k, v in later.custom.items() if v})


def header_field(header: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", header.lower())
    return HEADER_ALIASES.get(key)


def read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8 CSV and retry"
        ) from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise ValidationError(f"{path}: the file is empty") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                yield line, row
            line = reader.line_num + 1

    return headers, rows()


def parse_rows(path: Path, report: ImportReport, zones: frozenset[str]) -> dict[str, ContactRow]:
    headers, rows = read_csv(path)
    fields = [header_field(h) for h in headers]
    if "email" not in fields:
        raise ValidationError(f"{path}: no email column among the headers {headers}")
    contacts: dict[str, ContactRow] = {}
    for line, cells in rows:
        parsed = _parse_row(line, headers, fields, cells, report, zones)
        if parsed is None:
            continue
        existing = contacts.get(parsed.email)
        if existing is None:
            contacts[parsed.email] = parsed
        else:
            report.duplicates.append({"email": parsed.email, "lines": [*existing.lines, line]})
            existing.merge(parsed)
    return contacts


def _parse_row(
    line: int,
    headers: list[str],
    fields: list[str | None],
    cells: list[str],
    report: ImportReport,
    zones: frozenset[str],
) -> ContactRow | None:
    raw: dict[str, str] = {}
    custom: dict[str, str] = {}
    for header, name, cell in zip(headers, fields, cells, strict=False):
        if name is None:
            if header.strip() and cell.strip():
                custom[header.strip()] = cell.strip()
        else:
            raw[name] = cell.strip()
    address = raw.pop("email", "")
    if not address:
        report.invalid.append({"line": line, "email": "", "reason": "no email address"})
        return None
    try:
        email = validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        report.invalid.append({"line": line, "email": address, "reason": str(exc)})
        return None
    if email.split("@")[0] in ROLE_LOCAL_PARTS:
        report.warnings.append(
            {"line": line, "email": email, "message": "role address (kept, flagged)"}
        )
    zone = raw.get("timezone", "")
    if zone and zone not in zones:
        report.warnings.append(
            {"line": line, "email": email, "message": f"unknown time zone {zone!r} dropped"}
        )
        raw["timezone"] = ""
    multi = {name: _split(raw.pop(name, "")) for name in MULTI_FIELDS}
    return ContactRow(email, [line], raw, multi, custom)


def _split(cell: str) -> list[str]:
    seen: dict[str, None] = {}
    for value in MULTI_VALUE_SPLIT.split(cell):
        if value.strip():
            seen[value.strip().lower()] = None
    return list(seen)


def import_contacts(
    engine: Engine,
    path: Path,
    *,
    list_name: str | None = None,
    update_existing: bool = True,
    dry_run: bool = False,
) -> ImportReport:
    report = ImportReport(list_name=list_name, dry_run=dry_run)
    rows = parse_rows(path, report, frozenset(available_timezones()))
    with Session(engine) as session:
        existing = _existing(session, rows.keys())
        touched: list[int] = []
        now = utcnow()
        for email, row in rows.items():
            contact = existing.get(email)
            if contact is None:
                contact = Contact(email=email, created_at=now, updated_at=now)
                _apply(contact, row)
                session.add(contact)
                session.flush()
                _replace_multi(session, contact, row)
                report.imported += 1
            elif not update_existing:
                report.skipped_existing += 1
            elif _apply(contact, row) | _replace_multi(session, contact, row):
                contact.updated_at = now
                report.updated += 1
            else:
                report.unchanged += 1
            assert contact.id is not None
            touched.append(contact.id)
        if list_name:
            add_members(session, get_or_create_list(session, list_name), touched)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return report


def _existing(session: Session, emails: Iterable[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    addresses = list(emails)
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        query = select(Contact).where(Contact.email.in_(chunk))  # type: ignore[attr-defined]
        for contact in session.execute(query).scalars():
            found[contact.email] = contact
    return found


def _apply(contact: Contact, row: ContactRow) -> bool:
    """Copy non-empty values onto the contact; True when anything changed."""
    changed = False
    for name in SCALAR_FIELDS:
        value = row.values.get(name, "")
        if value and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed = True
    if row.custom:
        merged = {**contact.custom, **row.custom}
        if merged != contact.custom:
            contact.custom = merged
            changed = True
    return changed


def _replace_multi(session: Session, contact: Contact, row: ContactRow) -> bool:
    """Set beats and tags from the row where it has any; True when anything changed."""
    changed = False
    for name, model, column in (("beats", ContactBeat, "beat"), ("tags", ContactTag, "tag")):
        values = row.multi.get(name) or []
        if not values:
            continue
        current = set(
            session.execute(
                select(getattr(model, column)).where(col(model.contact_id) == contact.id)
            ).scalars()
        )
        if current == set(values):
            continue
        session.execute(delete(model).where(model.contact_id == contact.id))  # type: ignore[arg-type]
        assert contact.id is not None
        session.add_all(model(contact_id=contact.id, **{column: v}) for v in values)
        changed = True
    return changed
