"""Mailgun webhooks: ``{"signature": {...}, "event-data": {...}}``, one event per POST, normalised.

Our message id comes back in ``user-variables`` (sent as ``v:`` variables); the provider id is
``message.headers.message-id``, shared by every recipient of one API call. ``event-data.id`` is
the dedup key. How ``failed`` reads: a temporary failure Mailgun will retry (``retry-seconds``)
is a deferral, one it will not is a soft bounce; a permanent one is a hard bounce, except
``suppress-*`` (Mailgun's own suppression list: not even tried, so rejected) and ``old`` (gave up
retrying: a soft bounce in the end).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.payloads import (
    as_object,
    enhanced_status,
    epoch,
    optional_object,
    own_id,
    required,
    text,
)

SIMPLE: dict[str, EventType] = {
    "accepted": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "rejected": EventType.REJECTED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.COMPLAINED,
}


def signature_fields(payload: Any) -> tuple[str, str, str]:
    """(timestamp, token, signature) of a webhook body; WebhookPayloadError if they are not
    there."""
    signature = as_object(as_object(payload, "body").get("signature"), "signature")
    return (
        required(signature, "timestamp", "signature"),
        required(signature, "token", "signature"),
        required(signature, "signature", "signature"),
    )


def parse(payload: Any) -> list[NormalisedEvent]:
    """Normalise one webhook body (already authenticated); WebhookPayloadError if it cannot be
    read."""
    data = as_object(as_object(payload, "body").get("event-data"), "event-data")
    name = required(data, "event", "event-data")
    found = _classify(name, data)
    if found is None:
        return []  # an event kind with nothing to record (stored, list_member_uploaded ...)
    kind, said = found
    message = optional_object(data.get("message"))
    headers = optional_object(message.get("headers"))
    variables = optional_object(data.get("user-variables"))  # [] when there are none
    return [
        NormalisedEvent(
            type=kind,
            provider_event_id=required(data, "id", "event-data"),
            occurred_at=epoch(data.get("timestamp"), "event-data.timestamp"),
            recipient=required(data, "recipient", "event-data"),
            provider_message_id=text(headers.get("message-id")).strip("<>") or None,
            message_id=own_id(variables.get(MESSAGE_ID_KEY)),
            raw=data,
            **said,
        )
    ]


def _classify(name: str, data: Mapping[str, Any]) -> tuple[EventType, Said] | None:
    if name == "failed":
        return _failed(data)
    kind = SIMPLE.get(name)
    if kind is None:
        return None
    if kind in (EventType.OPENED, EventType.CLICKED, EventType.UNSUBSCRIBED):
        return kind, _engagement(kind, data)
    if kind == EventType.DELIVERED:
        return kind, {"mta_response": _mta_response(data)}
    if kind == EventType.REJECTED:
        reject = optional_object(data.get("reject"))
        return kind, {
            "reason": text(reject.get("reason")),
            "description": text(reject.get("description")),
        }
    if kind == EventType.COMPLAINED:
        return kind, {"description": "Mailgun complaint"}
    return kind, {}


def _failed(data: Mapping[str, Any]) -> tuple[EventType, Said]:
    severity = text(data.get("severity"))
    reason = text(data.get("reason"))
    status = optional_object(data.get("delivery-status"))
    response = _mta_response(data)
    said: Said = {
        "reason": reason,
        "description": text(status.get("description")) or text(status.get("message")),
        "mta_response": response,
        "smtp_status": text(status.get("enhanced-code")) or enhanced_status(response),
    }
    if severity == "temporary":
        if status.get("retry-seconds"):
            return EventType.DEFERRED, said
        return EventType.BOUNCED, {**said, "bounce_kind": BounceKind.SOFT}
    if severity != "permanent":
        raise WebhookPayloadError(
            f"event-data.severity is {severity[:100]!r}, not permanent or temporary"
        )
    if reason.startswith("suppress-"):
        return EventType.REJECTED, said
    bounce_kind = BounceKind.SOFT if reason == "old" else BounceKind.HARD
    return EventType.BOUNCED, {**said, "bounce_kind": bounce_kind}


def _mta_response(data: Mapping[str, Any]) -> str:
    status = optional_object(data.get("delivery-status"))
    code = text(status.get("code"))
    message = text(status.get("message")) or text(status.get("description"))
    return f"{code} {message}".strip() if code and code != "0" else message


def _engagement(kind: EventType, data: Mapping[str, Any]) -> Said:
    client = optional_object(data.get("client-info"))
    said: Said = {
        "user_agent": text(client.get("user-agent")),
        "ip": text(data.get("ip")),
        "click_url": text(data.get("url")) if kind == EventType.CLICKED else "",
    }
    bot = text(client.get("bot"))
    if bot and kind != EventType.UNSUBSCRIBED:
        said["machine"] = True
        said["machine_reason"] = f"Mailgun client-info.bot {bot}"
    if kind == EventType.UNSUBSCRIBED:
        said["scope"] = OptOutScope.ALL
    return said
