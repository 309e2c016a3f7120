"""SendGrid's Event Webhook: a JSON array of events, signed with ECDSA (Signed Event Webhook).

All events of one message go in one POST, in the order they happened (SendGrid batches events
into arrays; it does not promise any grouping). The signature covers timestamp + body, so it is
made afresh for each attempt. ``custom_args`` are spread into every event, as SendGrid does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from distro.sandbox.outcomes import Event, Step
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats.base import (
    JSON_HEADERS,
    FormatContext,
    Post,
    Rendered,
    random_id,
    to_json,
)
from distro.tracking import signatures

USER_AGENT = "Mozilla/5.0 (distro sandbox)"
CLIENT_IP = "192.0.2.10"  # TEST-NET-1: never a real client

_DETAILS: dict[Step, tuple[str, dict[str, Any]]] = {
    Step.SENT: ("processed", {}),
    Step.DELIVERED: ("delivered", {"response": "250 OK (distro sandbox)", "tls": 1}),
    Step.DEFERRED: ("deferred", {"response": "421 4.7.0 Try again later", "attempt": "1"}),
    Step.HARD_BOUNCE: (
        "bounce",
        {
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "bounce_classification": "Invalid Address",
        },
    ),
    Step.SOFT_BOUNCE: (
        "bounce",
        {
            "type": "blocked",
            "status": "4.2.2",
            "reason": "452 4.2.2 The email account that you tried to reach is over quota",
            "bounce_classification": "Mailbox Unavailable",
        },
    ),
    Step.COMPLAINT: ("spamreport", {}),
    Step.OPEN: ("open", {"useragent": USER_AGENT, "ip": CLIENT_IP, "sg_machine_open": False}),
    Step.CLICK: ("click", {"useragent": USER_AGENT, "ip": CLIENT_IP}),
    Step.UNSUBSCRIBE: ("unsubscribe", {}),
}


def event_payload(message: StoredMessage, event: Event, recipient_index: int) -> dict[str, Any]:
    name, details = _DETAILS[event.step]
    payload: dict[str, Any] = {
        **message.custom_args,
        "email": event.recipient,
        "timestamp": int(event.at.timestamp()),
        "smtp-id": f"<{message.message_id}@distro-sandbox>",
        "event": name,
        "sg_event_id": random_id(),
        # SendGrid's id is the X-Message-Id of the request, then a per-recipient suffix.
        "sg_message_id": f"{message.message_id}.filterdrecv-{recipient_index}.0",
        **details,
    }
    if message.tag:
        payload["category"] = [message.tag]
    if event.step is Step.CLICK:
        payload["url"] = event.link
        payload["url_offset"] = {"index": 0, "type": "html"}
    return payload


def _signed(body: bytes, context: FormatContext) -> Callable[[], Rendered]:
    def render() -> Rendered:
        timestamp = str(int(time.time()))
        signature = signatures.sign_sendgrid(context.keys.sendgrid_private_key, timestamp, body)
        return body, {
            **JSON_HEADERS,
            signatures.SENDGRID_SIGNATURE_HEADER: signature,
            signatures.SENDGRID_TIMESTAMP_HEADER: timestamp,
        }

    return render


def posts(message: StoredMessage, events: Sequence[Event], context: FormatContext) -> list[Post]:
    """One POST with every event of the message, or none if there are none."""
    indexes: dict[str, int] = {}
    payloads = [
        event_payload(message, e, indexes.setdefault(e.recipient, len(indexes))) for e in events
    ]
    if not payloads:
        return []
    label = f"sendgrid {len(payloads)} events {message.message_id}"
    return [Post(label, _signed(to_json(payloads), context))]
