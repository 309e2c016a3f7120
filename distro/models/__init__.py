"""SQLModel tables, one module per aggregate. Importing this package registers every table."""

from distro.models.audience import (
    Contact,
    ContactBeat,
    ContactList,
    ContactTag,
    ListMember,
    Segment,
    Suppression,
    SuppressionLog,
    SuppressionReason,
)
from distro.models.release import Release, ReleaseStatus
from distro.models.sending import Message, MessageStatus, Send, SendStatus
from distro.models.tracking import Event, EventType
from distro.models.types import UTCDateTime, utcnow

__all__ = [
    "Contact",
    "ContactBeat",
    "ContactList",
    "ContactTag",
    "Event",
    "EventType",
    "ListMember",
    "Message",
    "MessageStatus",
    "Release",
    "ReleaseStatus",
    "Segment",
    "Send",
    "SendStatus",
    "Suppression",
    "SuppressionLog",
    "SuppressionReason",
    "UTCDateTime",
    "utcnow",
]
