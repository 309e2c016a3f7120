"""What a contact's fields may hold: the tables, column limits, and the rules for addresses,
time zones, languages and multi-valued cells, shared by the CSV import and by edits.

Values are stored as given (trimmed), except that every field but ``notes`` is one line: line
breaks and control characters become spaces (``distro.single_line``), since names, outlet and
title go into email headers and one-line displays. Markup or formula-like text is kept and
neutralised where it is shown or exported, never in the database.
"""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from email_validator import validate_email
from sqlalchemy import Table

from distro.models import Contact, ContactBeat, ContactList, ContactTag, ListMember
from distro.models.audience import CONTACT_TEXT_FIELDS
from distro.single_line import single_line

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
BEATS: Table = ContactBeat.__table__  # type: ignore[attr-defined]
TAGS: Table = ContactTag.__table__  # type: ignore[attr-defined]
LISTS: Table = ContactList.__table__  # type: ignore[attr-defined]
MEMBERS: Table = ListMember.__table__  # type: ignore[attr-defined]

SCALAR_FIELDS = CONTACT_TEXT_FIELDS
MULTI_FIELDS = ("beats", "tags")
# Every scalar field but the free-text notes holds one line.
MULTI_LINE_FIELDS = frozenset({"notes"})
# Column length limits (None: unlimited), so PostgreSQL never refuses a whole import.
FIELD_LIMITS: dict[str, int | None] = {
    name: getattr(CONTACTS.c[name].type, "length", None) for name in SCALAR_FIELDS
}
MULTI_LIMIT: int = getattr(BEATS.c.beat.type, "length", None) or 100
MULTI_VALUE_SPLIT = re.compile(r"[;|]")
# BCP 47 language tag, the common shapes: en, es-MX, zh-Hant-TW, sr-Latn.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?\Z")
# RFC 5322 dot-atom (ASCII), the same pattern email-validator accepts without further checks.
_ATEXT = r"a-zA-Z0-9_!#\$%&'\*\+\-/=\?\^`\{\|\}~"
DOT_ATOM = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*\\Z")
EMAIL_MAX_OCTETS = 254


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
    value = value.strip() if name in MULTI_LINE_FIELDS else single_line(value).strip()
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


def multi_value(value: str) -> str:
    """One beat or tag as stored: one line, trimmed, lower case."""
    return single_line(value).strip().lower()


def split_multi(cell: str) -> tuple[list[str], list[str]]:
    """Beats or tags from one cell (``;`` or ``|`` separated), lower-cased, each once; and
    the values refused for being too long."""
    seen: dict[str, None] = {}
    refused: list[str] = []
    for value in MULTI_VALUE_SPLIT.split(cell):
        item = multi_value(value)
        if not item:
            continue
        if len(item) > MULTI_LIMIT:
            refused.append(item)
        else:
            seen[item] = None
    return list(seen), refused
