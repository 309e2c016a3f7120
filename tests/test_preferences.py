"""Unsubscribing and the preference centre, over loopback HTTP: the RFC 8058 one-click POST, the
page a person reaches from the body link (which changes nothing by itself), choosing beats, and
sends that select by beat leaving out who opted out of it (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from distro.audience.preferences import beat_choices, named_beats
from distro.audience.targeting import audience_contact_ids
from distro.config import secret_key
from distro.models import (
    BeatOptOut,
    Contact,
    ContactBeat,
    Event,
    Message,
    MessageStatus,
    Suppression,
)
from distro.models.types import utcnow
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkPurpose, LinkSigner
from distro.tracking.preference_centre import save_beat_choices
from tests.conftest import LiveDistro, make_settings
from tests.factories import add_contacts, add_release, messages_of

ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


def give_beats(engine: Engine, contact: Contact, *beats: str) -> None:
    assert contact.id is not None
    with Session(engine) as session:
        session.add_all(ContactBeat(contact_id=contact.id, beat=beat) for beat in beats)
        session.commit()


def sent_to(live: LiveDistro, list_name: str) -> list[Message]:
    """A send of a fresh release to the list, fired (its messages exist; nothing is sent)."""
    release = add_release(live.engine, title=f"Release for {list_name}")
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        live.engine, live.settings, release_id=release.id, audience=Audience([list_name]), now=now
    )
    assert send.id is not None
    assert fire_send(live.engine, live.settings, send.id, now) == FireOutcome.STARTED
    return messages_of(live.engine, send.id)


def link(live: LiveDistro, message: Message) -> str:
    assert message.id is not None
    token = LinkSigner(secret_key(live.settings)).sign(LinkPurpose.UNSUBSCRIBE, message.id)
    return f"{live.url}/u/{token}"


def forge(token: str) -> str:
    """``token`` with its signature's first character changed (the last one also carries base64
    padding bits, which decoding ignores)."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def suppressed(engine: Engine, email: str) -> bool:
    with Session(engine) as session:
        return (
            session.scalars(select(Suppression).where(col(Suppression.email) == email)).first()
            is not None
        )


def distro_events(engine: Engine) -> list[Event]:
    with Session(engine) as session:
        query = select(Event).where(col(Event.provider) == "distro").order_by(col(Event.id))
        return list(session.scalars(query))


def opt_outs(engine: Engine) -> list[tuple[int, str, int | None]]:
    with Session(engine) as session:
        rows = session.scalars(select(BeatOptOut).order_by(col(BeatOptOut.beat)))
        return [(r.contact_id, r.beat, r.message_id) for r in rows]


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def test_one_click_post_unsubscribes_at_once_with_200_and_no_cookies(live: LiveDistro) -> None:
    add_contacts(live.engine, 2, "press")
    first, second = sent_to(live, "press")
    url = link(live, first)
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        answer = client.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert answer.status_code == 200
        assert "location" not in answer.headers
        assert "set-cookie" not in answer.headers
        assert "You are unsubscribed" in answer.text
        assert not client.cookies
        assert suppressed(live.engine, first.email)  # at once, before the answer came
        again = client.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert again.status_code == 200
    assert not suppressed(live.engine, second.email)
    (event,) = distro_events(live.engine)  # the repeat is the same event
    assert event.type == "unsubscribed"
    assert event.message_id == first.id
    assert event.detail["scope"] == "all"
    with Session(live.engine) as session:
        assert session.get(Message, first.id).status == MessageStatus.UNSUBSCRIBED  # type: ignore[union-attr]


def test_forged_unsubscribe_links_change_nothing(live: LiveDistro) -> None:
    add_contacts(live.engine, 1, "press")
    (message,) = sent_to(live, "press")
    url = link(live, message)
    forged = forge(url)
    other_purpose = url.replace(
        url.rsplit("/", 1)[1],
        LinkSigner(secret_key(live.settings)).sign(LinkPurpose.WEB_COPY, message.id or 0),
    )
    for bad in (forged, other_purpose, f"{live.url}/u/not-a-token"):
        assert httpx.get(bad, timeout=10).status_code == 404
        assert (
            httpx.post(bad, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK).status_code
            == 404
        )
        assert httpx.post(f"{bad}/beats", data={"beat": "x"}, timeout=10).status_code == 404
    assert not suppressed(live.engine, message.email)
    assert distro_events(live.engine) == []


def test_the_body_link_shows_a_page_and_changes_nothing(live: LiveDistro) -> None:
    (contact,) = add_contacts(live.engine, 1, "press")
    give_beats(live.engine, contact, "health", "science", "<b>arts</b>")
    (message,) = sent_to(live, "press")
    url = link(live, message)
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    page = answer.text
    assert message.email in page
    path = url.removeprefix(live.url)
    assert f'<form method="post" action="{path}">' in page
    assert f'<form method="post" action="{path}/beats">' in page
    boxes = re.findall(r'<input type="checkbox" name="beat" value="([^"]*)"( checked)?>', page)
    assert boxes == [
        ("&lt;b&gt;arts&lt;/b&gt;", " checked"),  # escaped, in alphabetical order
        ("health", " checked"),
        ("science", " checked"),
    ]
    assert "<b>arts</b>" not in page
    assert not suppressed(live.engine, message.email)  # a scanner fetching it changes nothing
    assert distro_events(live.engine) == []


