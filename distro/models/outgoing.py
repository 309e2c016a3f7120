"""Outgoing webhooks: staff-registered URLs that receive our normalised events, and the log of
every POST made to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime, utcnow


class OutgoingWebhook(SQLModel, table=True):
    __tablename__ = "outgoing_webhooks"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    # The signing secret, encrypted with a key derived from server.secret_key: the receiver
    # needs the same secret, so it cannot be hashed, but a database dump alone does not leak it.
    secret_sealed: str = Field(sa_type=Text)
    # Event types delivered (EventType values); empty: every type.
    event_types: list[str] = Field(default_factory=list, sa_type=JSON)
    # Only events of this send's messages; None: every event.
    send_id: int | None = Field(default=None, foreign_key="sends.id")
    # False: paused by staff.
    active: bool = True
    # Every event with an id up to here was delivered (or did not match the filters).
    cursor_event_id: int = 0
    # The batch in hand ends here: it is sent again, exactly, until the receiver accepts it.
    batch_last_id: int | None = None
    consecutive_failures: int = 0
    # The first failure of the current run of failures.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when it failed too often for too long: no more attempts until staff resume it.
    gave_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The worker delivering it now, so two workers never post the same endpoint at once.
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutgoingDelivery(SQLModel, table=True):
    __tablename__ = "outgoing_webhook_deliveries"
    __table_args__ = (
        Index("ix_outgoing_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_outgoing_deliveries_attempted", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="outgoing_webhooks.id")
    # "events" (a batch) or "ping" (`distro hooks test`).
    kind: str = Field(default="events", max_length=10)
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_event_id: int | None = None
    last_event_id: int | None = None
    event_count: int = 0
    ok: bool = False
    # None: no HTTP answer (connection refused, timeout ...): see error.
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int = 0
