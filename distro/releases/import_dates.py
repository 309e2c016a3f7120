"""Dates, times and embargo lines as people write them in press releases.

Everything here reads a *shape* ("Feb. 2, 2021", "9:00 a.m. ET") and reports what it could not
read instead of guessing: an embargo sent early cannot be taken back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Abbreviations and names people write after a time, mapped to the zone they mean.
ZONE_NAMES = {
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "EASTERN": "America/New_York",
    "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
    "CENTRAL": "America/Chicago",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "MOUNTAIN": "America/Denver",
    "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "PACIFIC": "America/Los_Angeles",
    "GMT": "UTC", "UTC": "UTC", "Z": "UTC",
    "BST": "Europe/London",
    "CET": "Europe/Paris", "CEST": "Europe/Paris",
}  # fmt: skip

_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(?P<year>\d{{4}})\b", re.I),  # Feb. 2, 2021
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(?P<year>\d{{4}})\b", re.I),  # 2 Feb 2021
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),  # 2021-02-02
    re.compile(r"\b(?P<first>\d{1,2})([/.-])(?P<second>\d{1,2})\2(?P<year>\d{4})\b"),  # 02/02/2021
)
_WEEKDAY_RE = re.compile(
    r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|rsday|urday)?\b\.?",
    re.I,
)
_TIME_RE = re.compile(
    r"\b(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ap>[ap])\.?\s*m\b\.?"
    r"|\b(?P<h24>\d{1,2})[:h](?P<m24>\d{2})(?::\d{2})?\b(?:\s*(?:hrs|hours|h)\b\.?)?"
    r"|\b(?:12\s*)?(?P<word>noon|midday|midnight)\b",
    re.I,
)
_OFFSET_RE = re.compile(r"\b(?:UTC|GMT)\s*(?P<sign>[+-])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?\b")
_IANA_RE = re.compile(r"\b[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_\-]+){1,2}\b")
_ZONE_WORD_RE = re.compile(
    r"\b(?P<zone>" + "|".join(sorted(ZONE_NAMES, key=len, reverse=True)) + r")\b(?:\s+time\b)?",
    re.I,
)
_ISO_MOMENT_RE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])"
)
_PARENTHESES_RE = re.compile(r"\([^()]*\)")
EMBARGO_LINE_RE = re.compile(
    r"^\W*(?:strictly\s+)?(?:embargo(?:ed)?|under\s+embargo|not\s+for\s+(?:release|publication"
    r"|broadcast)|hold\s+for\s+release)\b",
    re.I,
)
# Words an embargo line may hold besides its date, time and zone.
_EMBARGO_FILLER = frozenset({
    "embargo", "embargoed", "strictly", "under", "until", "till", "til", "not", "for",
    "release", "publication", "publish", "broadcast", "or", "and", "before", "after", "at",
    "on", "the", "of", "by", "hold", "no", "earlier", "than", "hours", "hrs", "h", "local",
    "time", "day", "online", "print",
})  # fmt: skip


@dataclass
class FoundDate:
    """A date found in text, where it was, and whether its reading was a coin toss."""

    value: date
    start: int
    end: int
    ambiguous: bool = False


@dataclass
class Embargo:
    """What an embargo line yielded; ``at`` stays None unless the line was fully read."""

    at: datetime | None = None
    zone: str = "UTC"
    warnings: list[str] = field(default_factory=list)


def _month_number(token: str) -> int:
    return int(token) if token.isdigit() else MONTHS[token[:3].lower()]


def find_date(text: str) -> FoundDate | None:
    """The leftmost calendar date written in ``text``; numeric d/m order is guessed as US."""
    found: list[FoundDate] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            parsed = _date_from(match)
            if parsed is not None:
                found.append(parsed)
                break
    return min(found, key=lambda item: item.start) if found else None


def _date_from(match: re.Match[str]) -> FoundDate | None:
    groups = match.groupdict()
    ambiguous = False
    if groups.get("first"):
        first, second = int(groups["first"]), int(groups["second"])
        month, day = (second, first) if first > 12 else (first, second)
        ambiguous = first <= 12 and second <= 12 and first != second
    else:
        month, day = _month_number(groups["month"]), int(groups["day"])
    try:
        value = date(int(groups["year"]), month, day)
    except ValueError:
        return None
    return FoundDate(value, match.start(), match.end(), ambiguous)


def _residue(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the given spans blanked out, so leftovers can be checked."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:[-'\u2019][^\W_]+)*", text)


def parse_date_line(line: str) -> FoundDate | None:
    """A line that is only a date (maybe with a weekday or a "Date:" label), else None."""
    found = find_date(line)
    if found is None:
        return None
    rest = _WEEKDAY_RE.sub(" ", _residue(line, [(found.start, found.end)]))
    leftover = [w for w in _words(rest) if w.lower() not in {"date", "dated", "released", "on"}]
    return None if leftover else found


def weekday_mismatch(text: str, value: date) -> str | None:
    """The weekday named in ``text`` when it is not ``value``'s weekday."""
    for match in _WEEKDAY_RE.finditer(text):
        named = next(d for d in WEEKDAYS if d.startswith(match.group().rstrip(".").lower()[:3]))
        if WEEKDAYS[value.weekday()] != named:
            return named.capitalize()
    return None


