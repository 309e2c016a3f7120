"""Shapes of pasted press-release text: clean-up, page debris, markers, datelines, "About" text.

These are general shapes (a web page's share row, a wire-service dateline, an organisation
describing itself), not the words of any one release, so the importer copes with new sources.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from distro.releases.import_dates import FoundDate, find_date

_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_SPACES += "\u202f\u205f\u3000\t\f"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_CONTROLS = "".join(chr(c) for c in range(32) if chr(c) not in "\n\r\t\v\f") + "\x7f"
_TRANSLATE = {ord(c): " " for c in _SPACES} | {ord(c): None for c in _INVISIBLE + _CONTROLS}
_NEWLINES_RE = re.compile(r"\r\n|[\r\v\x85\u2028]")


def normalize_lines(text: str) -> list[str]:
    """Lines with Unicode spaces made plain, invisible characters gone and indentation dropped.

    Typographic quotes are kept as written: they are correct text, and patterns accept both.
    """
    text = unicodedata.normalize("NFC", text).replace("\u2029", "\n\n")
    text = _NEWLINES_RE.sub("\n", text).translate(_TRANSLATE)
    return [" ".join(line.split()) for line in text.split("\n")]


_HEADING_MARK_RE = re.compile(r"^#{1,6}\s+")
_STRONG_RE = re.compile(r"(\*\*|__)(.+?)\1")
_EMPHASIS_RE = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_WORD_RE = re.compile(r"\w+")


# The importer asks about the same line many times (is it debris, a marker, a title ...): the
# answers are kept for the last few lines, so a pasted page of one enormous line is read for
# markup and words once each instead of a dozen times.
@lru_cache(maxsize=64)
def strip_markup(line: str) -> str:
    """The words of a line without Markdown heading marks, emphasis or a trailing colon."""
    text = _HEADING_MARK_RE.sub("", line) if line.startswith("#") else line
    if "*" in text or "_" in text:
        text = _STRONG_RE.sub(r"\2", text)
        text = _EMPHASIS_RE.sub(r"\2", text)
    return text.strip()


@lru_cache(maxsize=64)
def word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _key(line: str) -> str:
    """A line reduced to lowercase words, for comparing against phrase lists."""
    return " ".join(re.findall(r"[^\W_]+", strip_markup(line).lower()))


# Whole lines that web pages and word processors add around a release.
_DEBRIS_PHRASES = frozenset({
    "menu", "main menu", "navigation", "toggle navigation", "open menu", "close menu", "search",
    "home", "news", "newsroom", "press room", "back", "back to top", "top", "go to top",
    "share", "share this", "share this article", "share this post", "share on", "spread the love",
    "like this", "like", "like loading", "related", "related posts", "related articles",
    "related news", "recent posts", "leave a comment", "leave a reply", "comments", "reply",
    "subscribe", "follow us", "print", "print this page", "print friendly", "email this",
    "tweet", "tweet this", "post", "pin it", "copy link", "link copied", "read more",
    "continue reading", "accept", "decline", "got it", "ok", "accept all", "reject all",
    "accept all cookies", "cookie settings", "manage cookies", "advertisement", "sponsored",
    "loading", "you may also like", "more news", "all news", "view all", "download pdf",
    "download as pdf",
})  # fmt: skip
_SOCIAL_WORDS = frozenset({
    "facebook", "twitter", "x", "linkedin", "email", "e", "mail", "print", "pinterest",
    "whatsapp", "reddit", "tumblr", "telegram", "pocket", "share", "tweet", "more", "copy",
    "link", "instagram", "youtube", "threads", "bluesky", "messenger", "sms", "on", "via",
})  # fmt: skip
_DEBRIS_SHAPES = (
    re.compile(r"^(?:skip|jump) to (?:the )?(?:main )?(?:content|navigation|menu|search)"),
    re.compile(r"^(?:posted|published|filed|written) (?:on|in|by|under)\b"),
    re.compile(r"^(?:tags?|categories|category|filed under|topics?)\s*:"),
    re.compile(r"^(?:previous|next|older|newer) (?:post|article|story|entry|release)\b"),
    re.compile(r"^(?:copyright\b|all rights reserved)"),
    re.compile(r"^(?:share|like) this\b"),
)
_COOKIE_HINTS = ("we use", "this site", "this website", "accept", "consent", "cookie policy")
_NAV_SPLIT_RE = re.compile(r"\s*(?:\||[\u2022\u00b7\u00bb\u203a>/])\s*")
END_MARK_RE = re.compile(
    r"^(?:#\s*#\s*#(?:\s*#)*|[-\u2013\u2014]+\s*30\s*[-\u2013\u2014]+|[-\u2013\u2014]*\s*(?i:ends?)"
    r"\s*[-\u2013\u2014]*)$"
)
SEPARATOR_RE = re.compile(r"^(?:[-*_=~]\s*){3,}$")


def is_debris(line: str) -> bool:
    """Page furniture: skip links, share rows, cookie notices, menus, "posted on" lines."""
    key = _key(line)
    if not key:
        return not re.search(r"\w", line) and not SEPARATOR_RE.match(line)
    words = key.split()
    if key in _DEBRIS_PHRASES or ("©" in line and len(words) <= 15):
        return True
    if line.startswith("SOURCE ") and len(words) <= 8:  # a wire service's closing credit
        return True
    plain = strip_markup(line).lower()
    if len(words) <= 12 and not plain.endswith(".") and any(s.match(plain) for s in _DEBRIS_SHAPES):
        return True
    if all(word in _SOCIAL_WORDS for word in words) and len(words) <= 10:
        return True
    if "cookie" in key and len(words) <= 60 and any(hint in key for hint in _COOKIE_HINTS):
        return True
    return _is_menu(line)


def _is_menu(line: str) -> bool:
    """ "Home | About | News" or "Home > News > 2021": several short items, no digits."""
    items = [item for item in _NAV_SPLIT_RE.split(line) if item]
    if len(items) < 3 or "@" in line or sum(c.isdigit() for c in line) >= 7:
        return False
    return all(word_count(item) <= 3 for item in items)


_MARKER_RE = re.compile(
    r"^\W*(?:for\s+immediate\s+(?:release|distribution)|immediate\s+release"
    r"|for\s+release\s*:?\s*immediate(?:ly)?|(?:press|news|media)\s+(?:release|statement)"
    r"|media\s+advisory|statement)\b\W*(?P<rest>.*?)\W*$",
    re.I,
)


def release_marker(line: str) -> tuple[bool, FoundDate | None]:
    """("For Immediate Release //" →) (True, None); a date written after the marker is kept."""
    match = _MARKER_RE.match(strip_markup(line))
    if match is None:
        return False, None
    rest = match.group("rest")
    if not rest:
        return True, None
    found = find_date(rest)
    if found is not None and not rest[: found.start].strip(" ,:-") and word_count(rest) <= 6:
        return True, found
    return False, None


# A list item: a bullet character, then the item (ASCII marks need a space after them).
_BULLET_RE = re.compile(
    r"^(?:[\u2022\u00b7\u25e6\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u2023\u2043\u2219\u27a2\u2713"
    r"\u2714\u25ba\u25b6\uf0b7]\s*|[-*+\u2013]\s+)(?P<item>\S.*)$"
)
_NUMBERED_RE = re.compile(r"^(?P<number>\d{1,2})[.)]\s+(?P<item>\S.*)$")


def list_item(line: str) -> str | None:
    """The Markdown list item for a bulleted or numbered line ("• x" → "- x"), else None."""
    bullet = _BULLET_RE.match(line)
    if bullet is not None:
        return f"- {bullet.group('item')}"
    numbered = _NUMBERED_RE.match(line)
    if numbered is not None:
        return f"{numbered.group('number')}. {numbered.group('item')}"
    return None


@dataclass
class Dateline:
    """A dateline found at the start of a paragraph or alone on a line."""

    place: str
    rest: str
    date: FoundDate | None = None


_NOT_PLACES = frozenset({
    "UPDATE", "UPDATED", "BREAKING", "CORRECTION", "NOTE", "EDITOR", "EDITORS", "ADVISORY",
    "ALERT", "PHOTO", "VIDEO", "REMINDER", "NEWS", "EXCLUSIVE", "STATEMENT", "JOINT STATEMENT",
    "MEDIA", "PRESS", "CONTACT", "TODAY", "URGENT", "FACT SHEET", "OPINION", "Q&A",
})  # fmt: skip
_SENTENCE_OPENERS = frozenset({
    "however", "meanwhile", "today", "yesterday", "still", "also", "moreover", "indeed", "now",
    "then", "here", "there", "yes", "no", "instead", "finally", "first", "second", "third",
    "last", "again", "together", "so", "but", "and", "thus", "therefore", "likewise",
})  # fmt: skip
_CAPS_WORD = r"[A-Z][A-Z.'\u2019\-]+"
_REGION = r"(?:[A-Z]{2}|[A-Z][a-z]{1,5}\.(?:\s?[A-Z][a-z]?\.)*|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
_PLACE = (
    rf"(?P<caps>{_CAPS_WORD}(?:\s+{_CAPS_WORD}){{0,3}}(?:,\s*(?:{_CAPS_WORD}|{_REGION}))?)"
    rf"|\((?P<paren>[A-Z][^()\d]{{1,40}})\)"
    rf"|(?P<mixed>[A-Z][a-z]+(?:[\s\-][A-Z][a-z]+){{0,3}},\s*{_REGION})"
)
_DATE_TEXT = (
    r"(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?"
    r"|\d{1,2}\s+[A-Z][a-z]{2,8}\.?(?:,?\s+\d{4})?|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})"
)
_DASH = r"(?:\s*(?:--|[\u2013\u2014])\s*|\s+-\s+)"
_DATELINE_RE = re.compile(
    rf"^(?:{_PLACE})(?:\s*\((?:(?P<date3>{_DATE_TEXT})|AP|Reuters|AFP|UPI|[A-Z][\w ]{{1,20}})\))?"
    rf"(?:,?\s*(?P<date>{_DATE_TEXT}))?(?:\s*(?P<wire>/\s*[A-Za-z][\w\- ]{{1,30}}/))?"
    rf"(?P<end>{_DASH}(?:(?P<date2>{_DATE_TEXT}){_DASH})?|\s*$)"
)


def find_dateline(paragraph: str, *, alone: bool = False) -> Dateline | None:
    """ "CHICAGO, Ill. — Text" → Dateline("CHICAGO, Ill.", "Text"); ``alone`` wants no text."""
    match = _DATELINE_RE.match(paragraph)
    if match is None:
        return None
    rest = paragraph[match.end() :].strip()
    has_dash = bool(match.group("end").strip())
    if alone == bool(rest) or (not alone and not has_dash):
        return None
    place = (match.group("caps") or match.group("paren") or match.group("mixed")).strip()
    if not _plausible_place(place, match, alone):
        return None
    written = match.group("date") or match.group("date2") or match.group("date3")
    found = find_date(written) if written else None
    return Dateline(place, rest, found)


def _plausible_place(place: str, match: re.Match[str], alone: bool) -> bool:
    """Reject acronyms and labels that share a dateline's shape ("UPDATE —", "NASA")."""
    if place.upper() in _NOT_PLACES or place.split(",")[0].upper() in _NOT_PLACES:
        return False
    if match.group("mixed") and place.split()[0].rstrip(",").lower() in _SENTENCE_OPENERS:
        return False
    letters = sum(c.isalpha() for c in place)
    if match.group("caps") and (letters < 4 or (alone and word_count(place) > 4)):
        return False
    return not (alone and match.group("paren"))


