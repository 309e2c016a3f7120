"""Hits on our own links: the open pixel and the click redirect, as the web routes hand them over.

Each hit is stored as an ``opened`` or ``clicked`` event from provider "distro", with the user
agent, the address and, for a click, the URL, and classed as a person's or a machine's
(``distro.tracking.machine``, timed from the message's delivery). Reports count opens in total and
per recipient, so each hit is an event of its own; only the same client hitting the same link
twice within a second (a double click, a client fetching an image twice) is stored once.

A hit that cannot be stored is logged, not raised: the route still answers (the pixel, or the
redirect a person is waiting for), which matters more than the report.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from distro.db import reading
from distro.models import Event, EventType, Message
from distro.models.types import utcnow
from distro.tracking.event import NormalisedEvent
from distro.tracking.events import store_events
from distro.tracking.machine import classify

log = logging.getLogger(__name__)

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Hit:
    """One request for a link of ours whose token proved ``message_id``."""

    message_id: int
    user_agent: str
    ip: str


class Click(StrEnum):
    """Where a click goes: on to its URL (recorded, or not when storing failed), or to the
    invalid-link page when the two tokens belong to different messages."""

    FOLLOW = "follow"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class _Sent:
    send_id: int
    delivered_at: datetime | None  # delivered, or handed over before any report


def record_open(engine: Engine, hit: Hit, machine_seconds: float) -> None:
    """Store an open of the pixel (of a message no longer there too: the store keeps it with no
    message, as it does any event it cannot match)."""
    try:
        sent = _sent(engine, hit.message_id)
        _record(engine, EventType.OPENED, hit, sent, machine_seconds)
    except SQLAlchemyError:
        log.exception("open of message %s could not be stored", hit.message_id)


def record_click(
    engine: Engine, hit: Hit, *, send_id: int, url: str, machine_seconds: float
) -> Click:
    """Store a click through to ``url``, which the link token signed for ``send_id``: followed
    when the message is that send's; refused when it is another's (tokens of two messages put
    together) or unknown. When the message cannot even be looked up the URL is still one we
    signed, so the person goes through, unrecorded."""
    try:
        sent = _sent(engine, hit.message_id)
    except SQLAlchemyError:
        log.exception("click of message %s could not be checked or stored", hit.message_id)
        return Click.FOLLOW
    if sent is None or sent.send_id != send_id:
        return Click.REFUSE
    try:
        _record(engine, EventType.CLICKED, hit, sent, machine_seconds, url)
    except SQLAlchemyError:
        log.exception("click of message %s could not be stored", hit.message_id)
    return Click.FOLLOW


def _sent(engine: Engine, message_id: int) -> _Sent | None:
    """The message's send and when it was delivered (or handed over, before any report)."""
    delivered = (
        select(func.min(EVENTS.c.occurred_at))
        .where(EVENTS.c.message_id == message_id, EVENTS.c.type == EventType.DELIVERED)
        .scalar_subquery()
    )
    with reading(engine) as conn:
        row = conn.execute(
            select(MESSAGES.c.send_id, MESSAGES.c.sent_at, delivered).where(
                MESSAGES.c.id == message_id
            )
        ).one_or_none()
    if row is None:
        return None
    return _Sent(int(row[0]), row[2] or row[1])


def _record(
    engine: Engine,
    kind: EventType,
    hit: Hit,
    sent: _Sent | None,
    machine_seconds: float,
    url: str = "",
) -> None:
    now = utcnow()
    delivered_at = sent.delivered_at if sent else None
    verdict = classify(hit.user_agent, now, delivered_at, machine_seconds)
    client = hashlib.sha256(f"{hit.user_agent}\n{hit.ip}\n{url}".encode()).hexdigest()[:16]
    event = NormalisedEvent(
        type=kind,
        provider_event_id=f"{kind}:{hit.message_id}:{int(now.timestamp())}:{client}",
        occurred_at=now,
        message_id=hit.message_id,
        click_url=url,
        user_agent=hit.user_agent,
        ip=hit.ip,
        machine=verdict.machine,
        machine_reason=verdict.reason if verdict.machine else "",
        signed_link=True,
    )
    store_events(engine, "distro", [event])
