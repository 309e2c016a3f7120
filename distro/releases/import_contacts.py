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
# Every pattern below runs over whole pasted lines, which can be megabytes long, so none may
# try a long run of characters from each of its positions (quadratic): a pattern that opens with
# a repeated class starts only where that class's run starts (the lookbehinds), and the cloaking
# and starred forms, whose ends can be far away, are found in one forward pass (``_hidden_spans``).
EMAIL_RE = re.compile(
    r"(?:mailto:)?(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)
_REDACTED_RE = re.compile(
    r"\[\s*(?:e-?mail\s*)?(?:protected|redacted|hidden|removed)\s*\]"
    r"|\(\s*e-?mail\s+(?:address\s+)?(?:redacted|hidden|protected|removed)\s*\)"
    r"|e-?mail\s+(?:address\s+)?(?:redacted|hidden|protected)",
    re.I,
)
# "This email address is being protected from spambots. You need JavaScript enabled to view it."
# (a CMS's cloak): through "enabled to view it", or to the end of the line, within one part.
_CLOAK_RE = re.compile(r"this\s+e-?mail\s+address\s+is\s+being\s+protected\s+from\s+spambots", re.I)
_CLOAK_END_RE = re.compile(r"enabled\s+to\s+view\s+it\.?", re.I)
_PART_END_RE = re.compile(r"[|;]")
_OBFUSCATED_RE = re.compile(
    r"(?<![\w.+\-])[\w.+\-]+\s*[\[({<]\s*at\s*[\])}>]\s*[\w\-]+"
    r"(?:\s*(?:[\[({<]\s*dot\s*[\])}>]|\.)\s*[\w\-]+)+"
    r"|(?<![\w.+\-])(?=\w)[\w.+\-]+\s+(?:at|AT)\s+[\w\-]+(?:\s+(?:dot|DOT)\s+[A-Za-z]{2,})+\b",
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
# Tried only where a run of spaces (or a separator) starts, and the spaces taken possessively:
# the blanked-out parts of a line leave long runs of spaces.
_PART_SPLIT_RE = re.compile(r"(?<!\s)\s*+(?:\||;|,|(?<=\s)[\u2013\u2014-]\s|/\s)\s*")
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


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each (start, end) span replaced by as many spaces, positions kept (one
    pass over the text, however many spans)."""
    if not spans:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in spans:
        pieces += [text[done:start], " " * (end - start)]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _cloak_spans(text: str) -> list[tuple[int, int]]:
    """Spans of a CMS's spam cloak, each through "enabled to view it" or to the end of the line
    when no "|" or ";" comes first; the next of each is remembered, so one forward pass."""
    spans: list[tuple[int, int]] = []
    part_end: int = -1
    closing: tuple[int, int] = (-1, -1)  # (start, end) of the next closing; (n, n) when none
    pos = 0
    while (head := _CLOAK_RE.search(text, pos)) is not None:
        if part_end < head.end():
            found = _PART_END_RE.search(text, head.end())
            part_end = found.start() if found else len(text)
        if closing[0] < head.end():
            ends = _CLOAK_END_RE.search(text, head.end())
            closing = ends.span() if ends else (len(text) + 1, len(text) + 1)
        if closing[1] <= part_end:
            spans.append((head.start(), closing[1]))
        elif part_end == len(text):
            spans.append((head.start(), len(text)))
        pos = spans[-1][1] if spans and spans[-1][0] == head.start() else head.start() + 1
    return spans


def _starred_spans(text: str) -> list[tuple[int, int]]:
    """Words with stars on one side of the "@" ("j***@x.org", "jane@***.org"): per word, two
    string searches rather than a pattern backtracking over the word."""
    spans: list[tuple[int, int]] = []
    for word in _WORD_RE.finditer(text):
        value = word.group()
        if "@" not in value:
            continue
        stars = value.find("**")
        star_then_at = stars >= 0 and value.find("@", stars + 2, len(value) - 1) >= 0
        at = value.find("@", 1)
        at_then_star = at >= 0 and value.find("**", at + 1) >= 0
        if star_then_at or at_then_star:
            spans.append(word.span())
    return spans


_WORD_RE = re.compile(r"\S+")


def _hidden(text: str) -> list[tuple[int, int]]:
    """Non-overlapping spans of redacted or cloaked addresses, leftmost first."""
    candidates = sorted(
        [m.span() for m in _REDACTED_RE.finditer(text)] + _cloak_spans(text),
        key=lambda span: (span[0], -span[1]),
    )
    spans: list[tuple[int, int]] = []
    for start, end in candidates:
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    rest = _blanked(text, spans)
    return sorted(spans + _starred_spans(rest))


def _after_fax_label(text: str, start: int) -> bool:
    """Whether "fax" (and only non-word characters) comes right before ``start``."""
    i = start
    while i > 0 and not (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[max(0, i - 3) : i].lower() == "fax"


def read_details(line: str) -> _Details:
    """Split a line into its emails, hidden emails, phones and remaining text parts.

    Each kind is looked for on the line with the kinds before it blanked out (positions kept),
    one linear pass per kind: pasted text can be one line of megabytes.
    """
    details = _Details()
    rest = CONTACT_LABEL_RE.sub("", line, count=1)
    spans = _hidden(rest)
    details.hidden += [("redacted", rest[start:end].strip()) for start, end in spans]
    rest = _blanked(rest, spans)
    spans = [match.span() for match in _OBFUSCATED_RE.finditer(rest)]
    details.hidden += [("obfuscated", rest[start:end].strip()) for start, end in spans]
    rest = _blanked(rest, spans)
    spans = [match.span() for match in EMAIL_RE.finditer(rest)]
    details.emails += [rest[start:end].removeprefix("mailto:") for start, end in spans]
    rest = _blanked(rest, spans)
    spans = []
    for match in PHONE_RE.finditer(rest):
        digits = sum(c.isdigit() for c in match.group())
        if 7 <= digits <= 15:
            if not _after_fax_label(rest, match.start()):
                details.phones.append(match.group().strip(" .-"))
            spans.append(match.span())
    rest = _DETAIL_LABEL_RE.sub(" ", _blanked(rest, spans))
    parts = (part.strip(" :-\u2013\u2014*_").lstrip(".") for part in _PART_SPLIT_RE.split(rest))
    details.texts = [part for part in parts if re.search(r"\w", part)]
    return details


def has_contact_details(line: str) -> bool:
    return read_details(line).reachable


def has_phone(line: str) -> bool:
    return bool(read_details(line).phones)


# A contact line is a name, a role and a few ways to reach them: one longer than this is prose
# (or a whole page pasted as one line), not read for details at all.
_LONGEST_CONTACT_LINE = 1000


def is_unlabelled_contact(line: str) -> bool:
    """ "Fernanda Durand | (214) 402-0186 | x@y.org": a named person with a way to reach them."""
    if len(line) > _LONGEST_CONTACT_LINE:
        return False
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
