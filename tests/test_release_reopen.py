"""A release after its sends are cancelled, and taking it back to draft (``release reopen``):
the release follows its sends (``distro.releases.settle``), every refusal names the command that
gets past it, and on PostgreSQL staff cancelling, scheduling and a worker firing at the same
moment never leave a release that disagrees with its sends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from distro.config import Settings
from distro.db import make_engine, upgrade
from distro.errors import ValidationError
from distro.models import Release, ReleaseStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.moments import show_moment
from distro.releases import lifecycle, workflow
from distro.sending import control
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.sending.withdraw import withdraw_release
from tests.conftest import LiveDistro, make_settings
from tests.factories import add_contacts, add_release, messages_of
from tests.test_send_control import hand_over, record
from tests.test_web_copy import advance_copy_sent, assert_hidden, get, view_online

RELEASES = Release.__table__  # type: ignore[attr-defined]
SENDS = Send.__table__  # type: ignore[attr-defined]


def settings_for(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False), scheduler={"max_lateness": "10m"}
    )


def release_row(engine: Engine, release_id: int) -> Release:
    with Session(engine) as session:
        found = session.get(Release, release_id)
        assert found is not None
        return found


def send_status(engine: Engine, send_id: int) -> str:
    with Session(engine) as session:
        found = session.get(Send, send_id)
        assert found is not None
        return found.status


def schedule(engine: Engine, release_id: int, now: datetime, at: datetime | None = None) -> int:
    send = schedule_send(
        engine,
        settings_for(engine),
        release_id=release_id,
        audience=Audience(["press"]),
        now=now,
        at=at,
    )
    assert send.id is not None
    return send.id


def scheduled_release(engine: Engine, now: datetime, sends: int = 1) -> tuple[int, list[int]]:
    """An approved release under embargo with ``sends`` sends scheduled for an hour's time."""
    release = add_release(engine, embargo_at=now + timedelta(hours=1), embargo_tz="Europe/Madrid")
    assert release.id is not None
    ids = [schedule(engine, release.id, now) for _ in range(sends)]
    assert release_row(engine, release.id).status == ReleaseStatus.SCHEDULED
    return release.id, ids


def fired_release(engine: Engine, now: datetime) -> tuple[int, int]:
    """An approved release whose send to "press" fired at ``now``: (release id, send id)."""
    release = add_release(engine)
    assert release.id is not None
    send_id = schedule(engine, release.id, now)
    assert fire_send(engine, settings_for(engine), send_id, now) == FireOutcome.STARTED
    return release.id, send_id


# --- the release follows its sends -------------------------------------------------------------


def test_cancelling_the_only_send_approves_the_release_again_to_be_corrected(
    engine: Engine,
) -> None:
    add_contacts(engine, 3)
    now = utcnow()
    release_id, (send_id,) = scheduled_release(engine, now)
    slug = release_row(engine, release_id).slug

    result = control.cancel(engine, send_id, now)
    assert (result.release_id, result.release_status) == (release_id, ReleaseStatus.APPROVED)
    assert result.as_dict()["release_status"] == "approved"
    assert release_row(engine, release_id).status == ReleaseStatus.APPROVED

    # The typo found after scheduling is corrected in place: same release, same slug.
    outcome = workflow.edit(engine, release_id, {"title": "Corrected title"}, now)
    assert outcome.release.status == ReleaseStatus.DRAFT
    assert (outcome.release.slug, outcome.release.title) == (slug, "Corrected title")
    assert workflow.approve(engine, release_id, now).release.status == ReleaseStatus.APPROVED
    schedule(engine, release_id, now)
    assert release_row(engine, release_id).status == ReleaseStatus.SCHEDULED


def test_the_release_stays_scheduled_while_another_send_can_go(engine: Engine) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    release_id, (first, second) = scheduled_release(engine, now, sends=2)

    assert control.cancel(engine, first, now).release_status is None
    assert release_row(engine, release_id).status == ReleaseStatus.SCHEDULED
    with pytest.raises(ValidationError) as refused:
        workflow.edit(engine, release_id, {"title": "Too soon"}, now)
    due = show_moment(now + timedelta(hours=1), "Europe/Madrid")
    assert str(refused.value) == (
        f"release {release_id} is scheduled (send {second} is due {due}): cancel it with "
        f"`distro send cancel {second}`, or change only the embargo (tried to change title)"
    )

    # A send that missed its moment can still go (`send resume`): the release stays scheduled.
    late = now + timedelta(hours=1, minutes=11)
    assert fire_send(engine, settings_for(engine), second, late) == FireOutcome.MISSED
    with pytest.raises(ValidationError, match=rf"`distro send resume {second}` sends it now"):
        workflow.reopen(engine, release_id, late)
    assert release_row(engine, release_id).status == ReleaseStatus.SCHEDULED

    assert control.cancel(engine, second, late).release_status == ReleaseStatus.APPROVED
    assert workflow.reopen(engine, release_id, late).status == ReleaseStatus.DRAFT


