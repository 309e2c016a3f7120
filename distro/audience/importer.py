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
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from distro.errors import ValidationError
from distro.models import Contact, ContactBeat, ContactList, ContactTag, ListMember
from distro.models.audience import CONTACT_TEXT_FIELDS
from distro.models.types import UTCDateTime, utcnow

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
BEATS: Table = ContactBeat.__table__  # type: ignore[attr-defined]
TAGS: Table = ContactTag.__table__  # type: ignore[attr-defined]
LISTS: Table = ContactList.__table__  # type: ignore[attr-defined]
MEMBERS: Table = ListMember.__table__  # type: ignore[attr-defined]

SCALAR_FIELDS = CONTACT_TEXT_FIELDS
MULTI_FIELDS = ("beats", "tags")
# Column length limits (None: unlimited), so PostgreSQL never refuses a whole import.
FIELD_LIMITS: dict[str, int | None] = {
    name: getattr(CONTACTS.c[name].type, "length", None) for name in SCALAR_FIELDS
}
MULTI_LIMIT: int = getattr(BEATS.c.beat.type, "length", None) or 100

# Distinct addresses written per round of statements.
CHUNK = 1000

# Normalised header (lower case, letters and digits only) -> field.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "email",
            "emailaddress",
            "mail",
            "emailadress",
            "emails",
            "workemail",
            "emailaddresses",
            "mailaddress",
        ),
        "email",
    ),
    **dict.fromkeys(("firstname", "givenname", "first", "forename", "fname"), "first_name"),
    **dict.fromkeys(("lastname", "surname", "familyname", "last", "lname"), "last_name"),
    **dict.fromkeys(
        (
            "outlet",
            "outlets",
            "publication",
            "publications",
            "mediaoutlet",
            "media",
            "organisation",
            "organization",
            "company",
            "newsoutlet",
        ),
        "outlet",
    ),
    **dict.fromkeys(("title", "role", "jobtitle", "position"), "title"),
    **dict.fromkeys(("beat", "beats", "topics", "topic", "coverage", "subjects"), "beats"),
    **dict.fromkeys(("region", "state", "province", "county"), "region"),
    **dict.fromkeys(("country", "countrycode"), "country"),
    **dict.fromkeys(("language", "lang", "languages", "locale"), "language"),
    **dict.fromkeys(("timezone", "tz", "zone", "timezonename"), "timezone"),
    **dict.fromkeys(("tag", "tags", "labels", "label"), "tags"),
    **dict.fromkeys(("notes", "note", "comments", "comment"), "notes"),
}
# Written by `contacts export`, not settable by an import.
IGNORED_HEADERS = frozenset({"status", "createdat", "updatedat"})
ROLE_LOCAL_PARTS = frozenset(
    {
        "desk",
        "news",
        "newsdesk",
        "newsroom",
        "info",
        "editor",
        "editors",
        "editorial",
        "tips",
        "press",
        "letters",
        "metro",
        "features",
        "assignments",
        "contact",
        "hello",
        "office",
        "media",
        "pr",
        "admin",
        "team",
    }
)
MULTI_VALUE_SPLIT = re.compile(r"[;|]")
# BCP 47 language tag, the common shapes: en, es-MX, zh-Hant-TW, sr-Latn.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?\Z")
# RFC 5322 dot-atom (ASCII), the same pattern email-validator accepts without further checks.
_ATEXT = r"a-zA-Z0-9_!#\$%&'\*\+\-/=\?\^`\{\|\}~"
DOT_ATOM = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*\\Z")
EMAIL_MAX_OCTETS = 254


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


# --- values -----------------------------------------------------------------------------------


