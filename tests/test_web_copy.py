"""The web copy at /releases/{slug}, over loopback: hidden (404, noindex) before the release is
public except to recipients with a signed link, public after the lift, gone when withdrawn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.config import secret_key
from distro.models import ContactTag, Release, ReleaseStatus
from distro.models.types import utcnow
from distro.releases.lifecycle import web_copy_is_public
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.sending.withdraw import withdraw_release
from distro.tracking.links import LinkPurpose, LinkSigner
from tests.conftest import LiveDistro
from tests.factories import add_contacts, add_release, messages_of

BANNER = "This copy is for its recipients only."
NOINDEX_META = '<meta name="robots" content="noindex'


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


@dataclass
class Sent:
    release: Release
    message_ids: list[int]


def trusted_contacts(engine: Engine, count: int, list_name: str) -> None:
    contacts = add_contacts(engine, count, list_name, domain=f"{list_name}.example")
    with Session(engine) as session:
        session.add_all(
            ContactTag(contact_id=c.id, tag="embargo-ok") for c in contacts if c.id is not None
        )
        session.commit()


def advance_copy_sent(live: LiveDistro, title: str = "Archive opens") -> Sent:
    """An embargoed release whose advance copy went to two trusted contacts."""
    now = utcnow()
    trusted_contacts(live.engine, 2, "trusted")
    release = add_release(
        live.engine,
        title=title,
        body="The archive **opens** tomorrow.",
        embargo_at=now + timedelta(days=2),
        embargo_tz="America/Los_Angeles",
    )
    assert release.id is not None
    send = schedule_send(
        live.engine,
        live.settings,
        release_id=release.id,
        audience=Audience(["trusted"]),
        now=now,
        advance_copy=True,
    )
    assert send.id is not None
    assert fire_send(live.engine, live.settings, send.id, now) == FireOutcome.STARTED
    ids = [m.id for m in messages_of(live.engine, send.id) if m.id is not None]
    assert len(ids) == 2
    return Sent(stored(live.engine, release.id), ids)


def ordinary_send(live: LiveDistro, title: str) -> Sent:
    now = utcnow()
    add_contacts(live.engine, 1, "plain", domain="plain.example")
    release = add_release(live.engine, title=title)
    assert release.id is not None
    send = schedule_send(
        live.engine, live.settings, release_id=release.id, audience=Audience(["plain"]), now=now
    )
    assert send.id is not None
    assert fire_send(live.engine, live.settings, send.id, now) == FireOutcome.STARTED
    ids = [m.id for m in messages_of(live.engine, send.id) if m.id is not None]
    return Sent(stored(live.engine, release.id), ids)


def stored(engine: Engine, release_id: int) -> Release:
    with Session(engine, expire_on_commit=False) as session:
        release = session.get(Release, release_id)
        assert release is not None
        return release


def view_online(live: LiveDistro, release: Release, message_id: int) -> str:
    """The link exactly as the recipient's email carries it."""
    composer = Composer(
        live.settings,
        make_environment(),
        LinkSigner(secret_key(live.settings)),
        release,
        "release",
    )
    link = composer.links(message_id)["view_online"]
    assert link.startswith(f"{live.url}/releases/{release.slug}?t=")
    return link


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10, follow_redirects=False)


def assert_hidden(answer: httpx.Response) -> None:
    assert answer.status_code == 404
    assert "noindex" in answer.headers["x-robots-tag"]


def move_embargo(engine: Engine, release_id: int, when: datetime) -> None:
    with Session(engine) as session:
        release = session.get(Release, release_id)
        assert release is not None
        release.embargo_at = when
        session.add(release)
        session.commit()


def test_before_the_lift_only_recipients_see_it_marked_noindex(live: LiveDistro) -> None:
    sent = advance_copy_sent(live)
    release = sent.release
    assert release.published_at is not None  # the advance copy went out
    page = f"{live.url}/releases/{release.slug}"

    assert_hidden(get(page))

    for message_id in sent.message_ids:
        answer = get(view_online(live, release, message_id))
        assert answer.status_code == 200
        assert "Archive opens" in answer.text
        assert "<strong>opens</strong>" in answer.text
        assert "EMBARGOED: not for publication or broadcast before" in answer.text
        assert "America/Los_Angeles" not in answer.text  # the zone is shown as PST/PDT
        assert BANNER in answer.text
        assert NOINDEX_META in answer.text
        assert "noindex" in answer.headers["x-robots-tag"]

    signer = LinkSigner(live.settings.server.secret_key.get_secret_value())
    token = signer.sign(LinkPurpose.WEB_COPY, sent.message_ids[0])
    assert get(f"{page}?t={token}").status_code == 200
    assert_hidden(get(f"{page}?t={token[:-2]}xx"))  # tampered
    assert_hidden(get(f"{page}?t=not-a-token"))
    assert_hidden(get(f"{page}?t="))
    forged = LinkSigner("someone-elses-secret-" + "z" * 20).sign(
        LinkPurpose.WEB_COPY, sent.message_ids[0]
    )
    assert_hidden(get(f"{page}?t={forged}"))
    wrong_purpose = signer.sign(LinkPurpose.UNSUBSCRIBE, sent.message_ids[0])
    assert_hidden(get(f"{page}?t={wrong_purpose}"))
    assert_hidden(get(f"{page}?t={signer.sign(LinkPurpose.WEB_COPY, 999_999)}"))


