"""Postmark-format webhooks into the live app: authentication, answers, dedup, forward-only
status, automatic suppression; and the RFC 8058 one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from distro.config import SandboxProvider
from distro.models import Event, MessageStatus, Suppression
from distro.models.types import utcnow
from distro.providers import sandbox_webhook_password
from distro.providers.base import MESSAGE_ID_KEY
from distro.sending.expand import fire_send
from distro.sending.schedule import Audience, schedule_send
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
