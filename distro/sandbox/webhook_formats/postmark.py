"""Postmark webhooks: one JSON object per event, ``RecordType`` naming it, HTTP Basic auth.

Postmark reports no "sent" step and signs nothing; the Basic credentials it was given for the
webhook URL are the proof. Bounce and SpamComplaint records carry a numeric ``ID``; the other
record types have none, so receivers derive one.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from distro.sandbox.outcomes import Event, Step
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats.base import JSON_HEADERS, FormatContext, Post, fixed, to_json

SERVER_ID = 1
USER_AGENT = "Mozilla/5.0 (distro sandbox)"
CLIENT = {"Name": "Sandbox Mail", "Company": "distro", "Family": "Sandbox"}
OS = {"Name": "Sandbox OS", "Company": "distro", "Family": "Sandbox"}
#: Bounce record IDs: start from the clock so a restarted sandbox does not reuse earlier IDs.
_ids: Iterator[int] | None = None
_ids_lock = threading.Lock()

Builder = Callable[[StoredMessage, Event], dict[str, Any]]


def _next_id() -> int:
    global _ids
    with _ids_lock:
        if _ids is None:
            _ids = itertools.count(time.time_ns() // 1000)
        return next(_ids)


def _common(message: StoredMessage) -> dict[str, Any]:
    return {
        "MessageID": message.message_id,
        "ServerID": SERVER_ID,
        "MessageStream": message.message_stream,
        "Tag": message.tag,
        "Metadata": dict(message.custom_args or message.metadata),
    }


def _bounce(
    message: StoredMessage, event: Event, kind: str, code: int, name: str, details: str
) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "ID": _next_id(),
        "Type": kind,
        "TypeCode": code,
        "Name": name,
        **_common(message),
        "Description": _DESCRIPTIONS[kind],
        "Details": details,
        "Email": event.recipient,
        "From": message.from_,
        "BouncedAt": event.at.isoformat(),
        "DumpAvailable": False,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": message.subject,
    }


_DESCRIPTIONS = {
    "HardBounce": "The server was unable to deliver your message (ex: unknown user, "
    "mailbox not found).",
    "SoftBounce": "Unable to temporarily deliver this email.",
    "Transient": "The server could not temporarily deliver your message (ex: Message is "
    "delayed due to network troubles).",
}


def delivered(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        **_common(message),
        "Recipient": event.recipient,
        "DeliveredAt": event.at.isoformat(),
        "Details": "smtp;250 2.0.0 OK (distro sandbox)",
    }


def hard_bounce(message: StoredMessage, event: Event) -> dict[str, Any]:
    details = "smtp;550 5.1.1 The email account that you tried to reach does not exist"
    return _bounce(message, event, "HardBounce", 1, "Hard bounce", f"{details} (distro sandbox)")


def soft_bounce(message: StoredMessage, event: Event) -> dict[str, Any]:
    details = "smtp;452 4.2.2 The email account that you tried to reach is over quota"
    return _bounce(message, event, "SoftBounce", 4096, "Soft bounce", f"{details} (distro sandbox)")


def deferred(message: StoredMessage, event: Event) -> dict[str, Any]:
    details = "smtp;421 4.7.0 Try again later"
    return _bounce(message, event, "Transient", 2, "Message delayed", f"{details} (distro sandbox)")


def complaint(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        "RecordType": "SpamComplaint",
        "ID": _next_id(),
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        **_common(message),
        "Description": "The subscriber explicitly marked this message as spam.",
        "Details": "Test spam complaint details (distro sandbox)",
        "Email": event.recipient,
        "From": message.from_,
        "BouncedAt": event.at.isoformat(),
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": False,
        "Subject": message.subject,
    }


def _engagement(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        **_common(message),
        "Recipient": event.recipient,
        "ReceivedAt": event.at.isoformat(),
        "Client": dict(CLIENT),
        "OS": dict(OS),
        "Platform": "Desktop",
        "UserAgent": USER_AGENT,
        "Geo": {},
    }


def opened(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        "RecordType": "Open",
        "FirstOpen": True,
        "ReadSeconds": 0,
        **_engagement(message, event),
    }


def clicked(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        "RecordType": "Click",
        "ClickLocation": "HTML",
        "OriginalLink": event.link,
        **_engagement(message, event),
    }


def unsubscribed(message: StoredMessage, event: Event) -> dict[str, Any]:
    return {
        "RecordType": "SubscriptionChange",
        **_common(message),
        "ChangedAt": event.at.isoformat(),
        "Recipient": event.recipient,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
    }


BUILDERS: dict[Step, Builder] = {
    Step.DELIVERED: delivered,
    Step.HARD_BOUNCE: hard_bounce,
    Step.SOFT_BOUNCE: soft_bounce,
    Step.DEFERRED: deferred,
    Step.COMPLAINT: complaint,
    Step.OPEN: opened,
    Step.CLICK: clicked,
    Step.UNSUBSCRIBE: unsubscribed,
}


def _headers(context: FormatContext) -> dict[str, str]:
    user, password = context.options.basic_username, context.options.basic_password
    if not (user or password):
        return dict(JSON_HEADERS)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {**JSON_HEADERS, "Authorization": f"Basic {token}"}


def posts(message: StoredMessage, events: Sequence[Event], context: FormatContext) -> list[Post]:
    """One POST per event Postmark reports."""
    headers = _headers(context)
    found: list[Post] = []
    for event in events:
        builder = BUILDERS.get(event.step)
        if builder is not None:
            payload = builder(message, event)
            label = f"postmark {payload['RecordType']} {message.message_id}"
            found.append(Post(label, fixed(to_json(payload), headers)))
    return found
