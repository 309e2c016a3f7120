"""Contacts (journalists), their lists, saved segments and the suppression list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime, utcnow

# The contact's free-text columns, in the order people read them (import, segments, export).
CONTACT_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "outlet",
    "title",
    "region",
    "country",
    "language",
    "timezone",
    "notes",
)


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    # Stored trimmed and lower-cased: the de-duplication key.
    email: str = Field(max_length=320, unique=True)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    outlet: str = Field(default="", max_length=300, index=True)
    title: str = Field(default="", max_length=300)
    region: str = Field(default="", max_length=100, index=True)
    country: str = Field(default="", max_length=100)
    language: str = Field(default="", max_length=20)
    timezone: str = Field(default="", max_length=64)
    notes: str = Field(default="", sa_type=Text)
    # JSONB on PostgreSQL: segments read keys from it without re-parsing each row.
    custom: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSON().with_variant(JSONB(), "postgresql")
    )
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactBeat(SQLModel, table=True):
    """One row per (contact, beat): multi-valued fields as rows so segments can use indexes."""

    __tablename__ = "contact_beats"
    __table_args__ = (Index("ix_contact_beats_beat", "beat", "contact_id"),)

    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, ondelete="CASCADE")
    beat: str = Field(max_length=100, primary_key=True)


class BeatOptOut(SQLModel, table=True):
    """A beat a contact said, in the preference centre, they no longer want releases about.

    Their ``contact_beats`` stay as staff keep them; sends whose segment selects by that beat
    leave the contact out (see ``distro.audience.preferences``).
    """

    __tablename__ = "beat_opt_outs"
    __table_args__ = (Index("ix_beat_opt_outs_beat", "beat", "contact_id"),)

    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, ondelete="CASCADE")
    beat: str = Field(max_length=100, primary_key=True)
    # The message whose link they used, for the record.
    message_id: int | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactTag(SQLModel, table=True):
    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag", "tag", "contact_id"),)

    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(max_length=100, primary_key=True)


class ContactList(SQLModel, table=True):
    __tablename__ = "lists"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ListMember(SQLModel, table=True):
    __tablename__ = "list_members"
    __table_args__ = (Index("ix_list_members_contact", "contact_id"),)

    list_id: int = Field(foreign_key="lists.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, ondelete="CASCADE")
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Segment(SQLModel, table=True):
    __tablename__ = "segments"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    expression: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"  # after suppression.soft_bounce_limit soft bounces in the window
    COMPLAINT = "complaint"
    DO_NOT_CONTACT = "do_not_contact"


class Suppression(SQLModel, table=True):
    __tablename__ = "suppressions"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    reason: str = Field(max_length=30)
    source: str = Field(default="", max_length=200)
    note: str = Field(default="", sa_type=Text)
    # The tracking event that caused an automatic suppression, when there is one.
    event_id: int | None = Field(default=None, foreign_key="events.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SuppressionLog(SQLModel, table=True):
    """Every addition and removal on the suppression list: who was let back in, when and why."""

    __tablename__ = "suppression_log"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    action: str = Field(max_length=20)  # added | removed
    reason: str = Field(max_length=30)
    source: str = Field(default="", max_length=200)
    note: str = Field(default="", sa_type=Text)
    forced: bool = False
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
