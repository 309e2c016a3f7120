"""Unsubscribing from the link in a release, and subscribing again from the same page.

Someone who unsubscribed and follows the link again is told they are unsubscribed and may
subscribe again. Subscribing again lifts only an ``unsubscribed`` suppression: a bounce, a
complaint or staff's "do not contact" is never lifted by a link in an email (an address that
bounced would only bounce again, and a complaint or staff's decision is not the reader's to
undo). The lift is written to the suppression log with source ``resubscribe link`` and stored as
a ``resubscribed`` event on the message whose link was used, in one transaction.

Event ids: the one-click POST may be repeated (mail clients retry), so an unsubscribe stays one
event per message, ``unsubscribe:{message}``; after a resubscribe from that message's link the
next unsubscribe is a new one, ``unsubscribe:{message}:{n}`` (n the resubscribes so far), so
unsubscribing again suppresses again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Engine, func, select
from sqlmodel import col

from distro.audience.suppression import find_suppression, remove_suppression
from distro.db import reading, session_scope
from distro.models import Event, EventType, Message, Suppression, SuppressionReason
from distro.models.types import utcnow
from distro.tracking.event import NormalisedEvent, OptOutScope
from distro.tracking.events import store_events, store_in

RESUBSCRIBE_SOURCE = "resubscribe link"


class Standing(StrEnum):
    """Where an address stands, as the unsubscribe page tells its owner."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"  # by their own choice: they may subscribe again
    BLOCKED = "blocked"  # suppressed for another reason (bounce, complaint, staff)


@dataclass(frozen=True)
class Subscription:
    email: str
    standing: Standing
    since: datetime | None = None


@dataclass(frozen=True)
class LinkRecipient:
    """Who an unsubscribe link was sent to: the message it names, its address and contact."""

    message_id: int
    email: str
    contact_id: int


def link_recipient(engine: Engine, message_id: int) -> LinkRecipient | None:
    """The recipient of the message a verified link names; None when the message is gone (its
    contact deleted, say), which the page shows as an invalid link."""
    with reading(engine) as conn:
        row = conn.execute(
            select(col(Message.email), col(Message.contact_id)).where(col(Message.id) == message_id)
        ).one_or_none()
    return None if row is None else LinkRecipient(message_id, row[0], row[1])


def _standing(found: Suppression | None) -> Standing:
    if found is None:
        return Standing.SUBSCRIBED
    if found.reason == SuppressionReason.UNSUBSCRIBED:
        return Standing.UNSUBSCRIBED
    return Standing.BLOCKED


def subscription_of(engine: Engine, email: str) -> Subscription:
    with session_scope(engine) as session:
        found = find_suppression(session, email)
        return Subscription(email, _standing(found), found.created_at if found else None)


def _resubscribes(conn: Connection, message_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Event)
        .where(
            col(Event.message_id) == message_id,
            col(Event.provider) == "distro",
            col(Event.type) == EventType.RESUBSCRIBED,
        )
    )
    return int(conn.scalar(query) or 0)


def unsubscribe(engine: Engine, message_id: int, email: str) -> None:
    """Unsubscribe from everything (the one-click POST and the page's button): an
    ``unsubscribed`` event for the message, which suppresses the address."""
    with reading(engine) as conn:
        again = _resubscribes(conn, message_id)
    event_id = f"unsubscribe:{message_id}" + (f":{again}" if again else "")
    event = NormalisedEvent(
        type=EventType.UNSUBSCRIBED,
        provider_event_id=event_id,
        occurred_at=utcnow(),
        recipient=email,
        message_id=message_id,
        signed_link=True,
        description="unsubscribe link",
        scope=OptOutScope.ALL,
    )
    store_events(engine, "distro", [event])


def resubscribe(engine: Engine, message_id: int, email: str) -> Subscription:
    """Lift the address's ``unsubscribed`` suppression, log it and record the event; any other
    suppression is left as it is. Returns where the address stands afterwards."""
    with session_scope(engine) as session:
        found = find_suppression(session, email)
        standing = _standing(found)
        if standing != Standing.UNSUBSCRIBED:
            return Subscription(email, standing, found.created_at if found else None)
        remove_suppression(
            session,
            email,
            source=RESUBSCRIBE_SOURCE,
            note=f"subscribed again from the unsubscribe page of message {message_id}",
        )
        conn = session.connection()
        count = _resubscribes(conn, message_id)
        event = NormalisedEvent(
            type=EventType.RESUBSCRIBED,
            provider_event_id=f"resubscribe:{message_id}:{count + 1}",
            occurred_at=utcnow(),
            recipient=email,
            message_id=message_id,
            signed_link=True,
            description="subscribed again from the unsubscribe page",
        )
        store_in(conn, "distro", [event])
    return Subscription(email, Standing.SUBSCRIBED)
