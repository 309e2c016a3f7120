"""Resend webhook shapes as Resend documents them (the email.* events, and the events with no
email outcome that are acknowledged), signed the Svix way and posted to the live app."""

from __future__ import annotations

import json
from typing import Any

import pytest

from distro.models import EventType, MessageStatus, SuppressionReason
from tests.test_webhooks_resend import payload
from tests.test_webhooks_support import Live, event_count, live_factory
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

EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
OPEN = {"ipAddress": "122.115.53.11", "timestamp": "2026-11-21T09:31:00.000Z", "userAgent": "M/5"}


def body(kind: str, to: str, message_id: int | None, **data: Any) -> Any:
    return json.loads(payload(kind, to, message_id, EMAIL_ID, **data))


#: type -> (documented extra data, event type, bounce kind, suppression or None, status).
SHAPES: dict[str, tuple[dict[str, Any], str, str, str | None, str]] = {
    "email.sent": ({}, "sent", "", None, "sent"),
    "email.delivered": ({}, "delivered", "", None, "delivered"),
    "email.delivery_delayed": ({}, "deferred", "", None, "deferred"),
    "email.complained": ({}, "complained", "", "complaint", "complained"),
    "email.opened": ({"open": OPEN}, "opened", "", None, "opened"),
    "email.clicked": (
        {"click": {**OPEN, "link": "https://acme.example/news"}},
        "clicked",
        "",
        None,
        "clicked",
    ),
    "email.failed": ({"failed": {"reason": "reached_daily_quota"}}, "failed", "", None, "sent"),
    "email.suppressed": (
        {"suppressed": {"message": "on the suppression list", "type": "OnAccountSuppressionList"}},
        "rejected",
        "",
        None,
        "sent",
    ),
    "email.bounced": (
        {
            "bounce": {
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                "message": "The recipient's email address does not exist.",
                "subType": "General",
                "type": "Permanent",
            }
        },
        "bounced",
        "hard",
        "hard_bounce",
        "bounced",
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_documented_email_event(live: Live, keys: dict[str, str], shape: str) -> None:
    message = message_for(live, "resend", EMAIL_ID)
    extra, event_type, bounce_type, suppressed, status = SHAPES[shape]
    accepted(post(live, keys, "resend", body(shape, message.email, message.id, **extra)))
    assert_applied(live, message, event_type, bounce_type, suppressed, status)


def test_a_bounce_with_only_a_message_is_permanent(live: Live, keys: dict[str, str]) -> None:
    """Resend's bounced event is permanent unless it says otherwise; bodies with a message and
    no type are sent."""
    message = message_for(live, "resend", EMAIL_ID)
    bounce = {"message": "The recipient's mail server sent a hard bounce for this address."}
    accepted(
        post(live, keys, "resend", body("email.bounced", message.email, message.id, bounce=bounce))
    )
    found = outcome(live, message)
    assert found.types == [EventType.BOUNCED]
    assert found.detail["bounce_type"] == "hard"
    assert found.suppression is not None
    assert found.suppression[0] == SuppressionReason.HARD_BOUNCE
    assert found.status == MessageStatus.BOUNCED


@pytest.mark.parametrize("kind", ["Transient", "Undetermined"])
def test_a_bounce_that_says_it_is_transient_is_soft(
    live: Live, keys: dict[str, str], kind: str
) -> None:
    message = message_for(live, "resend", EMAIL_ID)
    bounce = {"message": "Mailbox full", "subType": "MailboxFull", "type": kind}
    accepted(
        post(live, keys, "resend", body("email.bounced", message.email, message.id, bounce=bounce))
    )
    found = outcome(live, message)
    assert found.detail["bounce_type"] == "soft"
    assert found.suppression is None


@pytest.mark.parametrize("kind", ["email.scheduled", "contact.created", "domain.updated"])
def test_events_without_an_email_outcome_are_acknowledged(
    live: Live, keys: dict[str, str], kind: str
) -> None:
    if kind.startswith("email."):
        value = body(kind, "jo@news.example", None)
    else:
        value = {
            "type": kind,
            "created_at": "2026-11-21T09:30:00.123Z",
            "data": {"id": "e169aa45-1ecf-4183-9955-b1499d5701d3", "created_at": "2026-11-21"},
        }
    accepted(post(live, keys, "resend", value), stored=0)
    assert event_count(live.engine) == 0
