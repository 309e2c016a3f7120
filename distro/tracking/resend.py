"""Resend webhooks: ``{type, created_at, data}`` per POST (signed the Svix way), normalised.

The ``svix-id`` header names the delivery and repeats on retries, so it is the dedup key (with
the recipient, for an event naming several). Our message id comes back in ``data.tags``, a list
of ``{name, value}`` as documented (an object of name -> value is read too); ``data.email_id`` is
the provider id. Types without an email outcome (``email.scheduled``, ``contact.*``,
``domain.*``) are acknowledged and not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, Said
from distro.tracking.payloads import (
    as_object,
    enhanced_status,
    iso,
    optional_object,
    own_id,
    required,
    strings,
    text,
)

TYPES: dict[str, EventType] = {
    "email.sent": EventType.SENT,
    "email.delivered": EventType.DELIVERED,
    "email.delivery_delayed": EventType.DEFERRED,
    "email.bounced": EventType.BOUNCED,
    "email.complained": EventType.COMPLAINED,
    "email.opened": EventType.OPENED,
    "email.clicked": EventType.CLICKED,
    "email.failed": EventType.FAILED,
    "email.suppressed": EventType.REJECTED,
}


def parse(payload: Any, delivery_id: str) -> list[NormalisedEvent]:
    """Normalise one webhook body (already authenticated); WebhookPayloadError if it cannot be
    read."""
    body = as_object(payload, "body")
    name = required(body, "type")
    kind = TYPES.get(name)
    if kind is None:
        return []
    data = as_object(body.get("data"), "data")
    recipients = strings(data.get("to"))
    if not recipients:
        raise WebhookPayloadError("data.to is missing")
    occurred_at = iso(body.get("created_at"), "created_at")
    said = _said(kind, data)
    message_id = own_id(_tags(data.get("tags")).get(MESSAGE_ID_KEY))
    several = len(recipients) > 1
    return [
        NormalisedEvent(
            type=kind,
            provider_event_id=f"{delivery_id}:{recipient}" if several else delivery_id,
            occurred_at=occurred_at,
            recipient=recipient,
            provider_message_id=text(data.get("email_id")) or None,
            message_id=message_id,
            raw=body,
            **said,
        )
        for recipient in recipients
    ]


def _tags(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {
            text(tag.get("name")): tag.get("value")
            for tag in value
            if isinstance(tag, dict) and tag.get("name")
        }
    return {}


#: Bounce ``type`` values that say the address may yet take mail (compared lower-cased).
SOFT_BOUNCE_TYPES = frozenset({"transient", "temporary", "soft", "undetermined"})


def _bounce_kind(kind: str) -> BounceKind:
    """Resend's ``email.bounced`` is a permanent bounce unless its ``type`` says otherwise:
    real bodies carry only a ``message`` ("... sent a hard bounce ...") as often as a type."""
    return BounceKind.SOFT if kind.strip().lower() in SOFT_BOUNCE_TYPES else BounceKind.HARD


def _said(kind: EventType, data: Mapping[str, Any]) -> Said:
    if kind == EventType.BOUNCED:
        bounce = optional_object(data.get("bounce"))
        diagnostic = bounce.get("diagnosticCode")
        response = (
            "; ".join(text(d) for d in diagnostic)
            if isinstance(diagnostic, list)
            else text(diagnostic)
        )
        return {
            "bounce_kind": _bounce_kind(text(bounce.get("type"))),
            "reason": text(bounce.get("subType")) or text(bounce.get("type")),
            "description": text(bounce.get("message")),
            "mta_response": response,
            "smtp_status": enhanced_status(response),
        }
    if kind in (EventType.OPENED, EventType.CLICKED):
        action = optional_object(data.get("click" if kind == EventType.CLICKED else "open"))
        return {
            "user_agent": text(action.get("userAgent")),
            "ip": text(action.get("ipAddress")),
            "click_url": text(action.get("link")),
        }
    if kind == EventType.FAILED:
        failed = optional_object(data.get("failed"))
        return {"reason": text(failed.get("reason")), "description": "Resend failed"}
    if kind == EventType.REJECTED:
        suppressed = optional_object(data.get("suppressed"))
        return {
            "reason": text(suppressed.get("type")) or "suppressed",
            "description": text(suppressed.get("message")),
        }
    if kind == EventType.COMPLAINED:
        return {"description": "Resend complaint"}
    return {}
