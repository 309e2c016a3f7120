"""Postmark webhooks: HTTP Basic authentication and payload normalisation.

Postmark signs nothing; the credentials it puts in the webhook URL are the proof. Payloads carry
no event id for most record types, so one is derived from what makes the event unique. Our
message id comes back in ``Metadata``; the provider id is ``MessageID``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.models.types import utcnow
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.payloads import (
    enhanced_status,
    iso,
    optional_object,
    own_id,
    required,
    text,
)

#: Every bounce ``Type`` Postmark documents -> (normalised type, bounce kind), chosen one by one:
#: only what says the address is gone (hard), the recipient's own complaint or opt-out
#: suppresses at once; soft bounces count towards the soft-bounce limit; a refusal of our
#: sending (DMARC, blocks, API errors) fails the message without blaming the address; notices
#: that are not a delivery outcome (auto-replies, challenge mails, address changes) are OTHER.
#: A type Postmark adds later is read as a soft bounce, the cautious guess for a bounce record.
HARD, SOFT = BounceKind.HARD, BounceKind.SOFT
BOUNCE_TYPES: dict[str, tuple[EventType, BounceKind | None]] = {
    "HardBounce": (EventType.BOUNCED, HARD),
    "BadEmailAddress": (EventType.BOUNCED, HARD),
    # Deactivated by hand in Postmark: it will not send there, as after a hard bounce.
    "ManuallyDeactivated": (EventType.BOUNCED, HARD),
    "SoftBounce": (EventType.BOUNCED, SOFT),
    "Transient": (EventType.DEFERRED, None),
    "DnsError": (EventType.BOUNCED, SOFT),
    "Unknown": (EventType.BOUNCED, SOFT),
    # Refused for its content (spam filter, virus scanner): this message, not the address.
    "SpamNotification": (EventType.BOUNCED, SOFT),
    "VirusNotification": (EventType.BOUNCED, SOFT),
    "Blocked": (EventType.REJECTED, None),
    "DMARCPolicy": (EventType.REJECTED, None),
    "SMTPApiError": (EventType.FAILED, None),
    "TemplateRenderingFailed": (EventType.FAILED, None),
    "SpamComplaint": (EventType.COMPLAINED, None),
    "Unsubscribe": (EventType.UNSUBSCRIBED, None),
    # A reply asking to be subscribed: staff decide, nothing is lifted.
    "Subscribe": (EventType.RESUBSCRIBED, None),
    "AutoResponder": (EventType.OTHER, None),
    "AddressChange": (EventType.OTHER, None),
    "OpenRelayTest": (EventType.OTHER, None),
    "ChallengeVerification": (EventType.OTHER, None),
    "Unconfirmed": (EventType.OTHER, None),
    "InboundError": (EventType.OTHER, None),
}

#: A SubscriptionChange's ``SuppressionReason`` -> the event it stands for (with bounce kind).
SUPPRESSION_REASONS: dict[str, tuple[EventType, BounceKind | None]] = {
    "HardBounce": (EventType.BOUNCED, HARD),
    "SpamComplaint": (EventType.COMPLAINED, None),
    "ManualSuppression": (EventType.UNSUBSCRIBED, None),
}


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def credentials_match(given: tuple[str, str], expected: tuple[str, str]) -> bool:
    """Constant-time comparison of both parts (an empty expected password never matches)."""
    if not expected[1]:
        return False
    user_ok = hmac.compare_digest(given[0].encode(), expected[0].encode())
    password_ok = hmac.compare_digest(given[1].encode(), expected[1].encode())
    return user_ok and password_ok


def parse(payload: Any) -> list[NormalisedEvent]:
    """Normalise one Postmark webhook body; WebhookPayloadError when it is not a Postmark event."""
    if not isinstance(payload, dict):
        raise WebhookPayloadError("expected a JSON object")
    record_type = text(payload.get("RecordType"))
    parser = _PARSERS.get(record_type)
    if parser is None:
        raise WebhookPayloadError(f"unknown RecordType {record_type[:100]!r}")
    return [parser(payload)._replace(raw=payload)]


def _moment(payload: Mapping[str, Any], key: str) -> datetime:
    return iso(payload.get(key), key)


def _own_id(payload: Mapping[str, Any]) -> int | None:
    return own_id(optional_object(payload.get("Metadata")).get(MESSAGE_ID_KEY))


def _delivery(p: Mapping[str, Any]) -> NormalisedEvent:
    message_id = required(p, "MessageID")
    recipient = required(p, "Recipient")
    return NormalisedEvent(
        type=EventType.DELIVERED,
        provider_event_id=f"Delivery:{message_id}:{recipient.lower()}",
        occurred_at=_moment(p, "DeliveredAt"),
        recipient=recipient,
        provider_message_id=message_id,
        message_id=_own_id(p),
        mta_response=text(p.get("Details")),
    )


def _bounce(p: Mapping[str, Any]) -> NormalisedEvent:
    """A bounce record. Postmark's ``Unsubscribe`` and ``Subscribe`` records (replies it read)
    may carry no ``Email`` and no ``BouncedAt``: the recipient is then the one message the
    ``MessageID`` names, and the moment another time field or now."""
    kind = text(p.get("Type"))
    event_type, bounce_kind = BOUNCE_TYPES.get(kind, (EventType.BOUNCED, SOFT))
    details = text(p.get("Details"))
    said: Said = {
        "bounce_kind": bounce_kind,
        "reason": kind,
        "description": text(p.get("Description")),
        "mta_response": details,
        "smtp_status": enhanced_status(details),
    }
    if event_type == EventType.UNSUBSCRIBED:
        said["scope"] = OptOutScope.ALL
    recipient = text(p.get("Email")) or text(p.get("Recipient"))
    provider_message_id = text(p.get("MessageID"))
    if not recipient and not provider_message_id:
        raise WebhookPayloadError("Email is missing (and no MessageID to find the recipient by)")
    record_id = text(p.get("ID"))
    if not record_id and not provider_message_id:
        raise WebhookPayloadError("ID is missing")
    return NormalisedEvent(
        type=event_type,
        provider_event_id=f"Bounce:{record_id}" if record_id else f"{kind}:{provider_message_id}",
        occurred_at=_first_moment(p, "BouncedAt", "ReceivedAt", "ChangedAt"),
        recipient=recipient,
        provider_message_id=provider_message_id or None,
        # With no address, our own id (metadata anyone sending could set) proves nothing.
        message_id=_own_id(p) if recipient else None,
        recipient_of_message=not recipient,
        **said,
    )


def _first_moment(p: Mapping[str, Any], *keys: str) -> datetime:
    """The first of ``keys`` present, read strictly; now when there is none."""
    for key in keys:
        if p.get(key) not in (None, ""):
            return _moment(p, key)
    return utcnow()


def _complaint(p: Mapping[str, Any]) -> NormalisedEvent:
    return NormalisedEvent(
        type=EventType.COMPLAINED,
        provider_event_id=f"SpamComplaint:{required(p, 'ID')}",
        occurred_at=_moment(p, "BouncedAt"),
        recipient=required(p, "Email"),
        provider_message_id=text(p.get("MessageID")) or None,
        message_id=_own_id(p),
        description=text(p.get("Description")),
    )


def _open(p: Mapping[str, Any]) -> NormalisedEvent:
    message_id = required(p, "MessageID")
    received = required(p, "ReceivedAt")
    return NormalisedEvent(
        type=EventType.OPENED,
        provider_event_id=f"Open:{message_id}:{received}",
        occurred_at=_moment(p, "ReceivedAt"),
        recipient=required(p, "Recipient"),
        provider_message_id=message_id,
        message_id=_own_id(p),
        **_engagement(p),
    )


def _click(p: Mapping[str, Any]) -> NormalisedEvent:
    message_id = required(p, "MessageID")
    received = required(p, "ReceivedAt")
    link = text(p.get("OriginalLink"))
    return NormalisedEvent(
        type=EventType.CLICKED,
        provider_event_id=f"Click:{message_id}:{received}:{link}",
        occurred_at=_moment(p, "ReceivedAt"),
        recipient=required(p, "Recipient"),
        provider_message_id=message_id,
        message_id=_own_id(p),
        **_engagement(p, link),
    )


def _subscription_change(p: Mapping[str, Any]) -> NormalisedEvent:
    """An address added to or removed from a stream's suppression list. Added: the event its
    ``SuppressionReason`` names (a hard bounce suppresses as one). Removed (``SuppressSending``
    false, a reactivation): RESUBSCRIBED, recorded for staff, lifting nothing here."""
    message_id = text(p.get("MessageID"))
    changed = required(p, "ChangedAt")
    reason = text(p.get("SuppressionReason"))
    origin = text(p.get("Origin"))
    suppressing = p.get("SuppressSending") is True
    if suppressing:
        event_type, bounce_kind = SUPPRESSION_REASONS.get(reason, (EventType.UNSUBSCRIBED, None))
    else:
        event_type, bounce_kind = EventType.RESUBSCRIBED, None
    said: Said = {
        "bounce_kind": bounce_kind,
        "scope": OptOutScope.ALL if event_type == EventType.UNSUBSCRIBED else None,
        "reason": reason,
        "origin": origin,
        "description": (
            f"Postmark suppression ({reason or 'no reason'}, by {origin or 'unknown'})"
            if suppressing
            else f"Postmark reactivation (by {origin or 'unknown'})"
        ),
    }
    return NormalisedEvent(
        type=event_type,
        # The id suppressions always had; a reactivation at the same moment is another event.
        provider_event_id=f"SubscriptionChange:{message_id}:{changed}"
        + ("" if suppressing else ":reactivated"),
        occurred_at=_moment(p, "ChangedAt"),
        recipient=required(p, "Recipient"),
        provider_message_id=message_id or None,
        message_id=_own_id(p),
        **said,
    )


def _engagement(p: Mapping[str, Any], link: str = "") -> Said:
    geo = p.get("Geo")
    ip = geo.get("IP") if isinstance(geo, dict) else None
    return {"user_agent": text(p.get("UserAgent")), "ip": text(ip), "click_url": link}


_PARSERS: dict[str, Callable[[Mapping[str, Any]], NormalisedEvent]] = {
    "Delivery": _delivery,
    "Bounce": _bounce,
    "SpamComplaint": _complaint,
    "Open": _open,
    "Click": _click,
    "SubscriptionChange": _subscription_change,
}
