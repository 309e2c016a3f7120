"""Bylines and author sections in pasted pages: who wrote a page is never its headline.

A page scraped from a newsroom or a blog often has no headline left, only a credit line such as
"By Javier Hernandez" above the text. Taken as the headline, it would go out as the subject of
every email. Here a byline is recognised by its shape ("By NAME", "By NAME and NAME", "By NAME,
Staff Writer", "Written by NAME", and the same in a few other languages), so the importer can
report it and keep the name as the author, and "About the author" sections are recognised as
the closing text they are, not body.

Pure and linear: every pattern is anchored, with no nested repetition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "By", "Written by" and their cousins in Spanish, French, German and Italian (bare "di" or
# "da" are left out: too many headlines start with a name that begins so).
_LEAD = (
    r"(?:(?:written|reported|story|words|posted|text|article)\s+by|by"
    r"|(?:escrito\s+)?por|(?:[ée]crit\s+)?par|(?:geschrieben\s+)?von|scritto\s+da)"
)
_LEAD_RE = re.compile(rf"^(?i:{_LEAD})[:\s]\s*(?P<rest>\S.*)$")
# One name: one to four capitalised words, with initials and the particles of surnames.
_NAME_WORD = r"[A-Z\u00c0-\u00de][\w'\u2019\-]*\.?"
_PARTICLE = r"(?:de|del|della|der|di|da|dos|du|la|le|van|von|bin|al|el|y)"
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_NAME_WORD}){{0,3}}"
_NAMES_RE = re.compile(rf"{_NAME}(?:\s+(?:and|&|y|et|und|e)\s+{_NAME})*")
# What may follow the names: a job title, an outlet or a date, after a comma, bar or dash.
_ROLE_WORDS = frozenset({
    "writer", "editor", "reporter", "correspondent", "staff", "contributor", "contributing",
    "columnist", "journalist", "author", "producer", "press", "news", "desk", "team", "wire",
    "associated", "reuters", "afp", "ap", "upi", "bureau", "director", "manager", "officer",
    "communications", "coordinator", "intern", "guest", "special", "senior", "chief",
    "redactor", "redactora", "periodista", "journaliste", "redakteur", "redakteurin",
})  # fmt: skip
# A bar, a slash or a spaced dash ends the names; a comma may still be followed by more names.
_TAIL_SPLIT_RE = re.compile(r"\s*[|/\u2013\u2014]\s*|\s+--?\s+")
_DATE_RE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{4}\b", re.I
)
_MAX_WORDS = 16

_AUTHOR_SECTION_RE = re.compile(
    r"^(?:about\s+(?:the\s+)?(?:author|authors|writer|writers|contributor|contributors)"
    r"|(?:author|writer|contributor)(?:['\u2019]s)?\s+(?:bio|biography|note)"
    r"|(?:sobre\s+el\s+autor|[àa]\s+propos\s+de\s+l['\u2019]auteur|[üu]ber\s+den\s+autor))$",
    re.I,
)


@dataclass(frozen=True)
class Byline:
    """A credit line: the names it gives (joined as written) and the line itself."""

    author: str
    line: str


def find_byline(line: str) -> Byline | None:
    """ "By Javier Hernandez, Staff Writer" → Byline("Javier Hernandez", ...); else None.

    Only a whole line that is a credit: "By 2030, solar will ..." or "By the numbers" are not,
    because what follows "By" must read as names, and anything after them (past a comma, a bar
    or a dash) as a job title, an outlet or a date.
    """
    text = _plain(line)
    if not text or len(text.split()) > _MAX_WORDS:
        return None
    if text.endswith(("!", "?", ":")) or (text.endswith(".") and not _ends_with_initial(text)):
        return None
    lead = _LEAD_RE.match(text)
    if lead is None:
        return None
    parts = _TAIL_SPLIT_RE.split(lead.group("rest"), maxsplit=1)
    return _read_credit(line, parts[0], parts[1] if len(parts) > 1 else "")


def _read_credit(line: str, credit: str, tail: str) -> Byline | None:
    """Names first; after a comma, more names or the role that ends the credit."""
    segments = [part.strip() for part in credit.split(",")]
    if not _NAMES_RE.fullmatch(segments[0]):
        return None
    authors = [segments[0]]
    for index, segment in enumerate(segments[1:], 1):
        if _is_role(segment) or _DATE_RE.search(segment):
            tail = ", ".join(segments[index:]) + (f" {tail}" if tail else "")
            break
        if not _NAMES_RE.fullmatch(segment) or len(segment.split()) < 2:
            return None  # "By Ana, Texas ..." is not a credit
        authors.append(segment)
    if tail.strip() and not (_is_role(tail) or _DATE_RE.search(tail)):
        return None
    return Byline(", ".join(authors), line)


def is_author_section(line: str) -> bool:
    """ "About the Author" / "Author bio" / "ABOUT THE WRITERS:" as a heading line."""
    return bool(_AUTHOR_SECTION_RE.match(_plain(line).rstrip(":").strip()))


def _plain(line: str) -> str:
    """The words of a line without Markdown marks around them."""
    text = re.sub(r"^#{1,6}\s+", "", line.strip())
    return text.strip("*_ ").strip()


def _ends_with_initial(text: str) -> bool:
    """ "By Martin Luther King Jr." ends with a full stop that is not a sentence's."""
    return bool(re.search(r"(?:\b[A-Z]|\bJr|\bSr)\.$", text))


def _is_role(text: str) -> bool:
    """A job title or an outlet: "Staff Writer", "The Associated Press"."""
    return bool(set(re.findall(r"[^\W\d_]+", text.lower())) & _ROLE_WORDS)