def resolve_zone(name: str) -> ZoneInfo | None:
    """The zone for an IANA name, or None when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_embargo_line(line: str) -> bool:
    return bool(EMBARGO_LINE_RE.match(line)) and len(line.split()) <= 30


@dataclass
class _Zone:
    """The zone an embargo line names: recorded name, clock rules, where it was, any doubt."""

    name: str
    tz: tzinfo
    span: tuple[int, int] | None = None
    warning: str = ""


def parse_embargo(line: str, default_zone: str) -> Embargo:
    """Read "EMBARGOED UNTIL 9:00 a.m. ET, Tuesday, March 3, 2026" and its many cousins."""
    iso = _ISO_MOMENT_RE.search(line)
    if iso is not None:
        return _embargo_from_iso(line, iso, default_zone)
    main, checks = _split_cross_checks(line)
    found = find_date(main)
    if found is None:
        return _unreadable(line, "has no readable date", default_zone)
    clock = _TIME_RE.search(_residue(main, [(found.start, found.end)]))
    if clock is None:
        return _unreadable(line, "has no readable time", default_zone)
    spans = [(found.start, found.end), clock.span()]
    zone = _find_zone(_residue(main, spans), default_zone)
    leftover = _leftover_words(_residue(main, [*spans, zone.span or (0, 0)]))
    if any(any(c.isdigit() for c in word) for word in leftover):
        return _unreadable(line, "holds more numbers than one date and time", default_zone)
    moment = datetime.combine(found.value, _clock_time(clock), tzinfo=zone.tz).astimezone(UTC)
    warnings = [zone.warning] if zone.warning else []
    if leftover:
        warnings.append(f"embargo line {line!r}: words not understood ({' '.join(leftover)})")
    if found.ambiguous:
        warnings.append(
            f"embargo date in {line!r} could be day/month or month/day; read as {found.value}"
        )
    wrong_day = weekday_mismatch(main, found.value)
    if wrong_day:
        warnings.append(
            f"embargo line {line!r} says {wrong_day} but {found.value} is a "
            f"{found.value:%A}; the date was used"
        )
    warnings += _cross_check(line, checks, moment)
    return Embargo(moment, zone.name, warnings)


def _unreadable(line: str, why: str, default_zone: str) -> Embargo:
    return Embargo(zone=default_zone, warnings=[f"embargo line {line!r} {why}; set it by hand"])


def _split_cross_checks(line: str) -> tuple[str, list[str]]:
    """Parenthesised restatements such as "(17:00 UTC)" are checks, not the embargo itself."""
    checks: list[str] = []

    def take(match: re.Match[str]) -> str:
        if _TIME_RE.search(match.group()) is None:
            return match.group()
        checks.append(match.group()[1:-1])
        return " " * len(match.group())

    return _PARENTHESES_RE.sub(take, line), checks


def _cross_check(line: str, checks: list[str], moment: datetime) -> list[str]:
    """Warn when a "(17:00 UTC)"-style restatement disagrees with the main reading."""
    warnings: list[str] = []
    for check in checks:
        clock = _TIME_RE.search(check)
        word = _ZONE_WORD_RE.search(check)
        if clock is None or word is None:
            continue
        local = moment.astimezone(ZoneInfo(ZONE_NAMES[word.group("zone").upper()]))
        if local.time().replace(second=0) != _clock_time(clock):
            warnings.append(
                f"embargo line {line!r} restates the time as {check!r}, which disagrees"
            )
    return warnings


def _find_zone(text: str, default_zone: str) -> _Zone:
    """The zone written in what is left of an embargo line once date and time are gone."""
    fallback = ZoneInfo(default_zone)
    offset = _OFFSET_RE.search(text)
    if offset is not None:
        sign = -1 if offset.group("sign") == "-" else 1
        delta = timedelta(hours=int(offset.group("oh")), minutes=int(offset.group("om") or 0))
        warning = "" if not delta else _offset_warning(offset.group())
        return _Zone("UTC", timezone(sign * delta), offset.span(), warning)
    iana = _IANA_RE.search(text)
    if iana is not None:
        zone = resolve_zone(iana.group())
        if zone is not None:
            return _Zone(iana.group(), zone, iana.span())
        return _Zone(default_zone, fallback, iana.span(), _assumed(iana.group(), default_zone))
    word = _ZONE_WORD_RE.search(text)
    if word is not None:
        name = ZONE_NAMES[word.group("zone").upper()]
        return _Zone(name, ZoneInfo(name), word.span())
    unknown = re.search(r"\b[A-Z]{2,5}\b", text)
    if unknown is not None:
        return _Zone(
            default_zone, fallback, unknown.span(), _assumed(unknown.group(), default_zone)
        )
    if re.search(r"\blocal\s+time\b", text, re.I):
        return _Zone(
            default_zone, fallback, None, f"embargo is in 'local time'; assumed {default_zone}"
        )
    return _Zone(
        default_zone, fallback, None, f"embargo names no time zone; assumed {default_zone}"
    )


def _assumed(name: str, default_zone: str) -> str:
    return f"embargo time zone {name!r} is not recognised; assumed {default_zone}"


def _offset_warning(text: str) -> str:
    return f"embargo was given as a UTC offset ({text.strip()}); its zone is recorded as UTC"


def _clock_time(match: re.Match[str]) -> time:
    word = (match.group("word") or "").lower()
    if word:
        return time(0, 0) if word == "midnight" else time(12, 0)
    if match.group("h24") is not None:
        return time(int(match.group("h24")) % 24, int(match.group("m24")) % 60)
    hour, minute = int(match.group("h")) % 12, int(match.group("m") or 0) % 60
    return time(hour + (12 if match.group("ap").lower() == "p" else 0), minute)


def _leftover_words(text: str) -> list[str]:
    rest = _WEEKDAY_RE.sub(" ", text)
    return [w for w in _words(rest) if w.lower() not in _EMBARGO_FILLER]


def _embargo_from_iso(line: str, match: re.Match[str], default_zone: str) -> Embargo:
    """ISO 8601 moments: an offset is taken as is, otherwise the written zone applies."""
    moment = datetime.fromisoformat(match.group())
    if moment.tzinfo is not None:
        offset = moment.utcoffset()
        warnings = [_offset_warning(match.group())] if offset else []
        return Embargo(moment.astimezone(UTC), "UTC", warnings)
    zone = _find_zone(_residue(line, [match.span()]), default_zone)
    moment = moment.replace(tzinfo=zone.tz).astimezone(UTC)
    return Embargo(moment, zone.name, [zone.warning] if zone.warning else [])
