"""Sends (release x audience x moment) and their messages: the outbox, one row per recipient."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime, utcnow


class SendStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its moment
    SENDING = "sending"  # expanded into messages; workers are delivering them
    PAUSED = "paused"  # no new claims until resumed
    SENT = "sent"  # every message reached a final sending state
    CANCELLED = "cancelled"
    MISSED = "missed"  # its moment passed while nothing ran; waits for a resume
    HELD = "held"  # the embargo guard stopped it at fire time


class SendKind(StrEnum):
    """What a send is for, fixed when it is scheduled; listings and reports name it."""

    ADVANCE_COPY = "advance_copy"  # before the lift, with the embargo notice, to trusted contacts
    AT_LIFT = "at_lift"  # at the embargo lift, following it when it moves
    AT_TIME = "at_time"  # at a moment staff gave (or as soon as possible)
    TEST = "test"  # `distro send test`: one [TEST] copy to one address

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").replace("at time", "at a time")


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting to be claimed (a lease may be on it)
    SENDING = "sending"  # handed to the provider; the answer is not recorded yet
    SENT = "sent"  # the provider accepted it
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"  # permanently refused, or out of attempts
    SUPPRESSED = "suppressed"  # never sent: the address is on the suppression list
    # Never sent: the contact already received an advance copy of the release (last_error says
    # which send); see distro.sending.advance.
    LEFT_OUT = "left_out"
    # Never sent: a beat segment left the contact out because they opted out of a beat it names
    # (last_error says which); see distro.sending.opted_out.
    OPTED_OUT = "opted_out"
    UNCERTAIN = "uncertain"  # a worker died mid-hand-over: held for staff to decide


# Statuses of a message the provider has accepted (whatever happened to it after).
HANDED_OVER = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DEFERRED,
        MessageStatus.DELIVERED,
        MessageStatus.OPENED,
        MessageStatus.CLICKED,
        MessageStatus.BOUNCED,
        MessageStatus.COMPLAINED,
        MessageStatus.UNSUBSCRIBED,
    }
)


class Send(SQLModel, table=True):
    __tablename__ = "sends"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="releases.id", index=True)
    list_names: list[str] = Field(default_factory=list, sa_type=JSON)
    segment_name: str | None = Field(default=None, max_length=200)
    where_expr: str | None = Field(default=None, sa_type=Text)
    template: str = Field(default="release", max_length=200)
    provider: str = Field(max_length=100)
    scheduled_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # True: the send follows the release's embargo moment when the embargo moves.
    at_embargo: bool = False
    # True: an embargoed advance copy, carrying the embargo notice, to embargo-trusted contacts.
    embargo_notice: bool = False
    status: str = Field(default=SendStatus.SCHEDULED, max_length=20, index=True)
    kind: str = Field(
        default=SendKind.AT_TIME, max_length=20, sa_column_kwargs={"server_default": "at_time"}
    )
    # The IANA zone the moment was given in (the release's zone when none was), to show it back.
    scheduled_tz: str = Field(
        default="UTC", max_length=64, sa_column_kwargs={"server_default": "UTC"}
    )
    # False (the default): contacts who received an advance copy of the release are left out.
    include_advance_recipients: bool = Field(
        default=False, sa_column_kwargs={"server_default": text("false")}
    )
    is_test: bool = False
    tracking: bool = True
    note: str = Field(default="", sa_type=Text)
    recipients: int = 0  # message rows when it fired, suppressed included, left out not
    left_out: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Contacts its segment left out because they opted out of a beat it names.
    opted_out: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("send_id", "contact_id", name="uq_messages_send_contact"),
        Index("ix_messages_claim", "send_id", "status", "id"),
        Index("ix_messages_provider_message_id", "provider_message_id"),
        # Rows waiting to go again under their batch's key are few: a partial index finds them
        # without scanning a send's queued rows.
        Index(
            "ix_messages_handover_key",
            "handover_key",
            sqlite_where=text("handover_key IS NOT NULL"),
            postgresql_where=text("handover_key IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    send_id: int = Field(foreign_key="sends.id")
    contact_id: int = Field(foreign_key="contacts.id", index=True)
    email: str = Field(max_length=320)
    status: str = Field(default=MessageStatus.QUEUED, max_length=20)
    provider: str = Field(max_length=100)
    provider_message_id: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # For queued rows: not before. For uncertain rows: when to ask the provider (reconcile);
    # None on an uncertain row means staff decide.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The idempotency key of the batch this row was last handed over in, kept while its fate is
    # unknown so that exactly that batch is sent again under the same key.
    handover_key: str | None = Field(default=None, max_length=100)
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The recipient as addressed when the send fired, for reports broken down by them (the
    # contact may change later; a report describes the send as it went out).
    outlet: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    region: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    beats: list[str] | None = Field(default=None, sa_type=JSON)
