"""The embargo rule, in one place, and the notice that makes an early copy legitimate.

The rule: no email without the embargo notice is handed to a provider before the lift. It is
checked when a send is scheduled, when it fires, and again just before every hand-over, because
embargoes move.
"""

from __future__ import annotations

from datetime import datetime

from distro.moments import zone


def blocks(embargo_at: datetime | None, with_notice: bool, now: datetime) -> bool:
    """Whether sending now would break the embargo."""
    return embargo_at is not None and embargo_at > now and not with_notice


def lift_text(embargo_at: datetime, zone_name: str) -> str:
    """'09:00 PST on Sunday 22 November 2026 (17:00 UTC)': the lift as people read it."""
    local = embargo_at.astimezone(zone(zone_name))
    utc = embargo_at.astimezone(zone("UTC"))
    text = f"{local:%H:%M} {local:%Z} on {local:%A} {local.day} {local:%B %Y}"
    return text if local.utcoffset() == utc.utcoffset() else f"{text} ({utc:%H:%M} UTC)"


def notice_text(embargo_at: datetime, zone_name: str) -> str:
    return f"EMBARGOED: not for publication or broadcast before {lift_text(embargo_at, zone_name)}."
