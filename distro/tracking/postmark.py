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
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.events import NormalisedEvent
from distro.tracking.payloads import (
    compact,
    enhanced_status,
    iso,
    optional_object,
    own_id,
    required,
    text,
)

# Postmark bounce Type -> (normalised type, bounce kind); anything unlisted is a soft bounce.
BOUNCE_TYPES: dict[str, tuple[EventType, str]] = {
    "HardBounce": (EventType.BOUNCED, "hard"),
    "BadEmailAddress": (EventType.BOUNCED, "hard"),
    "ManuallyDeactivated": (EventType.BOUNCED, "hard"),
    "SoftBounce": (EventType.BOUNCED, "soft"),
    "Transient": (EventType.DEFERRED, "soft"),
    "DnsError": (EventType.BOUNCED, "soft"),
    "Blocked": (EventType.REJECTED, "blocked"),
    "SpamComplaint": (EventType.COMPLAINED, ""),
    "SpamNotification": (EventType.COMPLAINED, ""),
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
    event = parser(payload)
    if event is None:
        return []
    event.detail["raw"] = payload
    return [event]


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
        detail={"mta_response": text(p.get("Details"))},
    )


def _bounce(p: Mapping[str, Any]) -> NormalisedEvent:
    kind = text(p.get("Type"))
    event_type, bounce_type = BOUNCE_TYPES.get(kind, (EventType.BOUNCED, "soft"))
    details = text(p.get("Details"))
    detail = {
        "bounce_type": bounce_type if event_type == EventType.BOUNCED else "",
        "reason": kind,
        "description": text(p.get("Description")),
        "mta_response": details,
        "status": enhanced_status(details),
    }
    return NormalisedEvent(
        type=event_type,
        provider_event_id=f"Bounce:{required(p, 'ID')}",
        occurred_at=_moment(p, "BouncedAt"),
        recipient=required(p, "Email"),
        provider_message_id=text(p.get("MessageID")) or None,
        message_id=_own_id(p),
        detail=compact(detail),
    )


def _complaint(p: Mapping[str, Any]) -> NormalisedEvent:
    return NormalisedEvent(
        type=EventType.COMPLAINED,
        provider_event_id=f"SpamComplaint:{required(p, 'ID')}",
        occurred_at=_moment(p, "BouncedAt"),
        recipient=required(p, "Email"),
        provider_message_id=text(p.get("MessageID")) or None,
        message_id=_own_id(p),
        detail={"description": text(p.get("Description"))},
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
        detail=_engagement(p),
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
        detail=compact({"url": link, **_engagement(p)}),
    )


def _subscription_change(p: Mapping[str, Any]) -> NormalisedEvent | None:
    if not p.get("SuppressSending"):
        return None  # a re-activation: nothing to record against a message
    message_id = text(p.get("MessageID"))
    changed = required(p, "ChangedAt")
    return NormalisedEvent(
        type=EventType.UNSUBSCRIBED,
        provider_event_id=f"SubscriptionChange:{message_id}:{changed}",
        occurred_at=_moment(p, "ChangedAt"),
        recipient=required(p, "Recipient"),
        provider_message_id=message_id or None,
        message_id=_own_id(p),
        detail={"scope": "all", "description": text(p.get("SuppressionReason"))},
    )


def _engagement(p: Mapping[str, Any]) -> dict[str, Any]:
    geo = p.get("Geo")
    ip = geo.get("IP") if isinstance(geo, dict) else None
    return compact({"user_agent": text(p.get("UserAgent")), "ip": text(ip)})


_PARSERS: dict[str, Callable[[Mapping[str, Any]], NormalisedEvent | None]] = {
    "Delivery": _delivery,
    "Bounce": _bounce,
    "SpamComplaint": _complaint,
    "Open": _open,
    "Click": _click,
    "SubscriptionChange": _subscription_change,
}
