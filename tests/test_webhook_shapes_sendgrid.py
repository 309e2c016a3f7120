"""SendGrid Event Webhook shapes as SendGrid documents them (every event of its "Event Webhook
reference": processed, dropped, delivered, deferred, bounce of type bounce and blocked, open,
click, spamreport, unsubscribe, group_unsubscribe, group_resubscribe), each posted as a signed
array to the live app."""

from __future__ import annotations

from typing import Any

import pytest

from distro.models import EventType, MessageStatus, SuppressionReason
from tests.test_webhooks_sendgrid import X_MESSAGE_ID, sg_event
from tests.test_webhooks_support import Live, live_factory
from tests.webhook_shapes_support import (
    accepted,
    assert_applied,
    keys,
    live,
    message_for,
    outcome,
    post,
)

__all__ = ["keys", "live", "live_factory"]  # fixtures, imported for pytest

ENGAGEMENT = {
    "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)",
    "ip": "255.255.255.255",
}

#: event -> (documented extra fields, event type, bounce kind, suppression or None, status).
SHAPES: dict[str, tuple[dict[str, Any], str, str, str | None, str]] = {
    "processed": ({"pool": {"name": "new_MY_test", "id": 210}}, "sent", "", None, "sent"),
    "dropped": (
        {"reason": "Bounced Address", "status": "5.0.0"},
        "rejected",
        "",
        None,
        "sent",
    ),
    "delivered": ({"response": "250 OK", "tls": 1}, "delivered", "", None, "delivered"),
    "deferred": (
        {"response": "400 try again later", "attempt": "5"},
        "deferred",
        "",
        None,
        "deferred",
    ),
    "bounce": (
        {
            "type": "bounce",
            "bounce_classification": "Invalid Address",
            "reason": "500 unknown recipient",
            "status": "5.0.0",
        },
        "bounced",
        "hard",
        "hard_bounce",
        "bounced",
    ),
    "blocked": (
        {
            "event": "bounce",
            "type": "blocked",
            "bounce_classification": "Reputation",
            "reason": "550 5.7.1 blocked by policy",
            "status": "5.7.1",
        },
        "bounced",
        "soft",
        None,
        "bounced",
    ),
    "open": ({**ENGAGEMENT, "sg_machine_open": False}, "opened", "", None, "opened"),
    "click": (
        {**ENGAGEMENT, "url": "https://acme.example/news", "url_offset": {"index": 0}},
        "clicked",
        "",
        None,
        "clicked",
    ),
    "spamreport": ({}, "complained", "", "complaint", "complained"),
    "unsubscribe": ({}, "unsubscribed", "", "unsubscribed", "unsubscribed"),
    "group_unsubscribe": (
        {**ENGAGEMENT, "asm_group_id": 10, "url": "https://acme.example/prefs"},
        "unsubscribed",
        "",
        "unsubscribed",
        "unsubscribed",
    ),
    "group_resubscribe": (
        {**ENGAGEMENT, "asm_group_id": 10, "url": "https://acme.example/prefs"},
        "resubscribed",
        "",
        None,
        "sent",
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_documented_event(live: Live, keys: dict[str, str], shape: str) -> None:
    message = message_for(live, "sendgrid", X_MESSAGE_ID)
    extra, event_type, bounce_type, suppressed, status = SHAPES[shape]
    event = sg_event(shape, message.email, message.id, **extra)
    accepted(post(live, keys, "sendgrid", [event]))
    assert_applied(live, message, event_type, bounce_type, suppressed, status)


def test_a_group_resubscribe_lifts_no_suppression(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "sendgrid", X_MESSAGE_ID)
    group = {**ENGAGEMENT, "asm_group_id": 10}
    unsubscribe = sg_event("group_unsubscribe", message.email, message.id, 1, **group)
    resubscribe = sg_event("group_resubscribe", message.email, message.id, 2, **group)
    accepted(post(live, keys, "sendgrid", [unsubscribe, resubscribe]), stored=2)
    found = outcome(live, message)
    assert found.types == [EventType.UNSUBSCRIBED, EventType.RESUBSCRIBED]
    assert found.detail["description"] == "SendGrid resubscribe group 10"
    assert found.suppression is not None
    assert found.suppression[0] == SuppressionReason.UNSUBSCRIBED
    assert found.status == MessageStatus.UNSUBSCRIBED