def test_token_for_another_release_does_not_open_it(live: LiveDistro) -> None:
    embargoed = advance_copy_sent(live)
    other = ordinary_send(live, "Another release")
    (other_message,) = other.message_ids
    other_link = view_online(live, other.release, other_message)
    assert get(other_link).status_code == 200  # its own page is public already
    token = other_link.rpartition("?t=")[2]
    assert_hidden(get(f"{live.url}/releases/{embargoed.release.slug}?t={token}"))


def test_after_the_lift_it_is_public_without_banner_or_noindex(live: LiveDistro) -> None:
    sent = advance_copy_sent(live)
    assert sent.release.id is not None
    page = f"{live.url}/releases/{sent.release.slug}"
    assert_hidden(get(page))
    move_embargo(live.engine, sent.release.id, utcnow() - timedelta(minutes=1))
    for url in (page, view_online(live, sent.release, sent.message_ids[0])):
        answer = get(url)
        assert answer.status_code == 200
        assert "Archive opens" in answer.text
        assert "EMBARGOED" not in answer.text
        assert BANNER not in answer.text
        assert NOINDEX_META not in answer.text
        assert "x-robots-tag" not in answer.headers


def test_draft_or_unsent_release_is_hidden_even_without_embargo(live: LiveDistro) -> None:
    draft = add_release(live.engine, title="Draft never sent", approved=False)
    approved = add_release(live.engine, title="Approved never sent")
    for release in (draft, approved):
        assert release.embargo_at is None
        assert_hidden(get(f"{live.url}/releases/{release.slug}"))
    assert_hidden(get(f"{live.url}/releases/no-such-release"))


def test_withdrawn_release_is_gone_even_with_a_valid_token(live: LiveDistro) -> None:
    sent = advance_copy_sent(live)
    link = view_online(live, sent.release, sent.message_ids[0])
    assert get(link).status_code == 200
    assert sent.release.id is not None
    withdraw_release(live.engine, sent.release.id, utcnow())
    assert_hidden(get(link))
    move_embargo(live.engine, sent.release.id, utcnow() - timedelta(minutes=1))
    assert_hidden(get(link))
    assert_hidden(get(f"{live.url}/releases/{sent.release.slug}"))


NOW = datetime.fromisoformat("2030-01-01T12:00:00+00:00")
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("status", "published", "embargo", "public"),
    [
        (ReleaseStatus.SENT, NOW - HOUR, None, True),
        (ReleaseStatus.SENT, NOW, None, True),
        (ReleaseStatus.SENT, NOW - HOUR, NOW - HOUR, True),
        (ReleaseStatus.SENT, NOW - HOUR, NOW, True),  # the lift itself
        (ReleaseStatus.SENT, NOW - HOUR, NOW + HOUR, False),  # advance copy, embargo holds
        (ReleaseStatus.SCHEDULED, NOW - HOUR, NOW + HOUR, False),
        (ReleaseStatus.SCHEDULED, NOW - HOUR, None, True),  # first send went, more to come
        (ReleaseStatus.SENT, NOW + HOUR, None, False),  # published in the future
        (ReleaseStatus.APPROVED, None, None, False),
        (ReleaseStatus.DRAFT, None, None, False),
        (ReleaseStatus.DRAFT, None, NOW - HOUR, False),  # lifted but never sent
        (ReleaseStatus.WITHDRAWN, NOW - HOUR, None, False),
        (ReleaseStatus.WITHDRAWN, NOW - HOUR, NOW - HOUR, False),
    ],
)
def test_web_copy_is_public(
    status: ReleaseStatus, published: datetime | None, embargo: datetime | None, public: bool
) -> None:
    release = Release(
        slug="s", title="t", status=status, published_at=published, embargo_at=embargo
    )
    assert web_copy_is_public(release, NOW) is public