class AddressNormaliser:
    """email-validator's verdict (syntax only, no DNS), lower-cased: the de-duplication key.

    Validating the domain is two thirds of email-validator's cost and every outlet repeats its
    domain, so a domain it accepted once is remembered: an address whose local part is plain
    ASCII dot-atom (which email-validator accepts as it is) and whose domain was accepted before
    is assembled from the two, with the same length checks. Anything else goes to
    email-validator, so nothing it would refuse gets through.
    """

    def __init__(self) -> None:
        self._domains: dict[str, tuple[str, str]] = {}

    def normalise(self, address: str) -> str:
        """The normalised address; raises EmailNotValidError with the library's reason."""
        local, at, domain = address.partition("@")
        simple = bool(at) and "@" not in domain and DOT_ATOM.match(local) is not None
        if simple:
            known = self._domains.get(domain)
            if known is not None:
                unicode_domain, ascii_domain = known
                longest = max(
                    len(address.encode()),
                    len(local) + 1 + len(unicode_domain.encode()),
                    len(local) + 1 + len(ascii_domain),
                )
                if longest <= EMAIL_MAX_OCTETS:
                    return f"{local}@{unicode_domain}".lower()
        checked = validate_email(address, check_deliverability=False)
        if simple and getattr(checked, "domain_address", None) is None and checked.ascii_domain:
            self._domains[domain] = (checked.domain, checked.ascii_domain)
        return checked.normalized.lower()


_ZONES: dict[str, str] | None = None


def canonical_zone(value: str) -> str | None:
    """The IANA name for ``value`` (case forgiven), or None when there is no such zone."""
    global _ZONES
    if _ZONES is None:
        _ZONES = {zone.lower(): zone for zone in available_timezones()}
    return _ZONES.get(value.strip().lower())


def canonical_language(value: str) -> str | None:
    """A BCP 47 tag in its usual case (es-MX, zh-Hant), or None when it is not one."""
    tag = value.strip().replace("_", "-")
    if not LANGUAGE_TAG.match(tag):
        return None
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper())
    return "-".join(out)


def clean_value(name: str, value: str) -> tuple[str, str | None]:
    """A scalar field's value as stored, and why it was refused (None when it was not)."""
    value = value.strip()
    if not value:
        return "", None
    if name == "timezone":
        zone = canonical_zone(value)
        if zone is None:
            return "", f"unknown time zone {value!r}"
        value = zone
    elif name == "language":
        language = canonical_language(value)
        if language is None:
            return "", f"{value!r} is not a language code (use e.g. en, es, pt-BR)"
        value = language
    limit = FIELD_LIMITS.get(name)
    if limit is not None and len(value) > limit:
        return "", f"{name} longer than {limit} characters"
    return value, None


def split_multi(cell: str) -> tuple[list[str], list[str]]:
    """Beats or tags from one cell (``;`` or ``|`` separated), lower-cased, each once; and
    the values refused for being too long."""
    seen: dict[str, None] = {}
    refused: list[str] = []
    for value in MULTI_VALUE_SPLIT.split(cell):
        item = value.strip().lower()
        if not item:
            continue
        if len(item) > MULTI_LIMIT:
            refused.append(item)
        else:
            seen[item] = None
    return list(seen), refused


# --- reading ----------------------------------------------------------------------------------


