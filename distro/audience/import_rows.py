"""Contact import, row by row: generous header matching and the checks that turn the cells of
one CSV row into a contact, or into a reason by line why it is not one."""

from __future__ import annotations

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
from distro.audience.csv_rows import Record, address_in_columns, header_key
from distro.csv_writer import TEXT_MARKER, unmarked
from distro.errors import ValidationError
from distro.providers.addresses import providers_refusing

# The most a spreadsheet cell holds (Excel's limit): a longer cell is not a contact's value.
CELL_LIMIT = 32_767

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
    return HEADER_ALIASES.get(header_key(header))


class RowParser:
    """Turns the cells of one row into a ContactRow, or reports why it cannot be one.

        Nothing a row holds is dropped unreported: cells past the header's width make the row
        invalid (a comma outside quotes shifts every column after it); a cell longer than
        ``CELL_LIMIT`` is dropped with a warning; where several columns give one field (two
        ``email`` columns, "Email" and "Work email", two "Twitter" columns) the first non-empty one
        is used and any other that differs is listed for that line (beats and tags take them all);
        a value in a column without a header is listed too. A ``'`` before a formula character
        is the text marker a contacts export (``distro.csv_writer``) adds, and is dropped.

        Built for speed on 100,000-row files: cells are trimmed once, every field is read by index,
        and the cleaned time zones, languages and split beat/tag cells are memoised (a journalist
        list repeats the same few thousands of times). Plain text fields only get a length check and
    ``str.isprintable`` (anything else goes through ``clean_value``).
    """

    def __init__(self, path: Path, header: Record, report: ImportReport) -> None:
        self.headers = headers = [unmarked(cell.strip()) for cell in header.cells]
        columns: dict[str, list[int]] = {}
        custom: dict[str, list[int]] = {}
        self.unnamed: list[int] = []
        for index, text in enumerate(headers):
            name = header_field(text)
            if name is not None:
                columns.setdefault(name, []).append(index)
            elif not text:
                self.unnamed.append(index)
            elif header_key(text) not in IGNORED_HEADERS:
                custom.setdefault(text, []).append(index)
        if "email" not in columns:
            raise ValidationError(
                f"{path}: line {header.line}: no email column among the headers {headers}"
            )
        self.report = report
        self.width = len(headers)
        self.email_columns = columns.pop("email")
        # A line met inside a quoted cell that would start a row shows an unbalanced quote.
        self.starts_row = address_in_columns(self.email_columns, self.width)
        # (field, columns, limit or None when the value needs clean_value)
        self.scalar_plan: list[tuple[str, list[int], int | None]] = []
        for name in SCALAR_FIELDS:
            if name in columns:
                plain = name not in ("timezone", "language")
                self.scalar_plan.append(
                    (name, columns[name], FIELD_LIMITS[name] if plain else None)
                )
        self.multi_plan = [(n, columns[n]) for n in MULTI_FIELDS if n in columns]
        self.custom_single = [(h, indexes[0]) for h, indexes in custom.items() if len(indexes) == 1]
        self.custom_several = [(h, indexes) for h, indexes in custom.items() if len(indexes) > 1]
        # Columns that lose to an earlier column of the same field -> that field.
        self.shadowed: dict[int, str] = {}
        for label, indexes in (
            ("email", self.email_columns),
            *((name, indexes) for name, indexes, _ in self.scalar_plan),
            *self.custom_several,
        ):
            if len(indexes) > 1:
                self.shadowed.update(dict.fromkeys(indexes[1:], label))
                both = "both" if len(indexes) == 2 else "all"
                report.warnings.append(
                    {
                        "line": header.line,
                        "email": "",
                        "message": f"columns {self._columns(indexes)} {both} give {label}: each "
                        "row takes the first non-empty one; rows where the others differ "
                        "are listed",
                    }
                )
        self.addresses = AddressNormaliser()
        self._cleaned: dict[str, dict[str, tuple[str, str | None]]] = {
            name: {} for name in SCALAR_FIELDS
        }
        self._split: dict[str, tuple[list[str], list[str]]] = {}

    def _columns(self, indexes: list[int]) -> str:
        names = [f"{index + 1} ({self.headers[index]!r})" for index in indexes]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def parse(self, line: int, row: list[str]) -> ContactRow | None:
        """The contact of one row; None for a blank row, or an invalid one (reported)."""
        cells = [cell.strip() for cell in row]
        # One string for the row's rare cases: blank, a cell marked by a contacts export, or huge.
        joined = "\n".join(cells)
        if not joined.strip():
            return None
        if joined.startswith(TEXT_MARKER) or "\n" + TEXT_MARKER in joined:
            cells = [unmarked(cell).strip() for cell in cells]
        width = self.width
        if len(cells) > width and any(cells[width:]):
            self._invalid(
                line,
                _first(cells, self.email_columns),
                f"{len(cells)} cells where the header has {width}: a comma outside quotes?",
            )
            return None
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        huge: list[tuple[int, int]] = []  # (column, length) of cells over CELL_LIMIT, emptied
        if len(joined) > CELL_LIMIT:
            for index, cell in enumerate(cells):
                if len(cell) > CELL_LIMIT:
                    huge.append((index, len(cell)))
                    cells[index] = ""
        differing: list[int] = []  # columns whose value lost to another column of its field
        emails = self.email_columns
        address = cells[emails[0]] if len(emails) == 1 else self._pick(cells, emails, differing)
        if not address:
            reason = "no email address"
            if any(index in emails for index, _ in huge):
                reason = f"the email cell is longer than {CELL_LIMIT:,} characters"
            self._invalid(line, "", reason)
            return None
        try:
            email = self.addresses.normalise(address)
        except EmailNotValidError as exc:
            self._invalid(line, address, str(exc))
            return None
        if email[: email.index("@")] in ROLE_LOCAL_PARTS:
            self._warn(line, email, "role address (kept, flagged)")
        refusing = providers_refusing(email)
        if refusing:
            # Kept: Mailgun and SMTPUTF8 relays take it; a send through the others fails this
            # one message with the reason (distro.providers.addresses).
            self._warn(
                line,
                email,
                f"non-ASCII local part (kept): {', '.join(refusing)} cannot take it, only "
                "mailgun and SMTP relays offering SMTPUTF8 can",
            )
        values: dict[str, str] = {}
        for name, indexes, limit in self.scalar_plan:
            cell = cells[indexes[0]] if len(indexes) == 1 else self._pick(cells, indexes, differing)
            if not cell:
                continue
            if limit is not None and len(cell) <= limit and cell.isprintable():
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
            if len(indexes) == 1:
                cell = cells[indexes[0]]
                items = self._split_cell(line, email, name, cell) if cell else []
            else:  # several columns for beats (or tags): all of them count
                items = list(
                    dict.fromkeys(
                        item
                        for index in indexes
                        if cells[index]
                        for item in self._split_cell(line, email, name, cells[index])
                    )
                )
            if items:
                multi[name] = items
        custom = {header: cells[i] for header, i in self.custom_single if cells[i]}
        for header, indexes in self.custom_several:
            cell = self._pick(cells, indexes, differing)
            if cell:
                custom[header] = cell
        for index, length in huge:
            self._warn(
                line,
                email,
                f"column {self._columns([index])}: a cell of {length:,} characters, longer than "
                f"{CELL_LIMIT:,}: value dropped",
            )
        for index in differing:
            self._warn(
                line,
                email,
                f"column {self._columns([index])} holds another {self.shadowed[index]}, "
                f"{cells[index][:60]!r}: not imported (the first non-empty one is)",
            )
        for index in self.unnamed:
            if cells[index]:
                self._warn(
                    line,
                    email,
                    f"column {index + 1} has no header: its value {cells[index][:60]!r} "
                    "is not imported",
                )
        return ContactRow(email, [line], values, multi, custom)

    def _split_cell(self, line: int, email: str, name: str, cell: str) -> list[str]:
        split = self._split.get(cell)
        if split is None:
            split = split_multi(cell)
            if len(self._split) < 10_000:
                self._split[cell] = split
        items, refused = split
        for item in refused:
            self._warn(line, email, f"{name[:-1]} {item[:40]!r}... too long: dropped")
        return items

    @staticmethod
    def _pick(cells: list[str], indexes: list[int], differing: list[int]) -> str:
        """The first non-empty cell among a field's columns; the columns holding something
        else (case aside) go to ``differing``."""
        chosen = ""
        for index in indexes:
            cell = cells[index]
            if not cell:
                continue
            if not chosen:
                chosen = cell
            elif cell.casefold() != chosen.casefold():
                differing.append(index)
        return chosen

    def _invalid(self, line: int, email: str, reason: str) -> None:
        self.report.invalid.append({"line": line, "email": email, "reason": reason})

    def _warn(self, line: int, email: str, message: str) -> None:
        self.report.warnings.append({"line": line, "email": email, "message": message})


def _first(cells: list[str], indexes: list[int]) -> str:
    """The first non-empty cell among the columns a field was given."""
    for index in indexes:
        if index < len(cells) and cells[index]:
            return cells[index]
    return ""
