"""Mailgun webhooks: ``{"signature": {...}, "event-data": {...}}``, one POST per event.

The signature object sits inside the body and covers a timestamp and a fresh random token, so
each attempt is re-signed with a new token: a receiver that remembers tokens to stop replays
still accepts a retry. ``event-data.id`` stays the same across attempts.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Sequence
from typing import Any

from distro.sandbox.outcomes import Event, Step
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats.base import (
    JSON_HEADERS,
    FormatContext,
    Post,
    Rendered,
    domain_of,
    random_id,
)
from distro.tracking import signatures

CLIENT_IP = "192.0.2.10"  # TEST-NET-1: never a real client
CLIENT_INFO = {
    "client-type": "browser",
    "client-os": "Sandbox OS",
    "device-type": "desktop",
    "client-name": "Sandbox Mail",
    "user-agent": "Mozilla/5.0 (distro sandbox)",
}
GEOLOCATION = {"country": "Unknown", "region": "Unknown", "city": "Unknown"}


def _status(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "description": "",
        "attempt-no": 1,
        "tls": True,
        "mx-host": "mx.sandbox.invalid",
        **extra,
    }


def _failed(severity: str, reason: str, level: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "failed",
        "severity": severity,
        "reason": reason,
        "log-level": level,
        "delivery-status": status,
    }


_ENGAGEMENT = {"ip": CLIENT_IP, "client-info": CLIENT_INFO, "geolocation": GEOLOCATION}

_DETAILS: dict[Step, dict[str, Any]] = {
    Step.SENT: {"event": "accepted", "log-level": "info", "method": "HTTP"},
    Step.DELIVERED: {
        "event": "delivered",
        "log-level": "info",
        "delivery-status": _status(250, "OK", **{"session-seconds": 0.1}),
    },
    Step.DEFERRED: _failed(
        "temporary",
        "generic",
        "warn",
        _status(421, "4.7.0 Try again later", **{"retry-seconds": 600}),
    ),
    Step.HARD_BOUNCE: _failed(
        "permanent",
        "bounce",
        "error",
        _status(550, "5.1.1 The email account that you tried to reach does not exist"),
    ),
    Step.SOFT_BOUNCE: _failed(
        "temporary",
        "generic",
        "warn",
        _status(452, "4.2.2 The email account that you tried to reach is over quota"),
    ),
    Step.COMPLAINT: {"event": "complained", "log-level": "warn"},
    Step.OPEN: {"event": "opened", "log-level": "info", **_ENGAGEMENT},
    Step.CLICK: {"event": "clicked", "log-level": "info", **_ENGAGEMENT},
    Step.UNSUBSCRIBE: {"event": "unsubscribed", "log-level": "info", **_ENGAGEMENT},
}


def event_data(message: StoredMessage, event: Event) -> dict[str, Any]:
    sender = email.utils.parseaddr(message.from_)[1]
    data: dict[str, Any] = {
        **_DETAILS[event.step],
        "timestamp": event.at.timestamp(),
        "id": random_id(),
        "recipient": event.recipient,
        "recipient-domain": domain_of(event.recipient),
        "envelope": {"sender": sender, "targets": event.recipient, "transport": "smtp"},
        "message": {
            "headers": {
                "message-id": message.message_id.strip("<>"),
                "from": message.from_,
                "to": message.to,
                "subject": message.subject,
            },
            "attachments": [],
            "size": len(message.html_body) + len(message.text_body),
        },
        "flags": {"is-authenticated": True, "is-routed": False, "is-test-mode": False},
        "tags": [message.tag] if message.tag else [],
        "campaigns": [],
        "user-variables": dict(message.custom_args),
    }
    if event.step is Step.CLICK:
        data["url"] = event.link
    return data


def _signed(data: dict[str, Any], context: FormatContext) -> Callable[[], Rendered]:
    def render() -> Rendered:
        signature = signatures.mailgun_signature(context.options.mailgun_signing_key)
        body = json.dumps({"signature": signature, "event-data": data}, ensure_ascii=False)
        return body.encode(), dict(JSON_HEADERS)

    return render


def posts(message: StoredMessage, events: Sequence[Event], context: FormatContext) -> list[Post]:
    """One POST per event."""
    found: list[Post] = []
    for event in events:
        data = event_data(message, event)
        label = f"mailgun {data['event']} {message.message_id}"
        found.append(Post(label, _signed(data, context)))
    return found