def header_field(header: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", header.lower())
    return HEADER_ALIASES.get(key)


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


class RowParser:
    """Turns the cells of one row into a ContactRow, or reports why it cannot be one.

    Built for speed on 100,000-row files: cells are trimmed once, every field is read by index,
    and the cleaned time zones, languages and split beat/tag cells are memoised (a journalist
    list repeats the same few thousands of times). Plain text fields only get a length check.
    """

    def __init__(self, path: Path, headers: list[str], report: ImportReport) -> None:
        columns: dict[str, list[int]] = {}
        self.custom_columns: list[tuple[str, int]] = []
        for index, raw_header in enumerate(headers):
            header = raw_header.strip()
            name = header_field(header)
            if name is not None:
                columns.setdefault(name, []).append(index)
            elif header and re.sub(r"[^a-z0-9]", "", header.lower()) not in IGNORED_HEADERS:
                self.custom_columns.append((header, index))
        if "email" not in columns:
            raise ValidationError(f"{path}: no email column among the headers {headers}")
        self.width = len(headers)
        self.email_columns = columns.pop("email")
        # (field, columns, limit or None when the value needs clean_value, memo)
        self.scalar_plan: list[tuple[str, list[int], int | None]] = []
        for name in SCALAR_FIELDS:
            if name in columns:
                plain = name not in ("timezone", "language")
                limit = FIELD_LIMITS[name] if plain else None
                self.scalar_plan.append((name, columns[name], limit if plain else None))
        self.multi_plan = [(n, columns[n]) for n in MULTI_FIELDS if n in columns]
        self.report = report
        self.addresses = AddressNormaliser()
        self._cleaned: dict[str, dict[str, tuple[str, str | None]]] = {
            name: {} for name in SCALAR_FIELDS
        }
        self._split: dict[str, tuple[list[str], list[str]]] = {}

    def parse(self, line: int, row: list[str]) -> ContactRow | None:
        cells = [cell.strip() for cell in row]
        if len(cells) < self.width:
            cells.extend([""] * (self.width - len(cells)))
        address = _first(cells, self.email_columns)
        if not address:
            self.report.invalid.append({"line": line, "email": "", "reason": "no email address"})
            return None
        try:
            email = self.addresses.normalise(address)
        except EmailNotValidError as exc:
            self.report.invalid.append({"line": line, "email": address, "reason": str(exc)})
            return None
        if email[: email.index("@")] in ROLE_LOCAL_PARTS:
            self._warn(line, email, "role address (kept, flagged)")
        values: dict[str, str] = {}
        for name, indexes, limit in self.scalar_plan:
            cell = cells[indexes[0]] if len(indexes) == 1 else _first(cells, indexes)
            if not cell:
                continue
            if limit is not None and len(cell) <= limit:
                values[name] = cell
                continue
            memo = self._cleaned[name]
            cleaned = memo.get(cell)
            if cleaned is None:
                cleaned = clean_value(name, cell)
                if len(memo) < 10_000:
                    memo[cell] = cleaned
            value, problem = cleaned
            if problem:
                self._warn(line, email, f"{problem}: value dropped")
            if value:
                values[name] = value
        multi: dict[str, list[str]] = {}
        for name, indexes in self.multi_plan:
            cell = cells[indexes[0]] if len(indexes) == 1 else _first(cells, indexes)
            if not cell:
                continue
            split = self._split.get(cell)
            if split is None:
                split = split_multi(cell)
                if len(self._split) < 10_000:
                    self._split[cell] = split
            items, refused = split
            for item in refused:
                self._warn(line, email, f"{name[:-1]} {item[:40]!r}... too long: dropped")
            if items:
                multi[name] = items
        custom = {header: cells[i] for header, i in self.custom_columns if cells[i]}
        return ContactRow(email, [line], values, multi, custom)

    def _warn(self, line: int, email: str, message: str) -> None:
        self.report.warnings.append({"line": line, "email": email, "message": message})


def _first(cells: list[str], indexes: list[int]) -> str:
    """The first non-empty cell among the columns a field was given."""
    for index in indexes:
        if cells[index]:
            return cells[index]
    return ""


# --- writing ----------------------------------------------------------------------------------

IMPORTED, UPDATED, UNCHANGED, SKIPPED = "imported", "updated", "unchanged", "skipped"
MULTI_TABLES = (("beats", BEATS, "beat"), ("tags", TAGS, "tag"))
_CONTACT_COLUMNS = ("email", *SCALAR_FIELDS)


class BulkStatements:
    """The set-based writes, per dialect.

    SQLite: Core INSERT statements compiled once and run with the driver's executemany (its
    loop is in C) on ready tuples, new ids read back with one SELECT per chunk; values are
    converted with the columns' own bind processors, computed once where they are constant.
    PostgreSQL: one statement per chunk over ``unnest`` of array parameters, since executemany
    there is one round trip per row and a multi-row VALUES of 14,000 parameters is slow to
    build and parse.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        dialect = conn.dialect
        self.stamp = CONTACTS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self.to_json = CONTACTS.c.custom.type.dialect_impl(dialect).bind_processor(dialect)
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _sqlite_many(
        self, key: str, statement: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """executemany of a Core statement compiled once, on tuples in ``names`` order."""
        compiled = self._compiled.get(key)
        if compiled is None:
            built = statement.values({name: bindparam(name) for name in names}).compile(
                dialect=self.conn.dialect
            )
            order = tuple(built.positiontup or ())
            assert sorted(order) == sorted(names), (order, names)
            compiled = (built.string, order)
            self._compiled[key] = compiled
        sql, order = compiled
        if order != names:
            position = [names.index(name) for name in order]
            rows = [tuple(row[i] for i in position) for row in rows]
        self.conn.exec_driver_sql(sql, rows)

    def among(self, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL ``= ANY(array)`` with the array as one
        parameter: an IN of 1,000 parameters is compared element by element, row by row, when
        the planner has no statistics yet (a table filling up inside this transaction)."""
        if not self.postgres:
            return column.in_(values)
        element = BigInteger() if isinstance(column.type, Integer) else Text()
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))

    def _stamp(self, now: datetime) -> Any:
        return self.stamp(now) if self.stamp is not None else now

    def insert_contacts(self, rows: list[ContactRow], now: datetime) -> dict[str, int]:
        if self.postgres:
            columns = ", ".join(_CONTACT_COLUMNS)
            arrays = ", ".join(f"CAST(:{name} AS text[])" for name in _CONTACT_COLUMNS)
            sql = (
                f"INSERT INTO contacts ({columns}, custom, status, created_at, updated_at) "  # noqa: S608
                f"SELECT {columns}, custom, 'active', :now, :now "
                f"FROM unnest({arrays}, CAST(:custom AS json[])) "
                f"AS v({columns}, custom) RETURNING id, email"
            )
            statement = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
            params: dict[str, Any] = {
                "email": [row.email for row in rows],
                **{name: [row.values.get(name, "") for row in rows] for name in SCALAR_FIELDS},
                "custom": [json.dumps(row.custom) for row in rows],
                "now": now,
            }
            return {email: cid for cid, email in self.conn.execute(statement, params)}
        stamp = self._stamp(now)
        to_json = self.to_json or json.dumps
        names = (*_CONTACT_COLUMNS, "custom", "status", "created_at", "updated_at")
        self._sqlite_many(
            "contacts",
            insert(CONTACTS),
            names,
            [
                (
                    row.email,
                    *[row.values.get(name, "") for name in SCALAR_FIELDS],
                    to_json(row.custom) if row.custom else "{}",
                    "active",
                    stamp,
                    stamp,
                )
                for row in rows
            ],
        )
        query = select(CONTACTS.c.id, CONTACTS.c.email).where(
            CONTACTS.c.email.in_([row.email for row in rows])
        )
        return {email: cid for cid, email in self.conn.execute(query)}

    def update_contacts(self, changed: list[dict[str, Any]], now: datetime) -> None:
        """``changed``: full new values of SCALAR_FIELDS and custom, plus ``id``."""
        if self.postgres:
            assignments = ", ".join(f"{name} = v.{name}" for name in (*SCALAR_FIELDS, "custom"))
            columns = ", ".join(("id", *SCALAR_FIELDS, "custom"))
            arrays = ", ".join(f"CAST(:{name} AS text[])" for name in SCALAR_FIELDS)
            sql = (
                f"UPDATE contacts SET {assignments}, updated_at = :now "  # noqa: S608
                f"FROM unnest(CAST(:id AS bigint[]), {arrays}, CAST(:custom AS json[])) "
                f"AS v({columns}) WHERE contacts.id = v.id"
            )
            statement = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
            params: dict[str, Any] = {
                "id": [values["id"] for values in changed],
                **{name: [values[name] for values in changed] for name in SCALAR_FIELDS},
                "custom": [json.dumps(values["custom"]) for values in changed],
                "now": now,
            }
            self.conn.execute(statement, params)
            return
        self.conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in (*SCALAR_FIELDS, "custom")})
            .values(updated_at=bindparam("updated_at")),
            [
                {**{k: v for k, v in values.items() if k != "id"}, "_id": values["id"]}
                | {"updated_at": now}
                for values in changed
            ],
        )

    def insert_pairs(self, table: Table, column: str, pairs: list[tuple[int, str]]) -> None:
        """Rows of (contact_id, value) into a beats/tags table."""
        if not pairs:
            return
        if self.postgres:
            sql = (
                f"INSERT INTO {table.name} (contact_id, {column}) "  # noqa: S608
                "SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:values AS text[]))"
            )
            self.conn.execute(
                text(sql),
                {"ids": [cid for cid, _ in pairs], "values": [value for _, value in pairs]},
            )
            return
        self._sqlite_many(table.name, insert(table), ("contact_id", column), pairs)

    def add_members(self, list_id: int, contact_ids: list[int], now: datetime) -> None:
        if not contact_ids:
            return
        if self.postgres:
            sql = (
                "INSERT INTO list_members (list_id, contact_id, added_at) "
                "SELECT :list_id, id, :now FROM unnest(CAST(:ids AS bigint[])) AS v(id) "
                "ON CONFLICT DO NOTHING"
            )
            self.conn.execute(
                text(sql).bindparams(bindparam("now", type_=UTCDateTime())),
                {"list_id": list_id, "ids": contact_ids, "now": now},
            )
            return
        stamp = self._stamp(now)
        self._sqlite_many(
            "members",
            sqlite.insert(MEMBERS).on_conflict_do_nothing(),
            ("list_id", "contact_id", "added_at"),
            [(list_id, cid, stamp) for cid in contact_ids],
        )