_ABOUT_RE = re.compile(r"^(?i:about|à propos de|über)\s+(?:(?i:the)\s+)?[A-Z0-9\"\u201c]")


def about_heading(line: str) -> str | None:
    """ "## About Acme" / "ABOUT ACME:" / "**About Acme**" → "About Acme" (a short heading)."""
    text = strip_markup(line).rstrip(":").strip()
    if not _ABOUT_RE.match(text) or word_count(text) > 10 or text.endswith("."):
        return None
    return text


_INLINE_ABOUT_RE = re.compile(
    r"^(?P<heading>(?:\*\*)?About\s+(?:the\s+)?[A-Z][^.:\u2013\u2014]{1,80}?)(?:\*\*)?\s*(?::|\s[\u2013\u2014-]\s)"
    r"(?:\*\*)?\s*(?P<text>\S.*)$",
    re.S,
)


def inline_about(paragraph: str) -> tuple[str, str] | None:
    """ "About Acme: Acme is a ..." → ("About Acme", "Acme is a ...")."""
    match = _INLINE_ABOUT_RE.match(paragraph)
    if match is None:
        return None
    return strip_markup(match.group("heading")), match.group("text")


ORGANISATION_WORDS = frozenset({
    "network", "organization", "organisation", "coalition", "company", "nonprofit",
    "non-profit", "group", "association", "alliance", "partnership", "provider", "firm",
    "agency", "institute", "foundation", "leader", "platform", "union", "collective",
    "federation", "charity", "corporation", "manufacturer", "developer", "maker", "publisher",
    "hub", "movement", "campaign", "center", "centre", "society", "council", "project", "fund",
    "university", "college", "school", "hospital", "bank", "startup", "consortium", "advocacy",
    "library", "museum", "service", "services", "inc", "llc", "ltd", "corp", "co", "gmbh",
    "plc", "sa", "ngo", "office", "department", "committee", "commission", "initiative",
    "trust", "cooperative", "co-op", "team", "board", "authority", "ministry",
    "lab", "labs", "studio", "studios", "program", "programme", "supplier", "operator",
})  # fmt: skip
_NOT_NAMES = frozenset({
    "it", "this", "that", "there", "here", "we", "they", "he", "she", "today", "now", "what",
    "which", "who", "our", "his", "her", "their", "its", "one", "everyone", "everything",
    "nothing", "something", "all", "each", "these", "those", "such", "you", "i",
})  # fmt: skip
_NAME_PIECE = r"[A-Z0-9\u00c0-\u024f][\w&'\u2019.\-]*"
_LINK = r"(?:of|for|and|the|de|du|des|la|le|in|on|at|to|&)"
_DESCRIPTION_RE = re.compile(
    r"^(?:(?:founded|established|created|launched|headquartered|based)\s+in\s+[^,]{2,40},\s*"
    r"|since\s+\d{4},\s*)?"
    rf"(?P<name>(?:[Tt]he\s+)?{_NAME_PIECE}(?:\s+(?:{_NAME_PIECE}|{_LINK})){{0,10}})"
    r"(?:,?\s+(?:Inc|LLC|Ltd|Corp|Co|GmbH|PLC|AG|S\.A)\.?)?"
    r"(?:\s*\([^)]{1,60}\))?(?:,\s*[^,]{1,80},)?\s+"
    r"(?:(?:is|are|was|has\s+been)\s+(?:a|an|the|one|\w+['\u2019]s|dedicated|committed|working"
    r"|leading)\b|(?:serves|works|builds|provides|helps|represents|operates|offers|develops"
    r"|supports|brings|connects|empowers|makes|creates|advocates|unites)\b)"
)
_DESCRIPTION_HINTS_RE = re.compile(
    r"\b(?:founded|established|headquartered|mission|members?|visit|www\.|https?://|learn more)",
    re.I,
)


def is_organisation_description(paragraph: str) -> bool:
    """ "The X Network is a partnership of ..." / "Acme (NYSE: ACM) is the leading ...".

    The subject must read as a name and the paragraph must talk like an organisation: an
    organisation word in the name or first sentence, or founding/mission/website language.
    """
    match = _DESCRIPTION_RE.match(strip_markup(paragraph))
    if match is None:
        return False
    name = match.group("name")
    first_word = re.sub(r"^the\s+", "", name, flags=re.I).split()[0].lower()
    if first_word in _NOT_NAMES:
        return False
    first_sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0].lower()
    words = set(re.findall(r"[\w-]+", f"{name.lower()} {first_sentence}"))
    return bool(words & ORGANISATION_WORDS) or bool(_DESCRIPTION_HINTS_RE.search(paragraph))


_AUXILIARY_RE = re.compile(
    r"^(?:for more information|more information|to learn more|learn more|visit|follow|"
    r"connect with|find us|www\.|https?://)",
    re.I,
)


def is_boilerplate_companion(paragraph: str) -> bool:
    """Short "Learn more at ..." / "Follow us ..." lines that trail an organisation description."""
    return bool(_AUXILIARY_RE.match(strip_markup(paragraph))) and word_count(paragraph) <= 40
