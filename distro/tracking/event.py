"""What every event source reduces what it heard to: ``NormalisedEvent``, typed, with no storage.

Provider webhooks (``distro.tracking.postmark`` and the other parsers), our own links (the open
pixel, the click redirect, the unsubscribe and preference pages) all build one; the event store
(``distro.tracking.events``) is the only code that knows how it is written down
(``distro.tracking.detail``). Read django-anymail's ``AnymailTrackingEvent`` for the idea: one
flat record whose optional fields say what the provider told, with the provider's own event
kept as received. A field a source had nothing for stays at its empty default.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

from distro.models import EventType


class BounceKind(StrEnum):
    """Whether a bounce says the address is gone (hard) or may take mail later (soft)."""

    HARD = "hard"
    SOFT = "soft"


class OptOutScope(StrEnum):
    """What an opt-out covers: everything (an unsubscribe, which suppresses the address) or some
    beats only (the preference centre), which suppresses nobody."""

    ALL = "all"
    BEATS = "beats"


class NormalisedEvent(NamedTuple):
    """One event, immutable. A NamedTuple rather than a frozen dataclass: a SendGrid batch builds
    a thousand of these per request, and a frozen dataclass sets each of its 22 fields through
    ``object.__setattr__`` (3.7 us an event against 1.6 us, measured), which the webhook
    benchmark would feel. Change a field with ``event._replace(...)``."""

    type: EventType
    provider_event_id: str
    occurred_at: datetime
    recipient: str = ""
    provider_message_id: str | None = None
    # Our own message id, when the source echoes it back (metadata, signed link tokens).
    message_id: int | None = None
    # Bounces: hard or soft (None for every other type, and for a rejection or failure).
    bounce_kind: BounceKind | None = None
    # The provider's short category ("HardBounce", "Bounced Address", "suppress-bounce").
    reason: str = ""
    # A sentence for people ("Unknown user", "SendGrid unsubscribe group 12").
    description: str = ""
    # What the receiving server answered ("550 5.1.1 user unknown").
    mta_response: str = ""
    # The RFC 3463 enhanced status code, given or found in the answer ("5.1.1").
    smtp_status: str = ""
    # Clicks: the page the journalist went to, never our own redirect to it (unwrapped
    # while normalising: distro.tracking.inbound).
    click_url: str = ""
    # Opens and clicks: the client as the source saw it, and whether a machine did it (None:
    # the source did not say; our own links always decide, see distro.tracking.machine).
    user_agent: str = ""
    ip: str = ""
    machine: bool | None = None
    machine_reason: str = ""
    # Unsubscribes and beat opt-outs: what they cover, and which beats.
    scope: OptOutScope | None = None
    beats: tuple[str, ...] = ()
    # Who made a provider-side suppression change (Postmark's Origin: Recipient, Customer ...).
    origin: str = ""
    # The provider's event as received (a JSON value), kept for staff and for later reading.
    raw: Any = None
    # True only for our own links (open pixel, click redirect, unsubscribe), whose signed token
    # proves ``message_id``; a provider's event must also report the message's recipient
    # (``distro.tracking.matching``).
    signed_link: bool = False
    # True for a provider record that names no address but a provider message id that is one
    # message's alone (Postmark's Unsubscribe bounce records): that message's recipient is the
    # event's. Our own id is never enough for this (see distro.tracking.matching).
    recipient_of_message: bool = False


class Said(TypedDict, total=False):
    """What a source said about an event beyond who, what and when: the optional fields of
    ``NormalisedEvent`` by name, so a parser's helpers can work them out apart and the event be
    built with ``NormalisedEvent(..., **said)``, checked by the type checker like any call."""

    bounce_kind: BounceKind | None
    reason: str
    description: str
    mta_response: str
    smtp_status: str
    click_url: str
    user_agent: str
    ip: str
    machine: bool | None
    machine_reason: str
    scope: OptOutScope | None
    beats: tuple[str, ...]
    origin: str


def bounce_kind_of(value: str) -> BounceKind | None:
    """A parser's "hard"/"soft"/"" as a bounce kind ("" and anything else: none)."""
    try:
        return BounceKind(value)
    except ValueError:
        return None