class ChunkWriter:
    """Collects distinct addresses and writes them CHUNK at a time with set-based statements."""

    def __init__(
        self,
        conn: Connection,
        report: ImportReport,
        *,
        update_existing: bool,
        list_id: int | None,
    ) -> None:
        self.conn = conn
        self.bulk = BulkStatements(conn)
        self.report = report
        self.update_existing = update_existing
        self.list_id = list_id
        self.pending: dict[str, ContactRow] = {}
        # Addresses written by earlier chunks: first line and what happened to them.
        self.written: dict[str, tuple[int, str]] = {}
        self.duplicate_entries: dict[str, dict[str, Any]] = {}

    def add(self, row: ContactRow) -> None:
        email = row.email
        earlier = self.pending.get(email)
        if earlier is not None:
            self._duplicate(email, earlier.lines[0], row.lines[0])
            earlier.merge(row)
            return
        written = self.written.get(email)
        if written is not None:  # written by an earlier chunk: merged into the stored contact
            self._duplicate(email, written[0], row.lines[0])
        self.pending[email] = row
        if len(self.pending) >= CHUNK:
            self.flush()

    def _duplicate(self, email: str, first: int, line: int) -> None:
        entry = self.duplicate_entries.get(email)
        if entry is None:
            entry = {"email": email, "lines": [first]}
            self.duplicate_entries[email] = entry
            self.report.duplicates.append(entry)
        entry["lines"].append(line)

    def flush(self) -> None:
        rows = list(self.pending.values())
        self.pending.clear()
        if not rows:
            return
        now = utcnow()
        columns = [CONTACTS.c.id, CONTACTS.c.email, CONTACTS.c.custom]
        columns += [CONTACTS.c[name] for name in SCALAR_FIELDS]
        existing = {
            found.email: found._asdict()
            for found in self.conn.execute(
                select(*columns).where(self.bulk.among(CONTACTS.c.email, [r.email for r in rows]))
            )
        }
        fresh = [r for r in rows if r.email not in existing]
        ids = self.bulk.insert_contacts(fresh, now) if fresh else {}
        current_multi = self._current_multi(
            [existing[r.email]["id"] for r in rows if r.email in existing and r.multi]
        )
        changed: list[dict[str, Any]] = []
        replace: dict[str, dict[int, list[str]]] = {name: {} for name in MULTI_FIELDS}
        for row in rows:
            found = existing.get(row.email)
            if found is None:
                self.written[row.email] = (row.lines[0], IMPORTED)
                self.report.imported += 1
                for name, items in row.multi.items():
                    replace[name][ids[row.email]] = items
                continue
            cid = found["id"]
            ids[row.email] = cid
            before = self.written.get(row.email)
            if before is None and not self.update_existing:
                self.written[row.email] = (row.lines[0], SKIPPED)
                self.report.skipped_existing += 1
                continue
            if before is not None and before[1] == SKIPPED:
                continue
            new_values = _changes(found, row)
            multi_changed = False
            for name, items in row.multi.items():
                if set(items) != current_multi[name].get(cid, set()):
                    replace[name][cid] = items
                    multi_changed = True
            outcome = UPDATED if new_values is not None or multi_changed else UNCHANGED
            if outcome == UPDATED:
                changed.append({**(new_values or _row_values(found)), "id": cid})
            if before is None:
                if outcome == UPDATED:
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
                self.written[row.email] = (row.lines[0], outcome)
            elif before[1] == UNCHANGED and outcome == UPDATED:  # a later duplicate changed it
                self.report.unchanged -= 1
                self.report.updated += 1
                self.written[row.email] = (before[0], UPDATED)
        if changed:
            self.bulk.update_contacts(changed, now)
        for name, table, column in MULTI_TABLES:
            wanted = replace[name]
            if not wanted:
                continue
            replaced = [cid for cid in wanted if cid in current_multi[name]]
            if replaced:
                self.conn.execute(
                    delete(table).where(self.bulk.among(table.c.contact_id, replaced))
                )
            self.bulk.insert_pairs(
                table, column, [(cid, item) for cid, items in wanted.items() for item in items]
            )
        if self.list_id is not None:
            self.bulk.add_members(self.list_id, sorted(set(ids.values())), now)

    def _current_multi(self, contact_ids: list[int]) -> dict[str, dict[int, set[str]]]:
        current: dict[str, dict[int, set[str]]] = {name: {} for name in MULTI_FIELDS}
        if not contact_ids:
            return current
        for name, table, column in MULTI_TABLES:
            query = select(table.c.contact_id, table.c[column]).where(
                self.bulk.among(table.c.contact_id, contact_ids)
            )
            for cid, value in self.conn.execute(query):
                current[name].setdefault(cid, set()).add(value)
        return current


