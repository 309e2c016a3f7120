"""Mailgun webhooks into the live app: ``{"signature", "event-data"}`` bodies shaped as Mailgun
documents them, signed with the hex HMAC-SHA256 of timestamp + token under a key made here."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from distro.models import MessageStatus
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import signatures as sig
from distro.tracking.mailgun import parse
from tests.test_webhooks_support import (
    Live,
    LiveFactory,
    event_count,
    handed_over,
    live_factory,
    statuses,
    stored_events,
    suppressions,
)

__all__ = ["live_factory"]  # the fixture, imported for pytest

PROVIDER_ID = "20261121092334.1.5A0C1F3E2D4B6A78@mg.acme.example"


@pytest.fixture
def key() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, key: str) -> Live:
    return live_factory(
        engine,
        providers={
            "mg": {
                "type": "mailgun",
                "api_key": "k",
                "domain": "mg.acme.example",
                "webhook_signing_key": key,
            }
        },
    )


def event_data(kind: str, recipient: str, message_id: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "id": uuid.uuid4().hex[:22],
        "timestamp": 1763716214.572,
        "log-level": "info",
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "envelope": {"sender": "press@mg.acme.example", "targets": recipient, "transport": "smtp"},
        "message": {
            "headers": {
                "message-id": PROVIDER_ID,
                "from": "Acme <press@mg.acme.example>",
                "to": recipient,
                "subject": "News",
            },
            "attachments": [],
            "size": 1234,
        },
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "tags": [],
        "campaigns": [],
        "user-variables": {MESSAGE_ID_KEY: str(message_id)} if message_id else [],
        **extra,
    }


def body(key: str, data: dict[str, Any], at: float | None = None) -> bytes:
    signature = sig.mailgun_signature(key, now=at)
    return json.dumps({"signature": signature, "event-data": data}).encode()


JSON = {"Content-Type": "application/json"}


def test_events_are_stored_matched_and_normalised(live: Live, key: str) -> None:
    ana, ben, cy, dee = handed_over(
        live.engine,
        live.settings,
        "mg",
        ["ana@news.example", "ben@news.example", "cy@news.example", "dee@news.example"],
        [PROVIDER_ID.strip("<>")] * 4,  # one API call: one id for all
    )
    posts = [
        event_data("accepted", ana.email, ana.id, method="HTTP"),
        event_data(
            "delivered",
            ana.email,
            ana.id,
            **{"delivery-status": {"code": 250, "message": "OK", "description": ""}},
        ),
        event_data(
            "opened",
            ana.email,
            ana.id,
            ip="203.0.113.9",
            **{"client-info": {"user-agent": "Mozilla/5.0", "bot": "apple"}},
        ),
        event_data(
            "failed",
            ben.email,
            ben.id,
            severity="permanent",
            reason="bounce",
            **{
                "delivery-status": {
                    "code": 550,
                    "message": "5.1.1 The email account that you tried to reach does not exist",
                    "description": "",
                }
            },
        ),
        event_data(
            "failed",
            cy.email,
            None,  # matched by message-id and recipient
            severity="temporary",
            reason="generic",
            **{"delivery-status": {"code": 421, "message": "4.7.0 later", "retry-seconds": 600}},
        ),
        event_data("unsubscribed", dee.email, dee.id, ip="203.0.113.9"),
    ]
    for data in posts:
        answer = live.post("mailgun", body(key, data), JSON)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": 1, "stored": 1}
    rows = stored_events(live.engine)
    assert [r.type for r in rows] == [
        "sent",
        "delivered",
        "opened",
        "bounced",
        "deferred",
        "unsubscribed",
    ]
    assert [r.message_id for r in rows] == [ana.id, ana.id, ana.id, ben.id, cy.id, dee.id]
    assert rows[1].detail["mta_response"] == "250 OK"
    assert rows[2].detail["machine"] is True
    assert rows[2].detail["user_agent"] == "Mozilla/5.0"
    bounce = rows[3].detail
    assert (bounce["bounce_type"], bounce["reason"], bounce["status"]) == (
        "hard",
        "bounce",
        "5.1.1",
    )
    assert bounce["mta_response"].startswith("550 5.1.1")
    assert rows[4].detail["status"] == "4.7.0"
    assert statuses(live.engine, [ana, ben, cy, dee]) == [
        MessageStatus.OPENED,
        MessageStatus.BOUNCED,
        MessageStatus.DEFERRED,
        MessageStatus.UNSUBSCRIBED,
    ]
    assert suppressions(live.engine) == {
        ben.email: ("hard_bounce", rows[3].id),
        dee.email: ("unsubscribed", rows[5].id),
    }


def test_forged_and_stale_signatures_are_refused(live: Live, key: str) -> None:
    (message,) = handed_over(live.engine, live.settings, "mg", ["ana@news.example"])
    data = event_data("delivered", message.email, message.id)
    good = json.loads(body(key, data))
    tampered = {**good, "event-data": {**data, "event": "complained"}}  # still "signed"
    wrong_key = json.loads(body("another-key", data))
    no_signature = {"event-data": data}
    for payload in (wrong_key, no_signature):
        assert live.post("mailgun", json.dumps(payload).encode(), JSON).status_code == 401
    for at in (time.time() - 400, time.time() + 400):
        assert live.post("mailgun", body(key, data, at=at), JSON).status_code == 401
    assert event_count(live.engine) == 0
    # The signature covers only timestamp + token (as Mailgun documents): the body is trusted
    # once it verifies, so a tampered body with a good signature is believed.
    assert live.post("mailgun", json.dumps(tampered).encode(), JSON).status_code == 200


def test_a_retry_with_a_fresh_token_is_stored_once(live: Live, key: str) -> None:
    (message,) = handed_over(live.engine, live.settings, "mg", ["ana@news.example"])
    data = event_data("delivered", message.email, message.id)
    assert live.post("mailgun", body(key, data), JSON).json() == {"received": 1, "stored": 1}
    assert live.post("mailgun", body(key, data), JSON).json() == {"received": 1, "stored": 0}
    assert event_count(live.engine) == 1


def test_unreadable_bodies_are_406_so_mailgun_stops_retrying(live: Live, key: str) -> None:
    assert live.post("mailgun", b"{not json", JSON).status_code == 406
    broken = event_data("failed", "a@x.example", None, severity="sometimes")
    assert live.post("mailgun", body(key, broken), JSON).status_code == 406
    no_id = event_data("delivered", "a@x.example", None)
    del no_id["id"]
    assert live.post("mailgun", body(key, no_id), JSON).status_code == 406
    assert event_count(live.engine) == 0


def test_unknown_message_is_kept_and_unknown_kinds_acknowledged(live: Live, key: str) -> None:
    stranger = event_data("delivered", "stranger@else.example", 55_555)
    assert live.post("mailgun", body(key, stranger), JSON).status_code == 200
    stored = event_data("stored", "stranger@else.example", None)
    assert live.post("mailgun", body(key, stored), JSON).json() == {"received": 0, "stored": 0}
    (row,) = stored_events(live.engine)
    assert row.message_id is None
    assert row.recipient == "stranger@else.example"


@pytest.mark.parametrize(
    ("severity", "reason", "status", "expected"),
    [
        ("permanent", "bounce", {}, ("bounced", "hard")),
        ("permanent", "old", {}, ("bounced", "soft")),
        ("permanent", "suppress-bounce", {}, ("rejected", None)),
        ("temporary", "generic", {"retry-seconds": 600}, ("deferred", None)),
        ("temporary", "generic", {}, ("bounced", "soft")),
    ],
)
def test_failed_events_are_read_by_severity_and_reason(
    severity: str, reason: str, status: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    data = event_data(
        "failed",
        "a@x.example",
        9,
        severity=severity,
        reason=reason,
        **{"delivery-status": {"code": 550, "message": "x", **status}},
    )
    (event,) = parse({"signature": {}, "event-data": data})
    assert (str(event.type), event.bounce_kind) == expected
    assert event.message_id == 9
    assert event.provider_message_id == PROVIDER_ID
