"""What reports read instead of scanning events: per-message outcomes and per-send rollups.

``distro.tracking.summary`` keeps these up to date in the transaction that stores each event, so
a report over a million messages reads a few thousand rows. Counts of *recipients* (opened,
clicked, bounced ...) are incremented once per message, when its first such event arrives;
totals (opens, clicks) once per event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime


class MessageOutcome(SQLModel, table=True):
    """One message's story so far, folded from its events (a row once it has any)."""

    __tablename__ = "message_outcomes"

    message_id: int = Field(foreign_key="messages.id", primary_key=True, ondelete="CASCADE")
    # First moments: the earliest event of each kind, whatever order they arrived in.
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deferred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    bounced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "hard" or "soft"; a hard bounce wins over soft ones.
    bounce_type: str = Field(default="", max_length=10)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # first human open
    machine_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    clicked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # first human click
    machine_clicked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    complained_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unsubscribed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # First preference-centre opt-out of a beat: not an unsubscribe (the address stays mailable).
    beat_opted_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opens: int = 0  # human
    machine_opens: int = 0
    clicks: int = 0  # human
    machine_clicks: int = 0
    # Why it bounced or failed: the earliest event of the gravest kind (hard bounce, soft
    # bounce, failure), so the same whatever order events arrive in; and that event's moment.
    reason: str = Field(default="", sa_type=Text)
    reason_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The links it clicked (human clicks, sorted): a link's clickers count each recipient once.
    clicked_urls: list[str] = Field(default_factory=list, sa_type=JSON)


class ReportRollup(SQLModel, table=True):
    """A send's counts, whole (dimension "") and per outlet, beat, region, provider, domain.

    ``recipients`` and ``suppressed`` describe the audience as expanded (filled once, see
    ``distro.reports.audience``); every other column is kept by the event summary. The event
    totals (opens_*, clicks_*) are kept on the whole send's row only: breakdowns count
    recipients, so a repeated open touches one row.
    """

    __tablename__ = "report_rollups"

    send_id: int = Field(foreign_key="sends.id", primary_key=True, ondelete="CASCADE")
    dimension: str = Field(max_length=20, primary_key=True)
    value: str = Field(max_length=320, primary_key=True)
    recipients: int = 0
    suppressed: int = 0
    delivered: int = 0
    deferred: int = 0
    bounced: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opened: int = 0  # recipients with any open
    opened_human: int = 0
    opened_machine: int = 0
    opens_human: int = 0
    opens_machine: int = 0
    clicked: int = 0  # recipients with any click
    clicked_human: int = 0
    clicked_machine: int = 0
    clicks_human: int = 0
    clicks_machine: int = 0
    complained: int = 0
    unsubscribed: int = 0
    beat_opted_out: int = 0  # recipients who dropped a beat in the preference centre


class ReportTimeline(SQLModel, table=True):
    """Per send and UTC minute: what happened then (reports merge minutes into hours)."""

    __tablename__ = "report_timeline"

    send_id: int = Field(foreign_key="sends.id", primary_key=True, ondelete="CASCADE")
    minute: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    # Messages handed over in that minute: taken from messages.sent_at by the report (see
    # distro.reports.audience), not by the event summary.
    sent: int = 0
    delivered: int = 0
    opens_human: int = 0
    opens_machine: int = 0
    clicks_human: int = 0
    clicks_machine: int = 0
    bounces: int = 0


class ReportLink(SQLModel, table=True):
    """Clicks per original link of a send."""

    __tablename__ = "report_links"

    send_id: int = Field(foreign_key="sends.id", primary_key=True, ondelete="CASCADE")
    url: str = Field(max_length=2000, primary_key=True)
    clicks_human: int = 0
    clicks_machine: int = 0
    clickers: int = 0  # recipients with a human click on it


class ReportBounce(SQLModel, table=True):
    """Bounces of a send grouped by kind and reason."""

    __tablename__ = "report_bounces"

    send_id: int = Field(foreign_key="sends.id", primary_key=True, ondelete="CASCADE")
    bounce_type: str = Field(max_length=10, primary_key=True)
    reason: str = Field(max_length=300, primary_key=True)
    bounces: int = 0
    # One MTA response with that reason, as an example for people (the smallest, so the same
    # whatever order bounces arrive in).
    example: str = Field(default="", sa_type=Text)


class ReportSnapshot(SQLModel, table=True):
    """What of a send's report was computed from its messages, and against which state.

    The audience (recipients and suppressed per dimension) is fixed once the send is expanded,
    so it is counted once. The per-minute ``sent`` counts are fixed once nothing is left to hand
    over; ``sent_key`` is the message status counts they were taken at, and a change (a retry,
    a resolved message) makes the next report count them again.
    """

    __tablename__ = "report_snapshots"

    send_id: int = Field(foreign_key="sends.id", primary_key=True, ondelete="CASCADE")
    audience_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_key: str | None = Field(default=None, max_length=300)