def _changes(found: dict[str, Any], row: ContactRow) -> dict[str, Any] | None:
    """The contact's full new values when the row changes any of them, else None."""
    values = _row_values(found)
    changed = False
    for name, value in row.values.items():
        if value and values[name] != value:
            values[name] = value
            changed = True
    if row.custom:
        merged = {**values["custom"], **row.custom}
        if merged != values["custom"]:
            values["custom"] = merged
            changed = True
    return values if changed else None


def _row_values(found: dict[str, Any]) -> dict[str, Any]:
    values = {name: found[name] for name in SCALAR_FIELDS}
    values["custom"] = dict(found["custom"] or {})
    return values


def _list_id(conn: Connection, name: str) -> int:
    found = conn.scalar(select(LISTS.c.id).where(LISTS.c.name == name))
    if found is not None:
        return int(found)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(LISTS)
        .values(name=name, description="", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    created = conn.scalar(select(LISTS.c.id).where(LISTS.c.name == name))
    assert created is not None
    return int(created)


@contextmanager
def _import_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 64 MB page cache for the import (indexes of 100,000 rows outgrow the default
    2 MB), the connection's own setting restored afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection  # outside SQLAlchemy's transaction
    assert driver is not None
    before = int(driver.execute("PRAGMA cache_size").fetchone()[0])
    driver.execute("PRAGMA cache_size = -65536")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {before}")


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
        with engine.connect() as conn, _import_cache(conn):
            transaction = conn.begin()
            try:
                list_id = _list_id(conn, list_name) if list_name else None
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
