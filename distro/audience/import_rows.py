"""Contact import, row by row: generous header matching and the checks that turn the cells of
one CSV row into a contact, or into a reason by line why it is not one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError

from distro.audience.contact_fields import (
    FIELD_LIMITS,
    MULTI_FIELDS,
    SCALAR_FIELDS,
    AddressNormaliser,
    clean_value,
    split_multi,
)
from distro.errors import ValidationError

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
