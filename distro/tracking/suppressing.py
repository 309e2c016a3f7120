"""Which stored events put an address on the suppression list, and putting it there.

Called by the event store (``distro.tracking.events``) in its transaction with the batch's new
events: hard bounces, complaints and unsubscribes suppress at once, soft bounces once they reach
the configured limit within the window; each suppression names the event that caused it. This
module only decides; the suppression list is written by its service
(``distro.audience.suppression.add_suppressions``), as for staff and imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Table, func, select

from distro.audience.suppression import NewSuppression, add_suppressions
from distro.config_sections import SuppressionSettings
from distro.models import Event, EventType, SuppressionReason
from distro.tracking.detail import BOUNCE_KIND
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope
from distro.tracking.matching import Found, Refused, chunks

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_NOTE_WIDTH = 1000


class _Cause(NamedTuple):
    """The event that puts an address on the suppression list, and why."""

    reason: SuppressionReason
    event_id: int
    event: NormalisedEvent
    why: str


def suppression_reason(event: NormalisedEvent) -> SuppressionReason | None:
    """Which events put the address on the suppression list at once.

    An unsubscribe from some beats only (``scope`` "beats", the preference centre) is not one.
    """
    if event.type == EventType.BOUNCED and event.bounce_kind == BounceKind.HARD:
        return SuppressionReason.HARD_BOUNCE
    if event.type == EventType.COMPLAINED:
        return SuppressionReason.COMPLAINT
    if event.type == EventType.UNSUBSCRIBED and event.scope != OptOutScope.BEATS:
        return SuppressionReason.UNSUBSCRIBED
    return None


def is_soft_bounce(event: NormalisedEvent) -> bool:
    return event.type == EventType.BOUNCED and event.bounce_kind == BounceKind.SOFT


def stored_address(value: str) -> str:
    """An address as events store it, and as soft bounces are counted by."""
    return value.replace("\x00", "").strip().lower()  # PostgreSQL refuses NUL


def suppress(
    conn: Connection,
    provider: str,
    new: list[tuple[int, NormalisedEvent, Found]],
    rules: SuppressionSettings,
    now: datetime,
) -> None:
    """Suppress at once for hard bounces, complaints and unsubscribes; for soft bounces once
    the address has ``rules.soft_bounce_limit`` of them within the window. The first event
    that decides it is recorded as the cause. A refused event suppresses nobody: not the
    message it named, and not the address it reported either (whoever sent it chose that)."""
    causes: dict[str, _Cause] = {}
    soft: dict[str, tuple[int, NormalisedEvent]] = {}
    for event_id, event, match in new:
        if isinstance(match, Refused):
            continue
        address = match.email.strip().lower() if match else stored_address(event.recipient)
        if not address:
            continue
        reason = suppression_reason(event)
        if reason is not None:
            causes.setdefault(address, _Cause(reason, event_id, event, event.description))
        elif is_soft_bounce(event):
            soft[address] = (event_id, event)  # the latest one tips it over
    pending = sorted(set(soft) - set(causes))
    if pending:
        since = now - timedelta(days=rules.soft_bounce_window_days)
        days = f"{rules.soft_bounce_window_days:g}"
        for address, count in _soft_bounce_counts(conn, pending, since):
            if count >= rules.soft_bounce_limit:
                event_id, event = soft[address]
                why = f"{count} soft bounces within {days} days"
                description = event.description
                causes[address] = _Cause(
                    SuppressionReason.SOFT_BOUNCE,
                    event_id,
                    event,
                    f"{why}: {description}" if description else why,
                )
    if causes:
        _add_suppressions(conn, provider, causes, now)


def _soft_bounce_counts(
    conn: Connection, addresses: list[str], since: datetime
) -> Iterator[tuple[str, int]]:
    e = EVENTS
    bounce_type = e.c.detail[BOUNCE_KIND].as_string()
    for chunk in chunks(addresses):
        query = (
            select(e.c.recipient, func.count())
            .where(
                e.c.type == EventType.BOUNCED,
                e.c.occurred_at >= since,
                e.c.recipient.in_(chunk),
                bounce_type == str(BounceKind.SOFT),
            )
            .group_by(e.c.recipient)
        )
        for recipient, count in conn.execute(query):
            yield recipient, int(count)


def _add_suppressions(
    conn: Connection, provider: str, causes: dict[str, _Cause], now: datetime
) -> None:
    entries = [
        NewSuppression(
            address,
            cause.reason,
            source=f"{provider} {cause.event.type} event"[:200],
            note=cause.why[:_NOTE_WIDTH],
            log_note=_log_note(cause),
            event_id=cause.event_id,
        )
        for address, cause in sorted(causes.items())
    ]
    add_suppressions(conn, entries, now)


def _log_note(cause: _Cause) -> str:
    note = f"event {cause.event_id} ({cause.event.provider_event_id})"
    return note + (f": {cause.why[:_NOTE_WIDTH]}" if cause.why else "")