def test_a_contact_without_beats_only_sees_unsubscribe(live: LiveDistro) -> None:
    add_contacts(live.engine, 1, "press")
    (message,) = sent_to(live, "press")
    page = httpx.get(link(live, message), timeout=10).text
    assert "Unsubscribe from everything" in page
    assert 'name="beat"' not in page


def test_choosing_beats_keeps_the_address_and_can_be_undone(live: LiveDistro) -> None:
    (contact,) = add_contacts(live.engine, 1, "press")
    give_beats(live.engine, contact, "health", "science", "politics")
    (message,) = sent_to(live, "press")
    url = link(live, message)
    # Keep science and politics; a beat that is not theirs is ignored.
    answer = httpx.post(
        f"{url}/beats", data={"beat": ["science", "politics", "sports"]}, timeout=10
    )
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    assert "about: politics, science." in answer.text
    assert "No more releases about: health." in answer.text
    assert opt_outs(live.engine) == [(contact.id, "health", message.id)]
    assert not suppressed(live.engine, message.email)
    page = httpx.get(url, timeout=10).text
    assert '<input type="checkbox" name="beat" value="health">' in page  # shown unticked
    assert '<input type="checkbox" name="beat" value="science" checked>' in page

    # Nothing ticked: every beat dropped, still not unsubscribed.
    httpx.post(f"{url}/beats", data={}, timeout=10).raise_for_status()
    assert [beat for _c, beat, _m in opt_outs(live.engine)] == ["health", "politics", "science"]
    assert not suppressed(live.engine, message.email)
    # Each change that dropped beats is a beat opt-out, its own event type (not an unsubscribe).
    assert [(e.type, e.message_id, e.detail["beats"]) for e in distro_events(live.engine)] == [
        ("beat_opted_out", message.id, ["health"]),
        ("beat_opted_out", message.id, ["politics", "science"]),
    ]
    assert [e.detail["description"] for e in distro_events(live.engine)] == [
        "preference centre: no more health",
        "preference centre: no more politics, science",
    ]

    # All ticked again: back to everything.
    everything = httpx.post(
        f"{url}/beats", data={"beat": ["health", "science", "politics"]}, timeout=10
    )
    assert "No more releases about" not in everything.text
    assert opt_outs(live.engine) == []
    with Session(live.engine) as session:
        beats = session.scalars(
            select(col(ContactBeat.beat)).where(col(ContactBeat.contact_id) == contact.id)
        ).all()
    assert sorted(beats) == ["health", "politics", "science"]  # staff's record is untouched
    assert len(distro_events(live.engine)) == 2  # ticking beats again is no unsubscribe


# ---------------------------------------------------------------------- targeting


@pytest.mark.parametrize(
    ("expression", "beats"),
    [
        ('beats has "Health"', ["health"]),
        ('beats has "health" or beats has "science"', ["health", "science"]),
        ('beats has "health" and not beats has "politics"', ["health"]),
        ('not (not beats has "arts")', ["arts"]),
        ('tags has "health" and region = "CA"', []),
        ('beats has "a" and (beats has "b" or beats has "a")', ["a", "b"]),
    ],
)
def test_named_beats(expression: str, beats: list[str]) -> None:
    assert named_beats(expression) == beats


def ids_of(engine: Engine, lists: list[str], expression: str | None) -> set[str]:
    query = audience_contact_ids(lists, expression, utcnow())
    with Session(engine) as session:
        found = set(session.scalars(query).all())
        emails = session.scalars(select(col(Contact.email)).where(col(Contact.id).in_(found))).all()
    return {email.split("@")[0] for email in emails}


def test_sends_by_beat_leave_out_who_opted_out(any_engine: Engine) -> None:
    engine = any_engine
    both, health, science = add_contacts(engine, 3, "press")
    give_beats(engine, both, "health", "science")
    give_beats(engine, health, "health")
    give_beats(engine, science, "science")
    assert both.id is not None
    # reporter0 keeps science only.
    saved = save_beat_choices(engine, both.id, ["Science"], None)
    assert saved.dropped == ["health"]
    assert [(c.beat, c.wanted) for c in saved.choices] == [("health", False), ("science", True)]
    with engine.connect() as conn:
        assert beat_choices(conn, both.id) == saved.choices
    assert save_beat_choices(engine, both.id, ["science"], None).dropped == []  # no change

    assert ids_of(engine, [], 'beats has "health"') == {"reporter1"}
    assert ids_of(engine, [], 'beats has "science"') == {"reporter0", "reporter2"}
    # A send picked by health (among others) is a health release: left out.
    assert ids_of(engine, [], 'beats has "health" or beats has "science"') == {
        "reporter1",
        "reporter2",
    }
    assert ids_of(engine, [], 'not beats has "politics"') == {
        "reporter0",
        "reporter1",
        "reporter2",
    }
    # Hand-picked lists are not filtered; a list plus a beat segment only filters the segment.
    assert ids_of(engine, ["press"], None) == {"reporter0", "reporter1", "reporter2"}
    assert ids_of(engine, ["press"], 'beats has "health"') == {
        "reporter0",
        "reporter1",
        "reporter2",
    }

    # The same at fire time: the contact who opted out is not mailed; the send records them as
    # left out by the opt-out, so staff can see who and why.
    release = add_release(engine)
    assert release.id is not None
    now = utcnow()
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience(where='beats has "health"'),
        now=now,
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    statuses = {m.email: m.status for m in messages_of(engine, send.id)}
    assert statuses == {health.email: MessageStatus.QUEUED, both.email: MessageStatus.OPTED_OUT}
