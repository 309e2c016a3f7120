"""Resend webhooks: ``{type, created_at, data}`` per event, signed the Svix way.

The ``svix-id`` header is the event's id and stays the same across attempts; the timestamp and
signature are made afresh for each attempt, as Svix does. Tags go out as Resend documents them,
a list of ``{name, value}``. Resend reports no unsubscribe of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from distro.sandbox.outcomes import Event, Step
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats.base import (
    JSON_HEADERS,
    FormatContext,
    Post,
    Rendered,
    iso_z,
    random_id,
    to_json,
)
from distro.tracking import signatures

CLIENT_IP = "192.0.2.10"  # TEST-NET-1: never a real client
USER_AGENT = "Mozilla/5.0 (distro sandbox)"

TYPES: dict[Step, str] = {
    Step.SENT: "email.sent",
    Step.DELIVERED: "email.delivered",
    Step.DEFERRED: "email.delivery_delayed",
    Step.HARD_BOUNCE: "email.bounced",
    Step.SOFT_BOUNCE: "email.bounced",
    Step.COMPLAINT: "email.complained",
    Step.OPEN: "email.opened",
    Step.CLICK: "email.clicked",
}

_BOUNCES: dict[Step, dict[str, Any]] = {
    Step.HARD_BOUNCE: {
        "message": "The recipient's email address does not exist (distro sandbox).",
        "subType": "General",
        "type": "Permanent",
        "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
    },
    Step.SOFT_BOUNCE: {
        "message": "The recipient's mailbox is full (distro sandbox).",
        "subType": "MailboxFull",
        "type": "Transient",
        "diagnosticCode": ["smtp; 452 4.2.2 mailbox full"],
    },
}


def event_payload(message: StoredMessage, event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {
        "created_at": iso_z(message.received_at),
        "email_id": message.message_id,
        "from": message.from_,
        "to": [event.recipient],
        "subject": message.subject,
    }
    if message.custom_args:
        data["tags"] = [{"name": k, "value": v} for k, v in message.custom_args.items()]
    if event.step in _BOUNCES:
        data["bounce"] = _BOUNCES[event.step]
    if event.step is Step.CLICK:
        data["click"] = {
            "ipAddress": CLIENT_IP,
            "link": event.link,
            "timestamp": iso_z(event.at),
            "userAgent": USER_AGENT,
        }
    return {"type": TYPES[event.step], "created_at": iso_z(event.at), "data": data}


def _signed(body: bytes, svix_id: str, context: FormatContext) -> Callable[[], Rendered]:
    def render() -> Rendered:
        headers = signatures.svix_headers(context.options.resend_secret, svix_id, body)
        return body, {**JSON_HEADERS, **headers}

    return render


def posts(message: StoredMessage, events: Sequence[Event], context: FormatContext) -> list[Post]:
    """One Svix-signed POST per event Resend reports."""
    found: list[Post] = []
    for event in events:
        if event.step not in TYPES:
            continue
        payload = event_payload(message, event)
        label = f"resend {payload['type']} {message.message_id}"
        found.append(Post(label, _signed(to_json(payload), f"msg_{random_id(27)}", context)))
    return found
