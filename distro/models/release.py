"""Press releases."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from distro.models.types import UTCDateTime, utcnow


class ReleaseStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENT = "sent"
    WITHDRAWN = "withdrawn"


class Release(SQLModel, table=True):
    __tablename__ = "releases"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=200, unique=True)
    title: str = Field(max_length=500)
    subtitle: str = Field(default="", max_length=1000)
    dateline: str = Field(default="", max_length=200)
    release_date: date | None = None
    body_md: str = Field(default="", sa_type=Text)
    boilerplate: str = Field(default="", sa_type=Text)
    # [{name, role, phone, email}]
    media_contacts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # [{label, url}]
    asset_links: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    language: str = Field(default="en", max_length=20)
    embargo_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The IANA zone staff typed the embargo in, so it is shown back in that zone.
    embargo_tz: str = Field(default="UTC", max_length=64)
    status: str = Field(default=ReleaseStatus.DRAFT, max_length=20)
    # When the first real send of it went out: the web copy is public from then (and the lift).
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When it was last taken back to draft (`distro release reopen`): advance copies sent before
    # that were of an earlier version, so they no longer leave anyone out of a send.
    reopened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
