"""The release workflow and the embargo rules around scheduling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from distro.audience.lists import add_members, get_or_create_list
from distro.errors import EmbargoError, ValidationError
from distro.models import ContactTag, Release, ReleaseStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.releases import lifecycle
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.sending.withdraw import withdraw_release
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of


def reload(engine: Engine, release_id: int) -> Release:
    with Session(engine) as session:
        found = session.get(Release, release_id)
        assert found is not None
        return found


def edit(engine: Engine, release_id: int, **changes: object) -> lifecycle.EditOutcome:
    with Session(engine, expire_on_commit=False) as session:
        release = session.get(Release, release_id)
        assert release is not None
        outcome = lifecycle.edit_release(session, release, dict(changes))
        session.commit()
        return outcome


def test_transitions_are_enforced_and_name_the_alternatives() -> None:
    release = Release(id=7, slug="s", title="t", status=ReleaseStatus.DRAFT)
    with pytest.raises(
        ValidationError,
        match=r"draft; it cannot become sent .*approved \(`distro release approve 7`\), "
        r"withdrawn \(`distro release withdraw 7`\)",
    ):
        lifecycle.move(release, ReleaseStatus.SENT)
    lifecycle.approve(release)
    lifecycle.move(release, ReleaseStatus.SCHEDULED)
    lifecycle.move(release, ReleaseStatus.SENT)
    with pytest.raises(ValidationError, match="cannot become draft"):
        lifecycle.move(release, ReleaseStatus.DRAFT)
    lifecycle.move(release, ReleaseStatus.WITHDRAWN)
    lifecycle.move(release, ReleaseStatus.DRAFT)  # a withdrawn release can be reworked
    assert release.status == ReleaseStatus.DRAFT


def test_a_draft_cannot_be_scheduled_and_editing_an_approved_one_needs_new_approval(
    engine: Engine,
) -> None:
    add_contacts(engine, 2)
    draft = add_release(engine, approved=False)
    assert draft.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    with pytest.raises(ValidationError, match="approve it first"):
        schedule_send(
            engine, settings, release_id=draft.id, audience=Audience(["press"]), now=utcnow()
        )
    approved = add_release(engine, title="Approved")
    assert approved.id is not None
    outcome = edit(engine, approved.id, title="Approved, corrected")
    assert outcome.changed == ["title"]
    assert reload(engine, approved.id).status == ReleaseStatus.DRAFT


def test_content_is_frozen_once_scheduled_but_the_embargo_moves_with_its_sends(
    engine: Engine,
) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    release = add_release(engine, embargo_at=now + timedelta(hours=2))
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    at_lift = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(["press"]), now=now
    )
    fixed = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience(["press"]),
        at=now + timedelta(hours=3),
        now=now,
    )
    assert at_lift.at_embargo
    assert at_lift.scheduled_at == now + timedelta(hours=2)
    assert reload(engine, release.id).status == ReleaseStatus.SCHEDULED
    with pytest.raises(ValidationError, match="or change only the embargo"):
        edit(engine, release.id, body_md="Changed after scheduling")

    outcome = edit(engine, release.id, embargo_at=now + timedelta(hours=4))
    assert outcome.moved_sends == [at_lift.id]
    assert outcome.early_sends == [fixed.id]  # 3 h is now before the 4 h lift: will be held
    with Session(engine) as session:
        moved = session.get(Send, at_lift.id)
        assert moved is not None
        assert moved.scheduled_at == now + timedelta(hours=4)
    assert fire_send(engine, settings, fixed.id or 0, now + timedelta(hours=3)) == FireOutcome.HELD

    with pytest.raises(EmbargoError, match="scheduled at the embargo lift"):
        edit(engine, release.id, embargo_at=None)


def test_withdrawing_cancels_pending_sends(engine: Engine) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience(["press"]),
        at=now + timedelta(hours=1),
        now=now,
    )
    assert withdraw_release(engine, release.id, now).cancelled_sends == [send.id]
    with Session(engine) as session:
        cancelled = session.get(Send, send.id)
        assert cancelled is not None
        assert cancelled.status == SendStatus.CANCELLED
    with pytest.raises(ValidationError, match="withdrawn"):
        edit(engine, release.id, title="Too late")


def test_advance_copies_need_an_embargo_and_a_trusted_audience(engine: Engine) -> None:
    contacts = add_contacts(engine, 3, list_name="press")
    trusted = add_contacts(engine, 2, list_name="trusted", domain="trusted.example")
    with Session(engine) as session:
        session.add_all(ContactTag(contact_id=c.id or 0, tag="embargo-ok") for c in trusted)
        session.commit()
    now = utcnow()
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    plain = add_release(engine, title="No embargo")
    embargoed = add_release(engine, title="Embargoed", embargo_at=now + timedelta(hours=1))
    assert plain.id is not None
    assert embargoed.id is not None

    def advance(release_id: int, lists: list[str], **kwargs: object) -> Send:
        return schedule_send(
            engine,
            settings,
            release_id=release_id,
            audience=Audience(lists),
            advance_copy=True,
            now=now,
            **kwargs,  # type: ignore[arg-type]
        )

    with pytest.raises(ValidationError, match="has none"):
        advance(plain.id, ["trusted"])
    with pytest.raises(ValidationError, match="goes before the lift"):
        advance(embargoed.id, ["trusted"], at=now + timedelta(hours=2))
    with pytest.raises(EmbargoError, match="3 contacts in the audience are not embargo-trusted"):
        advance(embargoed.id, ["press", "trusted"])
    with pytest.raises(EmbargoError, match="before the embargo lifts"):
        schedule_send(
            engine,
            settings,
            release_id=embargoed.id,
            audience=Audience(["trusted"]),
            at=now + timedelta(minutes=30),
            now=now,
        )

    send = advance(embargoed.id, ["trusted"])
    assert send.embargo_notice
    assert send.id is not None
    # Someone untrusted joins the list after scheduling: the advance copy still skips them.
    with Session(engine) as session:
        add_members(session, get_or_create_list(session, "trusted"), [contacts[0].id or 0])
        session.commit()
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    emails = sorted(m.email for m in messages_of(engine, send.id))
    assert emails == sorted(c.email for c in trusted)
    with Session(engine) as session:
        published = session.exec(select(Release).where(Release.id == embargoed.id)).one()
        assert published.published_at == now
