"""Refused events, for staff: provider events that named one of our messages but not its
recipient (``distro.tracking.matching``), counted per send for reports and listed.

Both read the partial index ``ix_events_claimed_send``, which holds refused events only, so their
cost follows the number of refused events, not the size of the send or of the events table.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from distro.db import reading
from distro.errors import NotFoundError
from distro.models import Event, Message, Send
from distro.tracking.matching import chunks

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RefusedEvent:
    id: int
    provider: str
    type: str
    occurred_at: datetime
    received_at: datetime
    recipient: str  # the address the event reported
    claimed_message_id: int
    claimed_recipient: str | None  # that message's recipient
    send_id: int
    reason: str
    provider_event_id: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        data["received_at"] = self.received_at.isoformat()
        return data


def refused_counts(conn: Connection, send_ids: Collection[int]) -> dict[int, int]:
    """{send id: refused events that named one of its messages}, for the sends that have any."""
    sent_to = EVENTS.c.claimed_send_id
    counts: dict[int, int] = {}
    for chunk in chunks(sorted(set(send_ids))):
        query = (
            select(sent_to, func.count())
            .where(sent_to.is_not(None), sent_to.in_(chunk))
            .group_by(sent_to)
        )
        counts.update({int(send_id): int(n) for send_id, n in conn.execute(query)})
    return counts


def list_refused(
    engine: Engine, *, send_id: int | None = None, limit: int = 50
) -> list[RefusedEvent]:
    """Refused events, by send (newest first), then newest first; only those naming
    ``send_id``'s messages if given (NotFoundError for a send that does not exist)."""
    e, m = EVENTS, MESSAGES
    query = (
        select(
            e.c.id,
            e.c.provider,
            e.c.type,
            e.c.occurred_at,
            e.c.received_at,
            e.c.recipient,
            e.c.claimed_message_id,
            m.c.email.label("claimed_recipient"),
            e.c.claimed_send_id.label("send_id"),
            e.c.unmatched_reason.label("reason"),
            e.c.provider_event_id,
        )
        .select_from(e.outerjoin(m, m.c.id == e.c.claimed_message_id))
        .where(e.c.claimed_send_id.is_not(None))
        .order_by(e.c.claimed_send_id.desc(), e.c.id.desc())  # the index's order
        .limit(limit)
    )
    if send_id is not None:
        query = query.where(e.c.claimed_send_id == send_id)
    with reading(engine) as conn:
        if (
            send_id is not None
            and conn.scalar(select(SENDS.c.id).where(SENDS.c.id == send_id)) is None
        ):
            raise NotFoundError(f"no send {send_id} (see `distro sends`)")
        return [
            RefusedEvent(**{**row, "reason": row["reason"] or ""})
            for row in conn.execute(query).mappings()
        ]
