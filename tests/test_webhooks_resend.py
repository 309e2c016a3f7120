"""Resend webhooks into the live app: ``{type, created_at, data}`` bodies shaped as Resend
documents them, signed the Svix way (HMAC-SHA256 of "{id}.{timestamp}.{body}") with a secret
made here; 5 minutes' tolerance."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import pytest
from sqlalchemy import Engine

from distro.models import MessageStatus
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import signatures as sig
from distro.tracking.event import BounceKind
from distro.tracking.resend import parse
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


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, secret: str) -> Live:
    return live_factory(
        engine, providers={"rs": {"type": "resend", "api_key": "re_x", "webhook_secret": secret}}
    )


def payload(kind: str, to: str, message_id: int | None, email_id: str, **data: Any) -> bytes:
    tags = [{"name": "category", "value": "release"}]
    if message_id is not None:
        tags.append({"name": MESSAGE_ID_KEY, "value": str(message_id)})
    return json.dumps(
        {
            "type": kind,
            "created_at": "2026-11-21T09:30:00.123Z",
            "data": {
                "broadcast_id": None,
                "created_at": "2026-11-21T09:29:58.000Z",
                "email_id": email_id,
                "from": "Acme <press@acme.example>",
                "to": [to],
                "subject": "News",
                "tags": tags,
                **data,
            },
        }
    ).encode()


def headers(secret: str, body: bytes, delivery_id: str, at: float | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **sig.svix_headers(secret, delivery_id, body, at)}


def msg_id() -> str:
    return "msg_" + secrets.token_hex(12)


def test_events_are_stored_matched_and_normalised(live: Live, secret: str) -> None:
    ana, ben = handed_over(
        live.engine, live.settings, "rs", ["ana@news.example", "ben@news.example"]
    )
    posts = [
        payload("email.sent", ana.email, ana.id, f"rs-{ana.id}"),
        payload("email.delivered", ana.email, ana.id, f"rs-{ana.id}"),
        payload(
            "email.clicked",
            ana.email,
            ana.id,
            f"rs-{ana.id}",
            click={
                "ipAddress": "198.51.100.3",
                "link": "https://acme.example/r",
                "timestamp": "2026-11-21T09:31:00.000Z",
                "userAgent": "Mozilla/5.0",
            },
        ),
        payload(
            "email.bounced",
            ben.email,
            None,  # matched by email_id
            f"rs-{ben.id}",
            bounce={
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                "message": "The recipient's email address does not exist.",
                "subType": "General",
                "type": "Permanent",
            },
        ),
        payload("email.complained", ana.email, ana.id, f"rs-{ana.id}"),
    ]
    for body in posts:
        answer = live.post("resend", body, headers(secret, body, msg_id()))
        assert answer.status_code == 200, answer.text
    rows = stored_events(live.engine)
    assert [r.type for r in rows] == ["sent", "delivered", "clicked", "bounced", "complained"]
    assert [r.message_id for r in rows] == [ana.id, ana.id, ana.id, ben.id, ana.id]
    assert rows[2].detail["url"] == "https://acme.example/r"
    assert rows[2].detail["ip"] == "198.51.100.3"
    bounce = rows[3].detail
    assert (bounce["bounce_type"], bounce["reason"], bounce["status"]) == (
        "hard",
        "General",
        "5.1.1",
    )
    assert rows[0].occurred_at.isoformat() == "2026-11-21T09:30:00.123000+00:00"
    assert statuses(live.engine, [ana, ben]) == [MessageStatus.COMPLAINED, MessageStatus.BOUNCED]
    assert suppressions(live.engine) == {
        ana.email: ("complaint", rows[4].id),
        ben.email: ("hard_bounce", rows[3].id),
    }


def test_forged_tampered_and_stale_deliveries_are_refused(live: Live, secret: str) -> None:
    (message,) = handed_over(live.engine, live.settings, "rs", ["ana@news.example"])
    body = payload("email.delivered", message.email, message.id, "rs-1")
    delivery = msg_id()
    attempts = [
        (body, headers(new_secret(), body, delivery)),
        (body.replace(b"delivered", b"bounced"), headers(secret, body, delivery)),
        (body, {**headers(secret, body, delivery), "svix-id": msg_id()}),
        (body, headers(secret, body, delivery, at=time.time() - 400)),
        (body, headers(secret, body, delivery, at=time.time() + 400)),
        (body, {"Content-Type": "application/json"}),
    ]
    for content, sent_headers in attempts:
        assert live.post("resend", content, sent_headers).status_code == 401
    assert event_count(live.engine) == 0


def test_a_redelivery_is_stored_once(live: Live, secret: str) -> None:
    (message,) = handed_over(live.engine, live.settings, "rs", ["ana@news.example"])
    body = payload("email.delivered", message.email, message.id, "rs-1")
    delivery = msg_id()
    first = live.post("resend", body, headers(secret, body, delivery))
    again = live.post("resend", body, headers(secret, body, delivery))  # re-signed, same svix-id
    assert first.json() == {"received": 1, "stored": 1}
    assert again.json() == {"received": 1, "stored": 0}


def test_unknown_message_kept_other_types_acknowledged_junk_refused(
    live: Live, secret: str
) -> None:
    stranger = payload("email.delivered", "stranger@else.example", 424_242, "rs-unknown")
    assert live.post("resend", stranger, headers(secret, stranger, msg_id())).status_code == 200
    domain = json.dumps({"type": "domain.updated", "created_at": "2026-11-21T09:30:00Z"}).encode()
    answer = live.post("resend", domain, headers(secret, domain, msg_id()))
    assert answer.json() == {"received": 0, "stored": 0}
    for junk in (b"[]", b"{oops", json.dumps({"type": "email.sent", "data": {}}).encode()):
        assert live.post("resend", junk, headers(secret, junk, msg_id())).status_code == 400
    (row,) = stored_events(live.engine)
    assert row.message_id is None


def test_parse_reads_tags_either_way_and_every_type() -> None:
    body = json.loads(payload("email.opened", "a@x.example", None, "e1"))
    body["data"]["tags"] = {MESSAGE_ID_KEY: "31"}
    (opened,) = parse(body, "msg_1")
    assert (str(opened.type), opened.message_id, opened.provider_message_id) == ("opened", 31, "e1")
    kinds = {
        "email.sent": "sent",
        "email.delivered": "delivered",
        "email.delivery_delayed": "deferred",
        "email.bounced": "bounced",
        "email.complained": "complained",
        "email.opened": "opened",
        "email.clicked": "clicked",
        "email.failed": "failed",
        "email.suppressed": "rejected",
    }
    for kind, expected in kinds.items():
        (event,) = parse(json.loads(payload(kind, "a@x.example", 5, "e1")), "msg_2")
        assert (str(event.type), event.message_id, event.provider_event_id) == (
            expected,
            5,
            "msg_2",
        )
    soft = json.loads(payload("email.bounced", "a@x.example", 5, "e1"))
    soft["data"]["bounce"] = {"type": "Transient", "subType": "MailboxFull", "message": "full"}
    assert parse(soft, "m")[0].bounce_kind == BounceKind.SOFT
    several = json.loads(payload("email.delivered", "a@x.example", 5, "e1"))
    several["data"]["to"] = ["a@x.example", "b@x.example"]
    assert [e.provider_event_id for e in parse(several, "m")] == ["m:a@x.example", "m:b@x.example"]
