"""Mailgun webhook shapes as Mailgun documents them: the JSON webhooks' ``event-data`` of each
event (accepted, delivered, failed permanent and temporary, rejected, opened, clicked,
unsubscribed, complained), and the legacy form-encoded webhooks older accounts still post
(delivered, dropped, bounced, complained, unsubscribed, clicked, opened), url-encoded and
multipart, each signed with the webhook signing key and posted to the live app."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from distro.models import EventType, MessageStatus, SuppressionReason
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import signatures as sig
from tests.test_webhooks_mailgun import PROVIDER_ID, event_data
from tests.test_webhooks_support import Live, event_count, live_factory, stored_events
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

MG_ID = PROVIDER_ID.strip("<>")
CLIENT = {
    "client-info": {
        "client-name": "Chrome",
        "client-os": "Linux",
        "client-type": "browser",
        "device-type": "desktop",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64)",
    },
    "geolocation": {"city": "San Francisco", "country": "US", "region": "CA"},
    "ip": "50.56.129.169",
}

#: JSON event shape -> (event-data extras, event type, bounce kind, suppression, status).
JSON_SHAPES: dict[str, tuple[str, dict[str, Any], str, str, str | None, str]] = {
    "accepted": ("accepted", {"method": "HTTP"}, "sent", "", None, "sent"),
    "delivered": (
        "delivered",
        {"delivery-status": {"code": 250, "message": "OK", "tls": True, "attempt-no": 1}},
        "delivered",
        "",
        None,
        "delivered",
    ),
    "failed permanent": (
        "failed",
        {
            "severity": "permanent",
            "reason": "bounce",
            "delivery-status": {
                "code": 550,
                "message": "5.1.1 The email account that you tried to reach does not exist.",
                "description": "",
                "attempt-no": 1,
            },
        },
        "bounced",
        "hard",
        "hard_bounce",
        "bounced",
    ),
    "failed permanent suppress-bounce": (
        "failed",
        {
            "severity": "permanent",
            "reason": "suppress-bounce",
            "delivery-status": {"code": 605, "message": "", "description": "Not delivering"},
        },
        "rejected",
        "",
        None,
        "sent",
    ),
    "failed temporary": (
        "failed",
        {
            "severity": "temporary",
            "reason": "generic",
            "delivery-status": {"code": 452, "message": "4.2.2 mailbox full", "retry-seconds": 600},
        },
        "deferred",
        "",
        None,
        "deferred",
    ),
    "rejected": (
        "rejected",
        {"reject": {"reason": "Sandbox subdomains are for test purposes only", "description": ""}},
        "rejected",
        "",
        None,
        "sent",
    ),
    "opened": ("opened", CLIENT, "opened", "", None, "opened"),
    "clicked": (
        "clicked",
        {**CLIENT, "url": "https://acme.example/news"},
        "clicked",
        "",
        None,
        "clicked",
    ),
    "unsubscribed": ("unsubscribed", CLIENT, "unsubscribed", "", "unsubscribed", "unsubscribed"),
    "complained": ("complained", {}, "complained", "", "complaint", "complained"),
}


@pytest.mark.parametrize("shape", list(JSON_SHAPES))
def test_every_documented_json_event(live: Live, keys: dict[str, str], shape: str) -> None:
    message = message_for(live, "mailgun", MG_ID)
    name, extra, event_type, bounce_type, suppressed, status = JSON_SHAPES[shape]
    accepted(post(live, keys, "mailgun", event_data(name, message.email, message.id, **extra)))
    assert_applied(live, message, event_type, bounce_type, suppressed, status)


# --- legacy (form-encoded) webhooks ------------------------------------------------------------


def headers_json(recipient: str) -> str:
    return json.dumps(
        [
            ["Received", "by luna.mailgun.net with SMTP mgrt 8734663311733"],
            ["Message-Id", f"<{MG_ID}>"],
            ["From", "Acme <press@mg.acme.example>"],
            ["To", recipient],
            ["Subject", "News"],
        ]
    )


def legacy(event: str, recipient: str, message_id: int | None, **extra: str) -> dict[str, str]:
    """A legacy webhook's fields as documented (custom variables as fields of their own)."""
    fields = {
        "event": event,
        "recipient": recipient,
        "domain": "mg.acme.example",
        "message-headers": headers_json(recipient),
        "Message-Id": f"<{MG_ID}>",
        "X-Mailgun-Sid": "WyI2NzM5OCIsICJqb0BuZXdzLmV4YW1wbGUiLCAiMTAxOGEiXQ==",
        **extra,
    }
    if message_id is not None:
        fields[MESSAGE_ID_KEY] = str(message_id)
    return fields


