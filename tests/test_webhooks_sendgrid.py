"""SendGrid's Signed Event Webhook into the live app: arrays of events shaped as SendGrid
documents them, signed with ECDSA P-256 over timestamp + body with keys made here."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event

from distro.errors import ConfigError
from distro.models import MessageStatus
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import signatures as sig
from distro.tracking.event import BounceKind
from distro.tracking.inbound import webhook_sources
from distro.tracking.sendgrid import parse
from tests.conftest import make_settings
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

X_MESSAGE_ID = "W86EgYT6SQKk0lRflfLRsA"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return sig.generate_sendgrid_key()


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, keys: tuple[str, str]) -> Live:
    return live_factory(
        engine,
        providers={"sg": {"type": "sendgrid", "api_key": "SG.x", "webhook_public_key": keys[1]}},
    )


def sg_event(
    kind: str, email: str, message_id: int | None, index: int = 0, **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "email": email,
        "timestamp": 1_763_700_000 + index,
        "smtp-id": f"<{X_MESSAGE_ID}@ismtpd-555>",
        "event": kind,
        "category": ["release"],
        "sg_event_id": f"sg-{uuid.uuid4().hex}",
        "sg_message_id": f"{X_MESSAGE_ID}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC1BC.{index}",
        **extra,
    }
    if message_id is not None:
        found[MESSAGE_ID_KEY] = str(message_id)
    return found


def signed(private_key: str, body: bytes, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        sig.SENDGRID_SIGNATURE_HEADER: sig.sign_sendgrid(private_key, timestamp, body),
        sig.SENDGRID_TIMESTAMP_HEADER: timestamp,
    }


def post(live: Live, private_key: str, events: list[dict[str, Any]]) -> Any:
    body = json.dumps(events).encode()
    return live.post("sendgrid", body, signed(private_key, body))


def test_batch_is_stored_matched_and_normalised(live: Live, keys: tuple[str, str]) -> None:
    a, b, c = handed_over(
        live.engine,
        live.settings,
        "sg",
        ["ana@news.example", "ben@news.example", "cy@news.example"],
        [X_MESSAGE_ID] * 3,  # one request: one X-Message-Id for all
    )
    batch = [
        sg_event("processed", a.email, a.id, 0),
        sg_event("delivered", a.email, a.id, 1, response="250 2.0.0 OK", tls=1),
        sg_event(
            "open",
            a.email,
            a.id,
            2,
            useragent="Mozilla/5.0",
            ip="198.51.100.7",
            sg_machine_open=True,
        ),
        sg_event(
            "click",
            a.email,
            a.id,
            3,
            useragent="Mozilla/5.0",
            ip="198.51.100.7",
            url="https://acme.example/news",
        ),
        sg_event(
            "bounce",
            b.email,
            b.id,
            4,
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 The email account that you tried to reach does not exist",
            bounce_classification="Invalid Address",
        ),
        # No custom_args: matched by X-Message-Id and the recipient.
        sg_event("deferred", c.email, None, 5, response="421 4.7.0 Try again later", attempt="1"),
    ]
    answer = post(live, keys[0], batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 6, "stored": 6}
    rows = stored_events(live.engine)
    assert [r.type for r in rows] == [
        "sent",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "deferred",
    ]
    assert {r.provider for r in rows} == {"sg"}
    assert [r.message_id for r in rows] == [a.id] * 4 + [b.id, c.id]
    assert {r.provider_message_id for r in rows} == {X_MESSAGE_ID}
    assert rows[1].detail["mta_response"] == "250 2.0.0 OK"
    assert rows[2].detail["machine"] is True
    assert rows[2].detail["ip"] == "198.51.100.7"
    assert rows[3].detail["url"] == "https://acme.example/news"
    bounce = rows[4].detail
    assert (bounce["bounce_type"], bounce["reason"], bounce["status"]) == (
        "hard",
        "Invalid Address",
        "5.1.1",
    )
    assert bounce["mta_response"].startswith("550 5.1.1")
    assert bounce["raw"]["sg_event_id"] == batch[4]["sg_event_id"]
    assert statuses(live.engine, [a, b, c]) == [
        MessageStatus.CLICKED,
        MessageStatus.BOUNCED,
        MessageStatus.DEFERRED,
    ]
    assert suppressions(live.engine) == {b.email: ("hard_bounce", rows[4].id)}


def test_forged_tampered_unsigned_and_stale_posts_are_refused(
    live: Live, keys: tuple[str, str]
) -> None:
    (message,) = handed_over(live.engine, live.settings, "sg", ["ana@news.example"])
    body = json.dumps([sg_event("delivered", message.email, message.id)]).encode()
    other_key = sig.generate_sendgrid_key()[0]
    attempts = {
        "other key": (body, signed(other_key, body)),
        "tampered": (body.replace(b"delivered", b"bounce"), signed(keys[0], body)),
        "unsigned": (body, {"Content-Type": "application/json"}),
        "stale": (body, signed(keys[0], body, at=time.time() - 400)),
        "from the future": (body, signed(keys[0], body, at=time.time() + 400)),
    }
    for name, (content, headers) in attempts.items():
        answer = live.post("sendgrid", content, headers)
        assert answer.status_code == 401, name
    assert event_count(live.engine) == 0
    assert statuses(live.engine, [message]) == [MessageStatus.SENT]


def test_a_retried_batch_is_stored_once(live: Live, keys: tuple[str, str]) -> None:
    (message,) = handed_over(live.engine, live.settings, "sg", ["ana@news.example"])
    batch = [
        sg_event("delivered", message.email, message.id),
        sg_event("open", message.email, message.id, 1),
    ]
    assert post(live, keys[0], batch).json() == {"received": 2, "stored": 2}
    retried = post(live, keys[0], batch)  # re-signed with a new timestamp, same event ids
    assert retried.status_code == 200
    assert retried.json() == {"received": 2, "stored": 0}
    assert event_count(live.engine) == 2


def test_unknown_messages_are_kept_and_odd_elements_skipped(
    live: Live, keys: tuple[str, str]
) -> None:
    batch: list[Any] = [
        sg_event("delivered", "stranger@else.example", 987_654),
        {"event": "delivered", "email": "x@y.example"},  # no timestamp: skipped, logged
        "not an event",
        # A kind with no message outcome (or one SendGrid adds later): nothing to record.
        sg_event("account_status_change", "stranger@else.example", None),
    ]
    answer = post(live, keys[0], batch)
    assert answer.status_code == 200
    assert answer.json() == {"received": 1, "stored": 1, "skipped": 2}
    (row,) = stored_events(live.engine)
    assert row.message_id is None
    assert row.recipient == "stranger@else.example"


@pytest.mark.parametrize("body", [b"{not json", b'{"event": "delivered"}', b'["junk", 1]'], ids=str)
def test_unreadable_bodies_are_400(live: Live, keys: tuple[str, str], body: bytes) -> None:
    answer = live.post("sendgrid", body, signed(keys[0], body))
    assert answer.status_code == 400
    assert event_count(live.engine) == 0


def test_a_thousand_events_go_in_one_transaction(
    any_engine: Engine, live_factory: LiveFactory, keys: tuple[str, str]
) -> None:
    provider = {"type": "sendgrid", "api_key": "k", "webhook_public_key": keys[1]}
    live = live_factory(any_engine, providers={"sg": provider})
    emails = [f"r{i}@news.example" for i in range(250)]
    messages = handed_over(live.engine, live.settings, "sg", emails, [X_MESSAGE_ID] * 250)
    batch = [
        sg_event(kind, m.email, m.id, i)
        for i, m in enumerate(messages)
        for kind in ("processed", "delivered", "open", "click")
    ]
    transactions: list[object] = []

    def count(conn: object) -> None:
        transactions.append(conn)

    event.listen(live.engine, "begin", count)
    try:
        answer = post(live, keys[0], batch)
    finally:
        event.remove(live.engine, "begin", count)
    assert answer.json() == {"received": 1000, "stored": 1000}
    assert len(transactions) == 1
    assert set(statuses(live.engine, messages)) == {MessageStatus.CLICKED}


def test_two_accounts_stay_apart(engine: Engine, live_factory: LiveFactory) -> None:
    first, second = sig.generate_sendgrid_key(), sig.generate_sendgrid_key()
    live = live_factory(
        engine,
        providers={
            "sg_eu": {"type": "sendgrid", "api_key": "a", "webhook_public_key": first[1]},
            "sg_us": {"type": "sendgrid", "api_key": "b", "webhook_public_key": second[1]},
        },
    )
    assert post(live, second[0], [sg_event("delivered", "a@x.example", None)]).status_code == 200
    assert post(live, first[0], [sg_event("delivered", "a@x.example", None)]).status_code == 200
    assert [r.provider for r in stored_events(engine)] == ["sg_us", "sg_eu"]


def test_parse_maps_every_documented_event() -> None:
    kinds = {
        "processed": "sent",
        "dropped": "rejected",
        "delivered": "delivered",
        "deferred": "deferred",
        "open": "opened",
        "click": "clicked",
        "spamreport": "complained",
        "unsubscribe": "unsubscribed",
        "group_unsubscribe": "unsubscribed",
    }
    events, skipped = parse(
        [
            sg_event(kind, "a@x.example", 7, reason="Bounced Address", asm_group_id=12)
            for kind in kinds
        ]
        + [sg_event("bounce", "a@x.example", 7, type="blocked", status="4.2.2", reason="452 full")]
        + [sg_event("group_resubscribe", "a@x.example", 7)]
    )
    assert skipped == []
    # group_resubscribe is recorded (for staff), lifting nothing.
    assert [str(e.type) for e in events] == [*kinds.values(), "bounced", "resubscribed"]
    assert events[-2].bounce_kind == BounceKind.SOFT  # blocked: SendGrid's temporary bounce
    assert events[1].reason == "Bounced Address"
    assert events[8].description == "SendGrid unsubscribe group 12"
    assert all(e.message_id == 7 and e.provider_message_id == X_MESSAGE_ID for e in events)
    assert all(e.occurred_at.utcoffset() is not None for e in events)


def test_the_replay_window_is_configurable(
    engine: Engine, live_factory: LiveFactory, keys: tuple[str, str]
) -> None:
    provider = {"type": "sendgrid", "api_key": "k", "webhook_public_key": keys[1]}
    live = live_factory(engine, providers={"sg": {**provider, "webhook_max_age_seconds": 900}})
    body = json.dumps([sg_event("delivered", "a@x.example", None)]).encode()
    assert (
        live.post("sendgrid", body, signed(keys[0], body, at=time.time() - 400)).status_code == 200
    )
    assert (
        live.post("sendgrid", body, signed(keys[0], body, at=time.time() - 1000)).status_code == 401
    )


def test_a_malformed_public_key_is_a_config_error(engine: Engine) -> None:
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        providers={"sg": {"type": "sendgrid", "api_key": "k", "webhook_public_key": "bm9wZQ=="}},
    )
    with pytest.raises(ConfigError, match=r"providers\.sg\.webhook_public_key"):
        webhook_sources(settings)


def test_without_a_public_key_nothing_is_believed(
    engine: Engine, live_factory: LiveFactory
) -> None:
    live = live_factory(engine, providers={"sg": {"type": "sendgrid", "api_key": "k"}})
    private_key = sig.generate_sendgrid_key()[0]
    answer = post(live, private_key, [sg_event("delivered", "a@x.example", None)])
    assert answer.status_code == 401
    assert event_count(engine) == 0
