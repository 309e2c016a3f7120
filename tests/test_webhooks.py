"""Postmark-format webhooks into the live app: authentication, answers, dedup, forward-only
status, automatic suppression; and the RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session
from typing_extensions import Unpack

from distro.config import load_settings
from distro.config_providers import SandboxProvider
from distro.config_sections import SuppressionSettings
from distro.errors import ConfigError
from distro.models import (
    Event,
    EventType,
    Message,
    MessageStatus,
    Suppression,
    SuppressionLog,
    SuppressionReason,
)
from distro.models.types import utcnow
from distro.providers import sandbox_webhook_password
from distro.providers.base import MESSAGE_ID_KEY
from distro.sending.expand import fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking import summary
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.events import store_events
from distro.tracking.links import LinkPurpose, LinkSigner
from tests.conftest import LiveDistro
from tests.factories import add_contacts, add_release, messages_of


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def credentials(live: LiveDistro) -> tuple[str, str]:
    config = live.settings.providers["sandbox"]
    assert isinstance(config, SandboxProvider)
    return config.webhook_username, sandbox_webhook_password(live.settings, config)


def fired_send(live: LiveDistro, recipients: int = 2) -> int:
    add_contacts(live.engine, recipients)
    release = add_release(live.engine)
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        live.engine, live.settings, release_id=release.id, audience=Audience(["press"]), now=now
    )
    assert send.id is not None
    fire_send(live.engine, live.settings, send.id, now)
    return send.id


def delivery(message_id: int, recipient: str, provider_id: str = "pm-1") -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "MessageID": provider_id,
        "Recipient": recipient,
        "Tag": "",
        "DeliveredAt": "2026-11-21T09:00:03.1234567-05:00",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": {MESSAGE_ID_KEY: str(message_id)},
    }


def post(live: LiveDistro, payload: Any, auth: tuple[str, str] | None) -> httpx.Response:
    return httpx.post(f"{live.url}/webhooks/postmark", json=payload, auth=auth, timeout=10)


def event_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Event)).one()[0])  # type: ignore[call-overload]


def test_forged_or_missing_credentials_are_refused_and_nothing_is_stored(live: LiveDistro) -> None:
    send_id = fired_send(live)
    message = messages_of(live.engine, send_id)[0]
    assert message.id is not None
    for auth in (None, ("sandbox", "wrong-password"), ("someone", credentials(live)[1])):
        answer = post(live, delivery(message.id, message.email), auth)
        assert answer.status_code == 401
        assert "Basic" in answer.headers["www-authenticate"]
    assert event_count(live.engine) == 0


def test_unreadable_payload_is_400(live: LiveDistro) -> None:
    for payload in ({"RecordType": "Nonsense"}, {"RecordType": "Delivery"}, [1, 2]):
        assert post(live, payload, credentials(live)).status_code == 400
    raw = httpx.post(
        f"{live.url}/webhooks/postmark", content=b"{not json", auth=credentials(live), timeout=10
    )
    assert raw.status_code == 400
    assert event_count(live.engine) == 0


def test_delivery_is_stored_once_and_moves_the_message(live: LiveDistro) -> None:
    send_id = fired_send(live)
    message = messages_of(live.engine, send_id)[0]
    assert message.id is not None
    first = post(live, delivery(message.id, message.email), credentials(live))
    repeat = post(live, delivery(message.id, message.email), credentials(live))
    assert first.status_code == 200
    assert first.json() == {"received": 1, "stored": 1}
    assert repeat.status_code == 200
    assert repeat.json() == {"received": 1, "stored": 0}
    assert event_count(live.engine) == 1
    statuses = {m.id: m.status for m in messages_of(live.engine, send_id)}
    assert statuses[message.id] == MessageStatus.DELIVERED
    with Session(live.engine) as session:
        event = session.exec(select(Event)).scalars().one()  # type: ignore[call-overload]
        assert event.message_id == message.id
        assert event.provider == "sandbox"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert event.occurred_at.hour == 14  # 09:00 -05:00 is 14:00 UTC


def test_unknown_message_event_is_kept(live: LiveDistro) -> None:
    answer = post(live, delivery(999_999, "stranger@example.org", "pm-x"), credentials(live))
    assert answer.status_code == 200
    with Session(live.engine) as session:
        event = session.exec(select(Event)).scalars().one()  # type: ignore[call-overload]
    assert event.message_id is None
    assert event.recipient == "stranger@example.org"


def test_late_delivery_does_not_undo_a_later_state_and_hard_bounce_suppresses(
    live: LiveDistro,
) -> None:
    send_id = fired_send(live)
    first, second = messages_of(live.engine, send_id)
    assert first.id is not None
    assert second.id is not None
    opened = {
        "RecordType": "Open",
        "MessageID": "pm-1",
        "Recipient": first.email,
        "ReceivedAt": "2026-11-21T15:00:00Z",
        "UserAgent": "Mozilla/5.0",
        "Metadata": {MESSAGE_ID_KEY: str(first.id)},
    }
    assert post(live, opened, credentials(live)).status_code == 200
    assert post(live, delivery(first.id, first.email), credentials(live)).status_code == 200
    bounce = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "pm-2",
        "Email": second.email,
        "BouncedAt": "2026-11-21T15:00:01Z",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Inactive": True,
        "Metadata": {MESSAGE_ID_KEY: str(second.id)},
    }
    assert post(live, bounce, credentials(live)).status_code == 200
    statuses = {m.id: m.status for m in messages_of(live.engine, send_id)}
    assert statuses[first.id] == MessageStatus.OPENED
    assert statuses[second.id] == MessageStatus.BOUNCED
    with Session(live.engine) as session:
        (suppression,) = session.exec(select(Suppression)).scalars().all()  # type: ignore[call-overload]
    assert suppression.email == second.email
    assert suppression.reason == "hard_bounce"
    assert suppression.event_id is not None


def test_one_click_unsubscribe(live: LiveDistro) -> None:
    send_id = fired_send(live, 1)
    (message,) = messages_of(live.engine, send_id)
    assert message.id is not None
    token = LinkSigner(live.settings.server.secret_key.get_secret_value()).sign(
        LinkPurpose.UNSUBSCRIBE, message.id
    )
    url = f"{live.url}/u/{token}"
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert message.email in page.text
    with Session(live.engine) as session:  # looking is not unsubscribing
        assert session.exec(select(Suppression)).scalars().all() == []  # type: ignore[call-overload]
    # What a mail client sends: a form POST with no cookies; it must get 200, not a redirect.
    answer = httpx.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        follow_redirects=False,
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    with Session(live.engine) as session:
        (suppression,) = session.exec(select(Suppression)).scalars().all()  # type: ignore[call-overload]
    assert suppression.email == message.email
    assert suppression.reason == "unsubscribed"
    assert messages_of(live.engine, send_id)[0].status == MessageStatus.UNSUBSCRIBED
    # Forged and cross-purpose tokens are refused.
    assert httpx.post(f"{live.url}/u/{token}x", timeout=10).status_code == 404
    assert httpx.get(f"{live.url}/u/not-a-token", timeout=10).status_code == 404


# --- the store path: one transaction per batch, both databases ------------------------------


def store_event(
    provider_event_id: str,
    type_: EventType,
    recipient: str,
    *,
    message_id: int | None = None,
    at: datetime | None = None,
    **said: Unpack[Said],
) -> NormalisedEvent:
    return NormalisedEvent(
        type=type_,
        provider_event_id=provider_event_id,
        occurred_at=at or utcnow(),
        recipient=recipient,
        message_id=message_id,
        **said,
    )


def suppression_rows(engine: Engine) -> dict[str, tuple[str, int | None, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Suppression)).scalars().all()  # type: ignore[call-overload]
        return {r.email: (r.reason, r.event_id, r.note) for r in rows}


def test_soft_bounces_suppress_after_the_limit_within_the_window(any_engine: Engine) -> None:
    rules = SuppressionSettings(soft_bounce_limit=3, soft_bounce_window_days=30)
    old = utcnow() - timedelta(days=31)
    soft: Said = {"bounce_kind": BounceKind.SOFT, "description": "mailbox full"}
    first = [
        store_event("s-old", EventType.BOUNCED, "Jo@news.example", at=old, **soft),
        store_event("s-1", EventType.BOUNCED, "jo@news.example", **soft),
        store_event("s-2", EventType.BOUNCED, "jo@news.example", **soft),
        store_event("d-1", EventType.DEFERRED, "jo@news.example", **soft),  # not a bounce
    ]
    assert store_events(any_engine, "postmark", first, rules=rules) == 4
    assert suppression_rows(any_engine) == {}  # the old one is outside the window
    third = store_event("s-3", EventType.BOUNCED, "jo@news.example", **soft)
    assert store_events(any_engine, "postmark", [third], rules=rules) == 1
    ((email, (reason, event_id, note)),) = suppression_rows(any_engine).items()
    assert (email, reason) == ("jo@news.example", SuppressionReason.SOFT_BOUNCE)
    assert note == "3 soft bounces within 30 days: mailbox full"
    with Session(any_engine) as session:
        cause = session.get(Event, event_id)
        assert cause is not None
        assert cause.provider_event_id == "s-3"
        (entry,) = session.exec(select(SuppressionLog)).scalars().all()  # type: ignore[call-overload]
    assert (entry.reason, entry.action) == (SuppressionReason.SOFT_BOUNCE, "added")
    assert f"event {event_id} (s-3)" in entry.note


def test_soft_bounce_limit_comes_from_config(any_engine: Engine) -> None:
    rules = SuppressionSettings(soft_bounce_limit=1)
    bounce = store_event("s-1", EventType.BOUNCED, "jo@news.example", bounce_kind=BounceKind.SOFT)
    assert store_events(any_engine, "sandbox", [bounce], rules=rules) == 1
    assert suppression_rows(any_engine)["jo@news.example"][0] == SuppressionReason.SOFT_BOUNCE


def test_a_batch_moves_messages_forward_only_and_dedupes_within_itself(
    any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(any_engine)
    send_id = fired_send(live, 2)
    first, second = messages_of(any_engine, send_id)
    assert first.id is not None
    assert second.id is not None
    batch = [
        store_event("o-1", EventType.OPENED, first.email, message_id=first.id),
        store_event("d-1", EventType.DELIVERED, first.email, message_id=first.id),
        store_event("d-1", EventType.DELIVERED, first.email, message_id=first.id),  # repeated
        store_event("d-2", EventType.DELIVERED, second.email, message_id=second.id),
        store_event(
            "u-2",
            EventType.UNSUBSCRIBED,
            second.email,
            message_id=second.id,
            scope=OptOutScope.BEATS,
        ),
        store_event("x-1", EventType.DELIVERED, "nobody@else.example", message_id=10**9),
    ]
    assert store_events(any_engine, "sandbox", batch) == 5
    late = store_event("d-3", EventType.DELIVERED, first.email, message_id=first.id)
    assert store_events(any_engine, "sandbox", [late]) == 1
    statuses = {m.id: m.status for m in messages_of(any_engine, send_id)}
    assert statuses == {first.id: MessageStatus.OPENED, second.id: MessageStatus.UNSUBSCRIBED}
    assert suppression_rows(any_engine) == {}  # an unsubscribe from some beats is not one
    with Session(any_engine) as session:
        stranger = (
            session.exec(  # type: ignore[call-overload]
                select(Event).where(Event.provider_event_id == "x-1")  # type: ignore[arg-type]
            )
            .scalars()
            .one()
        )
    assert stranger.message_id is None


def test_a_batch_is_all_or_nothing(
    any_engine: Engine,
    live_distro_factory: Callable[..., LiveDistro],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = live_distro_factory(any_engine)
    (message,) = messages_of(any_engine, fired_send(live, 1))
    bounce = store_event(
        "g-1", EventType.BOUNCED, message.email, message_id=message.id, bounce_kind=BounceKind.HARD
    )

    def fail(conn: Any, stored: Any) -> None:  # the last step of the transaction goes wrong
        raise OperationalError("UPDATE messages", {}, Exception("disk I/O error"))

    monkeypatch.setattr(summary, "record_outcomes", fail)
    with pytest.raises(SQLAlchemyError):
        store_events(any_engine, "sandbox", [bounce])
    assert event_count(any_engine) == 0
    assert suppression_rows(any_engine) == {}
    assert messages_of(any_engine, message.send_id)[0].status == MessageStatus.QUEUED
    naive = store_event("b-1", EventType.DELIVERED, "b@news.example", at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="no time zone"):
        store_events(any_engine, "sandbox", [naive])


def test_summary_hears_of_new_matched_events_only(
    any_engine: Engine,
    live_distro_factory: Callable[..., LiveDistro],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heard: list[list[Any]] = []
    original = summary.record_outcomes

    def spy(conn: Any, stored: Any) -> None:
        heard.append(list(stored))
        original(conn, stored)

    monkeypatch.setattr(summary, "record_outcomes", spy)
    live = live_distro_factory(any_engine)
    (message,) = messages_of(any_engine, fired_send(live, 1))
    assert message.id is not None
    delivered = store_event("d-1", EventType.DELIVERED, message.email, message_id=message.id)
    stranger = store_event("d-2", EventType.DELIVERED, "x@else.example")
    store_events(any_engine, "sandbox", [delivered, stranger])
    store_events(any_engine, "sandbox", [delivered])  # a repeat: nothing new
    ((item,),) = heard
    assert (item.message_id, item.event) == (message.id, delivered)
    assert isinstance(item.event_id, int)


def test_postmark_events_keep_the_raw_payload_and_two_accounts_stay_apart(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(
        engine,
        providers={
            "pm_a": {
                "type": "postmark",
                "server_token": "a",
                "webhook_username": "hooks",
                "webhook_password": "password-a",
            },
            "pm_b": {
                "type": "postmark",
                "server_token": "b",
                "webhook_username": "hooks",
                "webhook_password": "password-b",
            },
        },
    )
    payload = delivery(123, "x@else.example", "pm-9")
    assert post(live, payload, ("hooks", "password-b")).status_code == 200
    assert post(live, {**payload, "MessageID": "pm-10"}, ("hooks", "password-a")).status_code == 200
    with Session(engine) as session:
        rows = session.exec(select(Event).order_by(Event.id)).scalars().all()  # type: ignore[call-overload, arg-type]
    assert [r.provider for r in rows] == ["pm_b", "pm_a"]
    assert rows[0].detail["raw"]["MessageID"] == "pm-9"
    assert rows[0].detail["mta_response"] == "smtp;250 2.0.0 OK"


def test_suppression_rules_are_configured_like_every_other_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml here: built-in defaults
    assert load_settings(None, environ={}).suppression == SuppressionSettings(
        soft_bounce_limit=3, soft_bounce_window_days=30
    )
    settings = load_settings(
        None,
        environ={
            "DISTRO_SUPPRESSION__SOFT_BOUNCE_LIMIT": "5",
            "DISTRO_SUPPRESSION__SOFT_BOUNCE_WINDOW_DAYS": "7",
        },
    )
    assert (
        settings.suppression.soft_bounce_limit,
        settings.suppression.soft_bounce_window_days,
    ) == (
        5,
        7,
    )
    with pytest.raises(ConfigError, match=r"suppression\.soft_bounce_limit"):
        load_settings(None, environ={"DISTRO_SUPPRESSION__SOFT_BOUNCE_LIMIT": "0"})


def test_concurrent_batches_on_the_same_messages_do_not_deadlock(
    any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    """Two providers' batches touching the same messages in opposite orders, at once: inserting
    events takes key-share locks on their messages (the foreign key), so locking those messages
    FOR UPDATE before moving them forward would deadlock on PostgreSQL."""
    live = live_distro_factory(any_engine)
    messages = messages_of(any_engine, fired_send(live, 40))
    problems: list[BaseException] = []

    def store(prefix: str, order: list[Message]) -> None:
        try:
            for round_ in range(8):
                batch = [
                    store_event(
                        f"{prefix}-{round_}-{m.id}", EventType.OPENED, m.email, message_id=m.id
                    )
                    for m in order
                ]
                store_events(any_engine, prefix, batch)
        except BaseException as exc:
            problems.append(exc)

    threads = [
        threading.Thread(target=store, args=(name, order))
        for name, order in (
            ("a", messages),
            ("b", messages[::-1]),
            ("c", messages[::2] + messages[1::2]),
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not problems, problems
    assert event_count(any_engine) == 3 * 8 * 40
    assert {m.status for m in messages_of(any_engine, messages[0].send_id)} == {
        MessageStatus.OPENED
    }
