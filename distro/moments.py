"""Moments typed by people ("2026-11-22 09:00 America/Los_Angeles", ISO 8601) and shown back.

Storage is always UTC; the zone a person typed is kept so the moment can be shown in it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distro.errors import ValidationError

EXAMPLES = '"2026-11-22 09:00 America/Los_Angeles" or ISO 8601 such as "2026-11-22T17:00:00Z"'


# A fixed offset typed as a zone: "+02:00", "-0530", "+02".
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})?$")


def offset_zone(name: str) -> timezone | None:
    """The fixed zone an offset such as "+02:00" names, or None if ``name`` is not one."""
    found = _OFFSET.match(name.strip())
    if not found:
        return None
    sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    if hours > 23 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def offset_name(offset: timedelta) -> str:
    """An offset as people write it: "+02:00", "-05:30"."""
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone(name: str) -> tzinfo:
    """The zone an IANA name ("Europe/Paris", "UTC") or a fixed offset ("+02:00") names."""
    fixed = offset_zone(name)
    if fixed is not None:
        return fixed
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None


def parse_moment(text: str, default_zone: str = "UTC") -> tuple[datetime, str]:
    """The UTC moment ``text`` names and the zone it was given in.

    ``YYYY-MM-DD HH:MM Zone/Name`` (or ``+02:00``) names its zone; ISO 8601 with an offset is
    taken as is, in that offset;
    ISO 8601 without one is read in ``default_zone``.
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValidationError(f"empty time: expected {EXAMPLES}")
    head, _, tail = cleaned.rpartition(" ")
    if head and ("/" in tail or tail.upper() == "UTC" or offset_zone(tail) is not None):
        local = _iso(head, text)
        if local.tzinfo is not None:
            raise ValidationError(f"{text!r} has both an offset and a zone name: give one")
        return local.replace(tzinfo=zone(tail)).astimezone(UTC), tail
    moment = _iso(cleaned, text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone(default_zone)).astimezone(UTC), default_zone
    offset = moment.utcoffset()
    # The offset typed is the zone it was entered in, shown back as such ("+02:00").
    return moment.astimezone(UTC), offset_name(offset) if offset else "UTC"


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
    plain = abbreviation == zone_name or offset_zone(zone_name) is not None
    return shown if plain else f"{shown} ({abbreviation})"


def show_moment_and_utc(moment: datetime, zone_name: str = "UTC") -> str:
    """A stored moment as people entered it and in UTC: ``2026-12-05 09:00 CET
    (Europe/Madrid), 08:00 UTC`` (the UTC date too when it differs)."""
    utc = moment.astimezone(UTC)
    if zone_name.upper() == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    local = moment.astimezone(zone(zone_name))
    abbreviation = local.strftime("%Z")
    plain = abbreviation in ("", zone_name) or offset_zone(zone_name) is not None
    named = zone_name if plain else f"{abbreviation} ({zone_name})"
    in_utc = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{local:%Y-%m-%d %H:%M} {named}, {in_utc} UTC"
