"""Moments typed by people ("2026-11-22 09:00 America/Los_Angeles", ISO 8601) and shown back.

Storage is always UTC; the zone a person typed is kept so the moment can be shown in it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distro.errors import ValidationError

EXAMPLES = '"2026-11-22 09:00 America/Los_Angeles" or ISO 8601 such as "2026-11-22T17:00:00Z"'


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None


def parse_moment(text: str, default_zone: str = "UTC") -> tuple[datetime, str]:
    """The UTC moment ``text`` names and the zone it was given in.

    ``YYYY-MM-DD HH:MM Zone/Name`` names its zone; ISO 8601 with an offset is taken as is;
    ISO 8601 without one is read in ``default_zone``.
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValidationError(f"empty time: expected {EXAMPLES}")
    head, _, tail = cleaned.rpartition(" ")
    if head and ("/" in tail or tail.upper() == "UTC"):
        local = _iso(head, text)
        if local.tzinfo is not None:
            raise ValidationError(f"{text!r} has both an offset and a zone name: give one")
        return local.replace(tzinfo=zone(tail)).astimezone(UTC), tail
    moment = _iso(cleaned, text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone(default_zone)).astimezone(UTC), default_zone
    return moment.astimezone(UTC), default_zone if moment.utcoffset() else "UTC"


def _iso(value: str, original: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise ValidationError(f"cannot read the time {original!r}: expected {EXAMPLES}") from None


def show_moment(moment: datetime | None, zone_name: str = "UTC") -> str:
    """A stored moment in ``zone_name``, with the zone named."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone(zone_name))
    abbreviation = local.strftime("%Z")
    shown = f"{local:%Y-%m-%d %H:%M} {zone_name}"
    return shown if abbreviation == zone_name else f"{shown} ({abbreviation})"


def show_moment_and_utc(moment: datetime, zone_name: str = "UTC") -> str:
    """A stored moment as people entered it and in UTC: ``2026-12-05 09:00 CET
    (Europe/Madrid), 08:00 UTC`` (the UTC date too when it differs)."""
    utc = moment.astimezone(UTC)
    if zone_name.upper() == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    local = moment.astimezone(zone(zone_name))
    abbreviation = local.strftime("%Z")
    named = zone_name if abbreviation in ("", zone_name) else f"{abbreviation} ({zone_name})"
    in_utc = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{local:%Y-%m-%d %H:%M} {named}, {in_utc} UTC"