def test_a_cancelled_send_that_handed_messages_over_leaves_the_release_sent(
    engine: Engine,
) -> None:
    add_contacts(engine, 3)
    now = utcnow()
    release_id, send_id = fired_release(engine, now)
    record(engine, hand_over(engine, 1, now), now)

    assert control.cancel(engine, send_id, now).release_status == ReleaseStatus.SENT
    stored = release_row(engine, release_id)
    assert stored.status == ReleaseStatus.SENT
    assert stored.published_at == now  # someone has it: the web copy stays published
    with pytest.raises(ValidationError) as refused:
        workflow.reopen(engine, release_id, now)
    assert f"withdraw it (`distro release withdraw {release_id}`)" in str(refused.value)
    assert f"then `distro release reopen {release_id}`" in str(refused.value)


def test_fired_then_cancelled_before_anything_went_out_is_unpublished(engine: Engine) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    release_id, send_id = fired_release(engine, now)
    assert release_row(engine, release_id).published_at == now

    assert control.cancel(engine, send_id, now).release_status == ReleaseStatus.APPROVED
    stored = release_row(engine, release_id)
    assert (stored.status, stored.published_at) == (ReleaseStatus.APPROVED, None)
    assert not lifecycle.web_copy_is_public(stored, now + timedelta(days=1))


def test_reopen_takes_approved_and_withdrawn_releases_back_to_draft(engine: Engine) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    approved = add_release(engine, title="Approved one")
    assert approved.id is not None
    reopened = workflow.reopen(engine, approved.id, now)
    assert (reopened.status, reopened.slug, reopened.reopened_at) == ("draft", "approved-one", now)
    with pytest.raises(ValidationError) as refused:
        workflow.reopen(engine, approved.id, now)
    assert str(refused.value) == (
        f"release {approved.id} is a draft already: change it with `distro release edit "
        f"{approved.id}`, then `distro release approve {approved.id}`"
    )

    # Sent, withdrawn, reopened: the same slug, unpublished until it goes out again.
    sent_id, send_id = fired_release(engine, now)
    assert len(messages_of(engine, send_id)) == 2
    withdrawn = withdraw_release(engine, sent_id, now)
    assert withdrawn.release.status == ReleaseStatus.WITHDRAWN
    back = workflow.reopen(engine, sent_id, now)
    assert (back.status, back.slug, back.published_at) == ("draft", "test-release", None)
    assert not lifecycle.web_copy_exists(back)


def test_every_refusal_names_the_command_that_gets_you_out(engine: Engine) -> None:
    add_contacts(engine, 2)
    now = utcnow()
    release = add_release(engine)
    rid = release.id
    assert rid is not None
    withdraw_release(engine, rid, now)
    reopen = f"`distro release reopen {rid}`"
    for attempt in (
        lambda: workflow.approve(engine, rid, now),
        lambda: workflow.edit(engine, rid, {"title": "Fixed"}, now),
        lambda: schedule(engine, rid, now),
    ):
        with pytest.raises(ValidationError, match=reopen):
            attempt()
    with pytest.raises(ValidationError) as refused:
        lifecycle.move(release_row(engine, rid), ReleaseStatus.APPROVED)
    assert str(refused.value) == (
        f"release {rid} is withdrawn; it cannot become approved "
        f"(from withdrawn it can become: draft ({reopen}))"
    )
    workflow.reopen(engine, rid, now)
    with pytest.raises(ValidationError, match=rf"`distro release approve {rid}`"):
        schedule(engine, rid, now)


