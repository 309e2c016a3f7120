"""Which events an endpoint gets next, and the JSON they travel as.

Events are delivered in id order. On SQLite ids become visible in that order (one writer at a
time). On PostgreSQL a sequence hands out ids before commit, so an event may appear after one
with a higher id; only events stored at least ``settle_seconds`` ago are delivered there, which
is safe for every transaction that commits within that time of storing its events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Table, func, select

from distro.models import Event, Message, OutgoingWebhook, Send

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
ENDPOINTS: Table = OutgoingWebhook.__table__  # type: ignore[attr-defined]

# The provider's own event object is kept for audit, not forwarded: receivers get our
# normalised view only.
HIDDEN_DETAIL = frozenset({"raw"})


def horizon(conn: Connection, now: datetime, settle: timedelta) -> int:
    """The highest event id up to which every event is visible and may be delivered."""
    query = select(func.max(EVENTS.c.id))
    if conn.dialect.name != "sqlite" and settle > timedelta(0):
        query = query.where(EVENTS.c.received_at <= now - settle)
    return int(conn.scalar(query) or 0)


def matching_events(
    conn: Connection, endpoint: Row[Any], upper: int, limit: int | None
) -> list[dict[str, Any]]:
    """The endpoint's events after its cursor, up to ``upper``, lowest ids first, as JSON."""
    e, m, s = EVENTS, MESSAGES, SENDS
    query = (
        select(
            e.c.id,
            e.c.type,
            e.c.occurred_at,
            e.c.message_id,
            m.c.send_id,
            s.c.release_id,
            e.c.recipient,
            e.c.provider,
            e.c.detail,
        )
        .select_from(e.outerjoin(m, m.c.id == e.c.message_id).outerjoin(s, s.c.id == m.c.send_id))
        .where(e.c.id > endpoint.cursor_event_id, e.c.id <= upper)
        .order_by(e.c.id)
        .limit(limit)
    )
    if endpoint.event_types:
        query = query.where(e.c.type.in_(list(endpoint.event_types)))
    if endpoint.send_id is not None:
        query = query.where(m.c.send_id == endpoint.send_id)
    return [event_payload(row) for row in conn.execute(query)]


def event_payload(row: Any) -> dict[str, Any]:
    detail = row.detail if isinstance(row.detail, dict) else {}
    return {
        "id": row.id,
        "type": row.type,
        "occurred_at": row.occurred_at.isoformat(),
        "message_id": row.message_id,
        "send_id": row.send_id,
        "release_id": row.release_id,
        "recipient": row.recipient,
        "provider": row.provider,
        "detail": {k: v for k, v in detail.items() if k not in HIDDEN_DETAIL},
    }


def delivery_id(endpoint_id: int, first: int, last: int) -> str:
    """Stable for a batch however often it is sent again: receivers may deduplicate on it."""
    return f"{endpoint_id}-{first}-{last}"


def batch_body(endpoint_id: int, delivery: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"endpoint": endpoint_id, "delivery": delivery, "events": events}