ENGAGED = {
    "ip": "50.56.129.169",
    "country": "US",
    "region": "CA",
    "city": "San Francisco",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "device-type": "desktop",
    "client-type": "browser",
    "client-name": "Chrome",
    "client-os": "Linux",
    "tag": "release",
}

#: legacy event shape -> (event, fields, event type, bounce kind, suppression, status).
LEGACY_SHAPES: dict[str, tuple[str, dict[str, str], str, str, str | None, str]] = {
    "delivered": ("delivered", {}, "delivered", "", None, "delivered"),
    "bounced": (
        "bounced",
        {
            "code": "550",
            "error": "5.1.1 The email account that you tried to reach does not exist.",
            "notification": "",
        },
        "bounced",
        "hard",
        "hard_bounce",
        "bounced",
    ),
    "dropped hardfail": (
        "dropped",
        {"reason": "hardfail", "code": "550", "description": "550 5.1.1 user unknown"},
        "bounced",
        "hard",
        "hard_bounce",
        "bounced",
    ),
    "dropped old": (
        "dropped",
        {"reason": "old", "code": "421", "description": "Too old"},
        "bounced",
        "soft",
        None,
        "bounced",
    ),
    "dropped previously bounced": (
        "dropped",
        {
            "reason": "hardfail",
            "code": "605",
            "description": "Not delivering to previously bounced address",
        },
        "rejected",
        "",
        None,
        "sent",
    ),
    "complained": ("complained", {}, "complained", "", "complaint", "complained"),
    "unsubscribed": ("unsubscribed", ENGAGED, "unsubscribed", "", "unsubscribed", "unsubscribed"),
    "opened": ("opened", ENGAGED, "opened", "", None, "opened"),
    "clicked": (
        "clicked",
        {**ENGAGED, "url": "https://acme.example/news"},
        "clicked",
        "",
        None,
        "clicked",
    ),
}


def signed(keys: dict[str, str], fields: dict[str, str]) -> dict[str, str]:
    return {**fields, **sig.mailgun_signature(keys["mailgun"])}


def post_form(live: Live, fields: dict[str, str], *, multipart: bool = False) -> httpx.Response:
    url = f"{live.url}/webhooks/mailgun"
    if multipart:  # what Mailgun posts for events carrying the message's attachments
        files = {"attachment-1": ("original.eml", b"From: x\r\n\r\nbody", "message/rfc822")}
        return httpx.post(url, data=fields, files=files, timeout=30)
    return httpx.post(url, data=fields, timeout=30)


@pytest.mark.parametrize("shape", list(LEGACY_SHAPES))
@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_every_documented_legacy_event(
    live: Live, keys: dict[str, str], shape: str, multipart: bool
) -> None:
    message = message_for(live, "mailgun", MG_ID)
    name, extra, event_type, bounce_type, suppressed, status = LEGACY_SHAPES[shape]
    fields = signed(keys, legacy(name, message.email, message.id, **extra))
    accepted(post_form(live, fields, multipart=multipart))
    assert_applied(live, message, event_type, bounce_type, suppressed, status)
    # The same post again (a retry) is stored once.
    accepted(post_form(live, fields, multipart=multipart), stored=0)


def test_a_legacy_event_found_by_its_message_id_alone(live: Live, keys: dict[str, str]) -> None:
    """Without our variable the Message-Id (and recipient) find the message."""
    message = message_for(live, "mailgun", MG_ID)
    accepted(post_form(live, signed(keys, legacy("delivered", message.email, None))))
    assert outcome(live, message).message_ids == [message.id]
    assert stored_events(live.engine)[0].provider_message_id == MG_ID


def test_a_legacy_event_with_a_wrong_or_no_signature_is_refused(
    live: Live, keys: dict[str, str]
) -> None:
    message = message_for(live, "mailgun", MG_ID)
    fields = legacy("complained", message.email, message.id)
    wrong = {**fields, **sig.mailgun_signature("another-key")}
    assert post_form(live, wrong).status_code == 401
    assert post_form(live, fields).status_code == 401
    assert event_count(live.engine) == 0
    assert outcome(live, message).status == MessageStatus.SENT


def test_an_authentic_legacy_body_that_cannot_be_read_is_406(
    live: Live, keys: dict[str, str]
) -> None:
    fields = signed(keys, {"recipient": "jo@news.example"})  # no event
    assert post_form(live, fields).status_code == 406
    assert event_count(live.engine) == 0


def test_a_legacy_unsubscribe_suppresses(live: Live, keys: dict[str, str]) -> None:
    message = message_for(live, "mailgun", MG_ID)
    accepted(post_form(live, signed(keys, legacy("unsubscribed", message.email, message.id))))
    found = outcome(live, message)
    assert found.types == [EventType.UNSUBSCRIBED]
    assert found.suppression == (SuppressionReason.UNSUBSCRIBED, stored_events(live.engine)[0].id)
