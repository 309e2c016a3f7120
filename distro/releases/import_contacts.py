"""Media contacts as pasted: "Contact: Name, (951) 966-6500", "Name | phone | email", or a
block of lines under "Media contact:". Hidden or redacted addresses are reported, never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from distro.releases.text_patterns import ORGANISATION_WORDS


@dataclass
class ImportedContact:
    name: str
    phone: str = ""
    email: str = ""
    role: str = ""


CONTACT_LABEL_RE = re.compile(
    r"^\W*(?:for\s+(?:more\s+information|media\s+(?:inquiries|enquiries)|further\s+information"
    r"|press\s+(?:inquiries|enquiries))\s*,?\s*(?:please\s+)?contact"
    r"|(?:(?:media|press|news|pr|communications?|journalist)\s+)?(?:contacts?|enquiries|inquiries"
    r"|queries)(?:\s+for\s+(?:media|press|journalists))?|media|press)"
    r"\s*(?::|\s[\u2013\u2014-]\s|\||$)\s*",
    re.I,
)
EMAIL_RE = re.compile(
    r"(?:mailto:)?[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)
_REDACTED_RE = re.compile(
    r"\[\s*(?:e-?mail\s*)?(?:protected|redacted|hidden|removed)\s*\]"
    r"|\(\s*e-?mail\s+(?:address\s+)?(?:redacted|hidden|protected|removed)\s*\)"
    r"|this\s+e-?mail\s+address\s+is\s+being\s+protected\s+from\s+spambots[^|;]*?"
    r"(?:enabled\s+to\s+view\s+it\.?|$)"
    r"|e-?mail\s+(?:address\s+)?(?:redacted|hidden|protected)"
    r"|\S*\*{2,}\S*@\S+|\S+@\S*\*{2,}\S*",
    re.I,
)
_OBFUSCATED_RE = re.compile(
    r"[\w.+\-]+\s*[\[({<]\s*at\s*[\])}>]\s*[\w\-]+(?:\s*(?:[\[({<]\s*dot\s*[\])}>]|\.)\s*[\w\-]+)+"
    r"|\b[\w.+\-]+\s+(?:at|AT)\s+[\w\-]+(?:\s+(?:dot|DOT)\s+[A-Za-z]{2,})+\b",
    re.I,
)
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d[\d\s.\-]{4,}\d"
    r"(?:\s*(?:ext\.?|x|\#)\s*\d{1,6})?(?!\w)",
    re.I,
)
_DETAIL_LABEL_RE = re.compile(
    r"\b(?:tel(?:ephone)?|phone|ph|mobile|mob|cell|office|direct|main|work|e-?mail|fax|[tmpoce])"
    r"\b\.?\s*(?::|\.(?=\s)|$)",
    re.I,
)
_PART_SPLIT_RE = re.compile(r"\s*(?:\||;|,|\s[\u2013\u2014-]\s|/\s)\s*")
_ROLE_WORDS = frozenset({
    "director", "manager", "officer", "head", "coordinator", "specialist", "chief",
    "president", "vice", "ceo", "cfo", "coo", "cto", "spokesperson", "spokesman", "spokeswoman",
    "press", "media", "communications", "relations", "secretary", "executive", "associate",
    "senior", "lead", "public", "affairs", "editor", "strategist", "advisor", "adviser",
    "assistant", "consultant", "founder", "partner", "account", "contact", "contacts",
    "information", "email", "phone",
})  # fmt: skip
_PARTICLES = frozenset({"de", "da", "del", "della", "van", "von", "der", "den", "la", "le", "du",
                        "di", "bin", "al", "y", "e", "dos", "das", "st."})  # fmt: skip


def is_person_name(text: str) -> bool:
    """ "Nancy Treviño" yes; "Emergency Response Network", "Press Office", "Director" no."""
    words = text.split()
    if not 2 <= len(words) <= 5 or re.search(r"[\d@/:()]", text):
        return False
    for word in words:
        bare = word.strip(".,'\u2019").lower()
        if bare in ORGANISATION_WORDS or bare in _ROLE_WORDS:
            return False
        if not (word[0].isupper() or bare in _PARTICLES):
            return False
    return True


@dataclass
class _Details:
    """What one line (or one person's part of a line) says about a contact."""

    texts: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (kind, text as written)

    @property
    def reachable(self) -> bool:
        return bool(self.phones or self.emails or self.hidden)

    @property
    def name(self) -> str:
        return next((t for t in self.texts if is_person_name(t)), "")


def _blank(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]


def read_details(line: str) -> _Details:
    """Split a line into its emails, hidden emails, phones and remaining text parts."""
    details = _Details()
    rest = CONTACT_LABEL_RE.sub("", line, count=1)
    for kind, pattern in (("redacted", _REDACTED_RE), ("obfuscated", _OBFUSCATED_RE)):
        for match in pattern.finditer(rest):
            details.hidden.append((kind, match.group().strip()))
            rest = _blank(rest, match)
    for match in EMAIL_RE.finditer(rest):
        details.emails.append(match.group().removeprefix("mailto:"))
        rest = _blank(rest, match)
    for match in PHONE_RE.finditer(rest):
        digits = sum(c.isdigit() for c in match.group())
        if 7 <= digits <= 15 and not re.search(r"fax\W*$", rest[: match.start()], re.I):
            details.phones.append(match.group().strip(" .-"))
        if 7 <= digits <= 15:
            rest = _blank(rest, match)
    rest = _DETAIL_LABEL_RE.sub(" ", rest)
    parts = (part.strip(" :-\u2013\u2014*_").lstrip(".") for part in _PART_SPLIT_RE.split(rest))
    details.texts = [part for part in parts if re.search(r"\w", part)]
    return details


def has_contact_details(line: str) -> bool:
    return read_details(line).reachable


def has_phone(line: str) -> bool:
    return bool(read_details(line).phones)


def is_unlabelled_contact(line: str) -> bool:
    """ "Fernanda Durand | (214) 402-0186 | x@y.org": a named person with a way to reach them."""
    details = read_details(line)
    if len(details.texts) > 6 or sum(len(t.split()) for t in details.texts) > 14:
        return False
    return bool(details.emails or details.hidden) or bool(details.phones and details.name)


def _people(line: str) -> list[str]:
    """ "A, 555-1234; B, 555-5678" holds two people; split only when each part is reachable."""
    chunks = [chunk for chunk in line.split(";") if chunk.strip()]
    if len(chunks) > 1 and all(has_contact_details(chunk) for chunk in chunks):
        return chunks
    return [line]


@dataclass
class _Pending:
    contact: ImportedContact
    hidden: list[tuple[str, str]] = field(default_factory=list)
    extra_phones: list[str] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return bool(self.contact.phone or self.contact.email or self.hidden)


def read_contacts(lines: list[str]) -> list[tuple[ImportedContact, list[str]]]:
    """Each contact in a label line and the lines under it, with the doubts about it."""
    pending: list[_Pending] = []
    for line in lines:
        for chunk in _people(line):
            _absorb(pending, read_details(chunk))
    return [
        (item.contact, _warnings(item)) for item in pending if item.contact.name or item.reachable
    ]


def _absorb(pending: list[_Pending], details: _Details) -> None:
    """Start a new contact at a person's name once the current one has a way to reach them."""
    name = details.name
    current = pending[-1] if pending else None
    if current is None or (name and (current.reachable or not current.contact.name)):
        current = _Pending(ImportedContact(name=name or ""))
        pending.append(current)
    others = [text for text in details.texts if text != current.contact.name]
    if not current.contact.name and others and not is_person_name(others[0]):
        current.contact.name = others.pop(0)
    if others:
        current.contact.role = ", ".join(filter(None, [current.contact.role, *others]))
    for phone in details.phones:
        if current.contact.phone:
            current.extra_phones.append(phone)
        else:
            current.contact.phone = phone
    for email in details.emails:
        current.contact.email = current.contact.email or email
    current.hidden += details.hidden


def _warnings(item: _Pending) -> list[str]:
    contact = item.contact
    who = f"contact {contact.name}" if contact.name else "a contact with no name"
    warnings = [] if contact.name else [f"{who} ({contact.phone or contact.email}): add the name"]
    for kind, text in item.hidden:
        warnings.append(f"{who}: email address is {kind} ({text!r})")
    if not contact.email and not item.hidden:
        warnings.append(f"{who}: no email address given")
    if item.extra_phones:
        warnings.append(f"{who}: only the first phone number was kept ({contact.phone})")
    return warnings
