"""SQLModel tables, one module per aggregate. Importing this package registers every table."""

from distro.models.audience import (
    BeatOptOut,
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
from distro.models.outgoing import OutgoingDelivery, OutgoingWebhook
from distro.models.release import Release, ReleaseStatus
from distro.models.reporting import (
    MessageOutcome,
    ReportBounce,
    ReportLink,
    ReportRollup,
    ReportSnapshot,
    ReportTimeline,
)
from distro.models.sending import (
    HANDED_OVER,
    Message,
    MessageStatus,
    Send,
    SendKind,
    SendStatus,
)
from distro.models.tracking import Event, EventType
from distro.models.types import UTCDateTime, utcnow

__all__ = [
    "HANDED_OVER",
    "BeatOptOut",
    "Contact",
    "ContactBeat",
    "ContactList",
    "ContactTag",
    "Event",
    "EventType",
    "ListMember",
    "Message",
    "MessageOutcome",
    "MessageStatus",
    "OutgoingDelivery",
    "OutgoingWebhook",
    "Release",
    "ReleaseStatus",
    "ReportBounce",
    "ReportLink",
    "ReportRollup",
    "ReportSnapshot",
    "ReportTimeline",
    "Segment",
    "Send",
    "SendKind",
    "SendStatus",
    "Suppression",
    "SuppressionLog",
    "SuppressionReason",
    "UTCDateTime",
    "utcnow",
]