def test_a_scheduled_release_with_no_live_send_acts_as_approved(engine: Engine) -> None:
    """As an older distro left it, or one that stopped between a cancel and its settling."""
    add_contacts(engine, 2)
    now = utcnow()
    release_id, (send_id,) = scheduled_release(engine, now)
    with engine.begin() as conn:
        conn.execute(update(SENDS).where(SENDS.c.id == send_id).values(status=SendStatus.CANCELLED))
    assert release_row(engine, release_id).status == ReleaseStatus.SCHEDULED
    outcome = workflow.edit(engine, release_id, {"body_md": "A corrected body."}, now)
    assert outcome.release.status == ReleaseStatus.DRAFT


# --- races on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    created = make_engine(postgres_url)
    upgrade(created)
    yield created
    created.dispose()


def at_once(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads released together; their results or exceptions."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except Exception as exc:  # the test looks at what each one got
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


ROUNDS = 6


@pytest.mark.postgres
def test_cancelling_both_sends_at_once_approves_the_release(pg_engine: Engine) -> None:
    engine, now = pg_engine, utcnow()
    add_contacts(engine, 2)
    for _ in range(ROUNDS):
        release_id, (first, second) = scheduled_release(engine, now, sends=2)
        results = at_once(
            partial(control.cancel, engine, first, now),
            partial(control.cancel, engine, second, now),
        )
        assert all(isinstance(r, control.ControlResult) for r in results), results
        assert release_row(engine, release_id).status == ReleaseStatus.APPROVED


@pytest.mark.postgres
def test_cancel_racing_a_worker_firing_the_send(pg_engine: Engine) -> None:
    engine, now = pg_engine, utcnow()
    settings = settings_for(engine)
    add_contacts(engine, 4)
    for _ in range(ROUNDS):
        release = add_release(engine)
        assert release.id is not None
        send_id = schedule(engine, release.id, now)
        fired, cancelled = at_once(
            partial(fire_send, engine, settings, send_id, now),
            partial(control.cancel, engine, send_id, now),
        )
        assert fired in (FireOutcome.STARTED, FireOutcome.NOT_DUE)
        assert isinstance(cancelled, control.ControlResult)
        assert send_status(engine, send_id) == SendStatus.CANCELLED
        # Fired first or not, nothing was handed over: every row is marked not sent.
        assert {m.status for m in messages_of(engine, send_id)} <= {"failed"}
        stored = release_row(engine, release.id)
        assert (stored.status, stored.published_at) == (ReleaseStatus.APPROVED, None)


@pytest.mark.postgres
def test_cancel_racing_a_new_send_never_approves_a_release_with_a_live_send(
    pg_engine: Engine,
) -> None:
    engine, now = pg_engine, utcnow()
    add_contacts(engine, 2)
    for _ in range(ROUNDS):
        release_id, (old,) = scheduled_release(engine, now)
        cancelled, added = at_once(
            partial(control.cancel, engine, old, now),
            partial(schedule, engine, release_id, now, now + timedelta(hours=2)),
        )
        assert isinstance(cancelled, control.ControlResult)
        assert isinstance(added, int), added
        assert release_row(engine, release_id).status == ReleaseStatus.SCHEDULED
        assert control.cancel(engine, added, now).release_status == ReleaseStatus.APPROVED


# --- the web copy of a reopened release ----------------------------------------------------------


def test_a_reopened_release_is_hidden_from_earlier_recipients_until_it_goes_again(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine)
    sent = advance_copy_sent(live)
    release_id = sent.release.id
    assert release_id is not None
    link = view_online(live, sent.release, sent.message_ids[0])
    assert get(link).status_code == 200
    now = utcnow()
    withdraw_release(engine, release_id, now)
    workflow.reopen(engine, release_id, now)
    workflow.edit(engine, release_id, {"title": "Archive opens (corrected)"}, now)
    # The unapproved correction is nobody's to read, the earlier recipients' links included.
    assert_hidden(get(link))
    workflow.approve(engine, release_id, now)
    assert_hidden(get(link))

    again = schedule_send(
        engine,
        live.settings,
        release_id=release_id,
        audience=Audience(["trusted"]),
        now=now,
        advance_copy=True,
    )
    assert again.id is not None
    assert fire_send(engine, live.settings, again.id, now) == FireOutcome.STARTED
    new_link = view_online(
        live, release_row(engine, release_id), messages_of(engine, again.id)[0].id or 0
    )
    page = get(new_link)
    assert page.status_code == 200
    assert "Archive opens (corrected)" in page.text
    assert new_link.split("?")[0] == link.split("?")[0]  # the same slug, the same URL
