"""Normalised tracking events: what providers and our own links tell us about each message."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime, utcnow


class EventType(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    # The address may be mailed again: a provider says so (Postmark reactivation, SendGrid
    # group_resubscribe), which is recorded for staff and lifts no suppression by itself, or the
    # journalist subscribed again from the unsubscribe page (an unsubscribe suppression lifted).
    RESUBSCRIBED = "resubscribed"
    # Informational provider notices (auto-replies, address changes, challenge mails): kept,
    # never moving a message or suppressing an address.
    OTHER = "other"
    # Unticked a beat in the preference centre: not an unsubscribe, the address is not suppressed.
    BEAT_OPTED_OUT = "beat_opted_out"


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        # A provider retrying a webhook repeats the event id: store it once.
        UniqueConstraint("provider", "provider_event_id", name="uq_events_provider_event"),
        Index("ix_events_message_type", "message_id", "type"),
        # Segments such as opened(within 30d) look events up by type and time.
        Index("ix_events_type_occurred", "type", "occurred_at", "message_id"),
        # Refused events are few: a partial index counts and lists them per send.
        Index(
            "ix_events_claimed_send",
            "claimed_send_id",
            "id",
            sqlite_where=text("claimed_send_id IS NOT NULL"),
            postgresql_where=text("claimed_send_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Null when no message matched: the event is kept, not dropped.
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    provider: str = Field(max_length=100)
    provider_event_id: str = Field(max_length=300)
    provider_message_id: str | None = Field(default=None, max_length=300)
    type: str = Field(max_length=20)
    recipient: str = Field(default="", max_length=320)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Normalised extras: bounce kind and reason, MTA response, URL, user agent ...
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # A refused event (distro.tracking.matching): the message it named although its recipient
    # is not that message's (message_id stays null), that message's send (what reports count
    # by), and why. No foreign keys: they record what the event said, not what it belongs to.
    claimed_message_id: int | None = Field(default=None)
    claimed_send_id: int | None = Field(default=None)
    unmatched_reason: str | None = Field(default=None, max_length=300)
