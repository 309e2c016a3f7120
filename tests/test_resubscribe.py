"""Following the unsubscribe link once unsubscribed, over loopback HTTP: the page says so and
offers to subscribe again; subscribing again lifts only an unsubscribe (logged, and stored as a
``resubscribed`` event), never a bounce or complaint suppression; and unsubscribing once more,
one-click included, suppresses again."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.audience.suppression import suppression_log
from distro.models import Event, SuppressionLog
from tests.conftest import LiveDistro
from tests.factories import add_contacts, suppress
from tests.test_preferences import ONE_CLICK, distro_events, forge, link, sent_to, suppressed


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def log_of(engine: Engine, email: str) -> list[SuppressionLog]:
    with Session(engine) as session:
        return suppression_log(session, email)


def event_types(engine: Engine) -> list[str]:
    return [event.type for event in distro_events(engine)]


def test_an_unsubscribed_reader_is_told_so_and_can_subscribe_again(live: LiveDistro) -> None:
    add_contacts(live.engine, 1, "press")
    (message,) = sent_to(live, "press")
    url = link(live, message)
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        assert http.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK).is_success
        assert suppressed(live.engine, message.email)

        page = http.get(url)
        assert page.status_code == 200
        assert "You are unsubscribed" in page.text
        assert "Unsubscribe from everything" not in page.text
        assert f'action="/u/{url.rsplit("/", 1)[1]}/resubscribe"' in page.text
        assert suppressed(live.engine, message.email)  # the page changed nothing

        again = http.post(f"{url}/resubscribe")
        assert again.status_code == 200
        assert "You are subscribed again" in again.text
        assert "set-cookie" not in again.headers
    assert not suppressed(live.engine, message.email)
    lifted = log_of(live.engine, message.email)[-1]
    assert (lifted.action, lifted.reason, lifted.source) == (
        "removed",
        "unsubscribed",
        "resubscribe link",
    )
    assert not lifted.forced
    assert event_types(live.engine) == ["unsubscribed", "resubscribed"]
    resubscribed = distro_events(live.engine)[-1]
    assert resubscribed.message_id == message.id

    # Back to the normal page; and unsubscribing again (one-click, repeated) suppresses again.
    assert "Unsubscribe from everything" in httpx.get(url, timeout=10).text
    for _ in range(2):
        httpx.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10)
    assert suppressed(live.engine, message.email)
    assert event_types(live.engine) == ["unsubscribed", "resubscribed", "unsubscribed"]
    # A repeated resubscribe is one lift each time there is an unsubscribe to lift.
    assert httpx.post(f"{url}/resubscribe", timeout=10).is_success
    assert httpx.post(f"{url}/resubscribe", timeout=10).is_success
    assert not suppressed(live.engine, message.email)
    assert event_types(live.engine).count("resubscribed") == 2


@pytest.mark.parametrize("reason", ["hard_bounce", "complaint", "do_not_contact", "soft_bounce"])
def test_subscribing_again_never_lifts_another_suppression(live: LiveDistro, reason: str) -> None:
    add_contacts(live.engine, 1, "press")
    (message,) = sent_to(live, "press")
    suppress(live.engine, message.email, reason)
    url = link(live, message)
    page = httpx.get(url, timeout=10)
    assert "You are unsubscribed" in page.text
    assert "/resubscribe" not in page.text  # no way back offered here
    answer = httpx.post(f"{url}/resubscribe", timeout=10)
    assert answer.status_code == 200
    assert "You are subscribed again" not in answer.text
    assert suppressed(live.engine, message.email)
    assert log_of(live.engine, message.email) == []
    assert event_types(live.engine) == []


def test_a_forged_link_subscribes_nobody_again(live: LiveDistro) -> None:
    add_contacts(live.engine, 1, "press")
    (message,) = sent_to(live, "press")
    url = link(live, message)
    httpx.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10)
    assert httpx.post(f"{forge(url)}/resubscribe", timeout=10).status_code == 404
    assert suppressed(live.engine, message.email)
    with Session(live.engine) as session:
        assert session.scalars(select(Event).where(col(Event.type) == "resubscribed")).all() == []
