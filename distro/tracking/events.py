"""Storing normalised events: deduplicated, matched to their message, moving it forward only.

Every source (provider webhooks, our unsubscribe link, later the open pixel and click redirect)
reduces what it heard to ``NormalisedEvent`` and calls ``store_events``. A provider retrying a
webhook repeats its event id, which the unique (provider, provider_event_id) constraint absorbs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from distro.models import (
    Event,
    EventType,
    Message,
    MessageStatus,
    Suppression,
    SuppressionLog,
    SuppressionReason,
)
from distro.models.types import utcnow

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[attr-defined]
SUPPRESSION_LOG: Table = SuppressionLog.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    type: EventType
    provider_event_id: str
    occurred_at: datetime
    recipient: str = ""
    provider_message_id: str | None = None
    # Our own message id, when the source echoes it back (metadata, signed link tokens).
    message_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


# A message's status is the furthest thing that happened to it; events never move it back.
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.UNCERTAIN: 1,
    MessageStatus.SENT: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.DEFERRED: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.OPENED: 5,
    MessageStatus.CLICKED: 6,
    MessageStatus.BOUNCED: 7,
    MessageStatus.UNSUBSCRIBED: 8,
    MessageStatus.COMPLAINED: 9,
}

EVENT_STATUS: dict[EventType, MessageStatus] = {
    EventType.SENT: MessageStatus.SENT,
    EventType.REJECTED: MessageStatus.FAILED,
    EventType.FAILED: MessageStatus.FAILED,
    EventType.DEFERRED: MessageStatus.DEFERRED,
    EventType.DELIVERED: MessageStatus.DELIVERED,
    EventType.OPENED: MessageStatus.OPENED,
    EventType.CLICKED: MessageStatus.CLICKED,
    EventType.BOUNCED: MessageStatus.BOUNCED,
    EventType.COMPLAINED: MessageStatus.COMPLAINED,
    EventType.UNSUBSCRIBED: MessageStatus.UNSUBSCRIBED,
}


def suppression_reason(event: NormalisedEvent) -> SuppressionReason | None:
    """Which events put the address on the suppression list at once."""
    if event.type == EventType.BOUNCED and event.detail.get("bounce_type") == "hard":
        return SuppressionReason.HARD_BOUNCE
    if event.type == EventType.COMPLAINED:
        return SuppressionReason.COMPLAINT
    if event.type == EventType.UNSUBSCRIBED:
        return SuppressionReason.UNSUBSCRIBED
    return None


def store_events(engine: Engine, provider: str, events: Sequence[NormalisedEvent]) -> int:
    """Store a batch in one transaction; return how many were new (not repeats)."""
    stored = 0
    with engine.begin() as conn:
        for event in events:
            stored += _store_one(conn, provider, event)
    return stored


def _store_one(conn: Connection, provider: str, event: NormalisedEvent) -> int:
    message = _match(conn, provider, event)
    insert = _insert_ignoring_conflicts(conn, EVENTS)
    event_id = conn.scalar(
        insert.values(
            message_id=message.id if message else None,
            provider=provider,
            provider_event_id=event.provider_event_id,
            provider_message_id=event.provider_message_id,
            type=event.type,
            recipient=event.recipient or (message.email if message else ""),
            occurred_at=event.occurred_at,
            received_at=utcnow(),
            detail=event.detail,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(EVENTS.c.id)
    )
    if event_id is None:
        return 0  # a repeat of an event already stored
    if message is not None:
        _advance(conn, message.id, EVENT_STATUS.get(event.type))
    reason = suppression_reason(event)
    address = (message.email if message else event.recipient).strip().lower()
    if reason is not None and address:
        source = f"{provider} {event.type} event"
        note = str(event.detail.get("description", ""))[:1000]
        suppressed = conn.scalar(
            _insert_ignoring_conflicts(conn, SUPPRESSIONS)
            .values(
                email=address,
                reason=reason,
                source=source,
                note=note,
                event_id=event_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(SUPPRESSIONS.c.id)
        )
        if suppressed is not None:  # logged only when this event added it
            conn.execute(
                SUPPRESSION_LOG.insert().values(
                    email=address,
                    action="added",
                    reason=reason,
                    source=source,
                    note=f"event {event_id} ({event.provider_event_id})"
                    + (f": {note}" if note else ""),
                    forced=False,
                    at=utcnow(),
                )
            )
    return 1


def _match(conn: Connection, provider: str, event: NormalisedEvent) -> Any:
    m = MESSAGES
    columns = (m.c.id, m.c.email)
    if event.message_id is not None:
        row = conn.execute(select(*columns).where(m.c.id == event.message_id)).one_or_none()
        if row is not None:
            return row
    if event.provider_message_id:
        query = select(*columns).where(
            m.c.provider_message_id == event.provider_message_id, m.c.provider == provider
        )
        if event.recipient:
            query = query.where(m.c.email == event.recipient.strip().lower())
        return conn.execute(query.limit(1)).one_or_none()
    return None


def _advance(conn: Connection, message_id: int, status: MessageStatus | None) -> None:
    if status is None:
        return
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    conn.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id, MESSAGES.c.status.in_(lower))
        .values(status=status, updated_at=utcnow())
    )


def _insert_ignoring_conflicts(conn: Connection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
