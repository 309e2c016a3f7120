"""An advance copy and the sends after it: whoever received the advance copy is left out of the
release's later sends (recorded, with the send that reached them), unless a send includes them;
what ``schedule`` forecasts, what ``send list`` shows and what the report counts agree; each
send's kind is stored (also on sends from before the migration) and shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, inspect, text, update
from sqlmodel import Session

from distro.audience.lists import add_members, get_or_create_list
from distro.config import Settings
from distro.db import MIGRATIONS, make_engine, upgrade
from distro.errors import ValidationError
from distro.models import (
    Contact,
    ContactBeat,
    ContactTag,
    Message,
    MessageStatus,
    Send,
    SendKind,
)
from distro.models.types import utcnow
from distro.moments import show_moment_and_utc
from distro.releases import workflow
from distro.reports import build_report, csv_out
from distro.reports.recipients import iter_recipients
from distro.sending.expand import LEFT_OUT_REASON, FireOutcome, fire_send
from distro.sending.forecast import AudienceForecast, summarise_sends
from distro.sending.scheduling import Audience, ScheduledSend, SendRequest, schedule
from distro.sending.withdraw import withdraw_release
from distro.tracking.preference_centre import save_beat_choices
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of, suppress
from tests.test_send_control import hand_over, record

MESSAGES = Message.__table__  # type: ignore[attr-defined]
TRUSTED_TAG = "embargo-ok"


def settings_of(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


def newsroom(
    engine: Engine, trusted: int = 3, others: int = 3
) -> tuple[list[Contact], list[Contact]]:
    """Everyone on the list "press"; the embargo-trusted ones also on "trusted"."""
    trusted_ones = add_contacts(engine, trusted, "press", domain="trusted.example")
    other_ones = add_contacts(engine, others, "press", domain="wire.example")
    with Session(engine) as session:
        session.add_all(ContactTag(contact_id=c.id or 0, tag=TRUSTED_TAG) for c in trusted_ones)
        add_members(
            session, get_or_create_list(session, "trusted"), [c.id or 0 for c in trusted_ones]
        )
        session.commit()
    return trusted_ones, other_ones


def embargoed_release(engine: Engine, now: datetime) -> int:
    release = add_release(engine, embargo_at=now + timedelta(hours=2), embargo_tz="Europe/Madrid")
    assert release.id is not None
    return release.id


def plan(
    engine: Engine, release_id: int, now: datetime, lists: list[str], **options: object
) -> ScheduledSend:
    request = SendRequest(release_id, Audience(lists), **options)  # type: ignore[arg-type]
    return schedule(engine, settings_of(engine), request, now)


def fire(engine: Engine, scheduled: ScheduledSend, now: datetime) -> int:
    send_id = scheduled.send.id
    assert send_id is not None
    assert fire_send(engine, settings_of(engine), send_id, now) == FireOutcome.STARTED
    return send_id


def set_status(engine: Engine, send_id: int, email: str, status: MessageStatus) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(MESSAGES)
            .where(MESSAGES.c.send_id == send_id, MESSAGES.c.email == email)
            .values(status=status)
        )


def deliver_all(engine: Engine, send_id: int, now: datetime, count: int) -> None:
    """Hand over and record every message of the (only) sending send, as a worker does."""
    record(engine, hand_over(engine, count, now), now)
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.SENT}


def advance_copy_delivered(engine: Engine, now: datetime) -> tuple[int, int]:
    """An embargoed release whose advance copy reached the three trusted journalists:
    (release id, the advance copy's send id)."""
    newsroom(engine)
    release_id = embargoed_release(engine, now)
    advance_id = fire(engine, plan(engine, release_id, now, ["trusted"], advance_copy=True), now)
    deliver_all(engine, advance_id, now, 3)
    return release_id, advance_id


def test_the_at_lift_send_leaves_out_who_received_the_advance_copy(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    trusted, others = newsroom(engine)
    release_id = embargoed_release(engine, now)

    advance = plan(engine, release_id, now, ["trusted"], advance_copy=True)
    assert (advance.send.kind, advance.forecast.to_send) == (SendKind.ADVANCE_COPY, 3)
    advance_id = fire(engine, advance, now)
    deliver_all(engine, advance_id, now, 3)
    # Only the first one got it: one bounced, one failed.
    set_status(engine, advance_id, trusted[1].email, MessageStatus.BOUNCED)
    set_status(engine, advance_id, trusted[2].email, MessageStatus.FAILED)

    at_lift = plan(engine, release_id, now, ["press"])
    assert at_lift.send.kind == SendKind.AT_LIFT
    assert at_lift.forecast == AudienceForecast(audience=6, suppressed=0, left_out=1, opted_out=0)
    assert (at_lift.forecast.recipients, at_lift.forecast.to_send) == (5, 5)
    lift = now + timedelta(hours=2)
    at_lift_id = fire(engine, at_lift, lift)

    rows = {m.email: m for m in messages_of(engine, at_lift_id)}
    assert rows[trusted[0].email].status == MessageStatus.LEFT_OUT
    assert rows[trusted[0].email].last_error == f"{LEFT_OUT_REASON}{advance_id}"
    assert sorted(e for e, m in rows.items() if m.status == MessageStatus.QUEUED) == sorted(
        [trusted[1].email, trusted[2].email, *(c.email for c in others)]
    )

    report = build_report(engine, at_lift_id)
    assert (report.kind, report.recipients, report.left_out, report.pending) == ("at_lift", 5, 1, 5)
    assert sum(row.counts.recipients for row in report.breakdowns["outlet"]) == 5
    data = report.as_dict()
    assert (data["kind"], data["recipients"], data["left_out"]) == ("at_lift", 5, 1)
    figures = {
        (section, metric): value for section, _, metric, value in csv_out.report_rows(report)
    }
    assert figures[("send", "kind")] == "at_lift"
    assert figures[("funnel", "left_out")] == 1
    reasons = {r.email: (r.status, r.reason) for r in iter_recipients(engine, at_lift_id)}
    assert reasons[trusted[0].email] == ("left_out", f"{LEFT_OUT_REASON}{advance_id}")
    assert build_report(engine, advance_id).kind == "advance_copy"

    listed = {s.send_id: s for s in summarise_sends(engine, TRUSTED_TAG, lift)}
    assert (listed[at_lift_id].recipients, listed[at_lift_id].left_out) == (5, 1)
    assert not listed[at_lift_id].expected
    assert (listed[advance_id].kind, listed[advance_id].recipients) == ("advance_copy", 3)


def test_the_forecast_counts_advance_copies_still_to_go_and_suppression_first(
    engine: Engine,
) -> None:
    now = utcnow()
    trusted, others = newsroom(engine)
    release_id = embargoed_release(engine, now)
    advance = plan(
        engine, release_id, now, ["trusted"], advance_copy=True, at=now + timedelta(hours=1)
    )
    suppress(engine, trusted[1].email)

    at_lift = plan(engine, release_id, now, ["press"])
    # The advance copy has not gone yet: the two it will reach are left out already, the
    # suppressed one is counted as suppressed only.
    assert at_lift.forecast == AudienceForecast(
        audience=6,
        suppressed=1,
        left_out=2,
        opted_out=0,
        suppressed_by_reason={"do_not_contact": 1},
    )
    assert at_lift.forecast.to_send == 3
    everyone = plan(
        engine,
        release_id,
        now,
        ["press"],
        at=now + timedelta(hours=3),
        include_advance_recipients=True,
    )
    assert (everyone.forecast.left_out, everyone.forecast.to_send) == (0, 5)
    assert everyone.send.include_advance_recipients

    listed = {s.send_id: s for s in summarise_sends(engine, TRUSTED_TAG, now)}
    line = listed[at_lift.send.id or 0]
    assert (line.expected, line.recipients, line.left_out) == (True, 4, 2)
    assert line.forecast == at_lift.forecast
    assert (listed[advance.send.id or 0].recipients, listed[everyone.send.id or 0].left_out) == (
        3,
        0,
    )

    # A beat segment: a contact who opted out of the beat is counted apart, not in the audience.
    with Session(engine) as session:
        session.add_all(ContactBeat(contact_id=c.id or 0, beat="health") for c in others[:2])
        session.commit()
    save_beat_choices(engine, others[1].id or 0, [], None)
    by_beat = schedule(
        engine,
        settings_of(engine),
        SendRequest(release_id, Audience(where='beats has "health"'), at=now + timedelta(hours=3)),
        now,
    )
    f = by_beat.forecast
    assert (f.audience, f.suppressed, f.left_out, f.opted_out) == (1, 0, 0, 1)
    assert [(o.email, o.beats) for o in f.opted_out_contacts] == [(others[1].email, ("health",))]


def test_a_send_that_includes_advance_recipients_mails_them_too(engine: Engine) -> None:
    now = utcnow()
    release_id, _advance_id = advance_copy_delivered(engine, now)
    lift = now + timedelta(hours=2)
    everyone = plan(engine, release_id, now, ["press"], include_advance_recipients=True)
    send_id = fire(engine, everyone, lift)
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.QUEUED}
    assert len(messages_of(engine, send_id)) == 6


def test_an_advance_copy_of_an_earlier_version_leaves_no_one_out(engine: Engine) -> None:
    now = utcnow()
    release_id, _advance_id = advance_copy_delivered(engine, now)
    # A mistake found after the advance copy went: withdraw, reopen, correct, approve.
    withdraw_release(engine, release_id, now)
    later = now + timedelta(minutes=5)
    workflow.reopen(engine, release_id, later)
    workflow.edit(engine, release_id, {"title": "Corrected"}, later)
    workflow.approve(engine, release_id, later)

    corrected = plan(engine, release_id, later, ["press"])
    assert (corrected.forecast.left_out, corrected.forecast.to_send) == (0, 6)
    send_id = fire(engine, corrected, now + timedelta(hours=2))
    assert len([m for m in messages_of(engine, send_id) if m.status == MessageStatus.QUEUED]) == 6


def test_schedule_refuses_what_would_reach_no_one_and_names_the_way(engine: Engine) -> None:
    now = utcnow()
    release_id, _advance_id = advance_copy_delivered(engine, now)
    with pytest.raises(ValidationError, match="an advance copy leaves no one out"):
        plan(
            engine, release_id, now, ["trusted"], advance_copy=True, include_advance_recipients=True
        )
    with pytest.raises(ValidationError) as refused:
        plan(engine, release_id, now, ["trusted"])
    assert str(refused.value) == (
        "the audience (list 'trusted') has 3 contacts: 0 suppressed and 3 with an advance copy "
        "of the release already (add --include-advance-recipients to send them this one too)"
    )


def test_the_moment_is_shown_in_the_zone_it_was_entered_in_and_in_utc(engine: Engine) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    newsroom(engine)
    release_id = embargoed_release(engine, now)  # lifts 14:00 UTC, 15:00 in Madrid
    at_lift = plan(engine, release_id, now, ["press"])
    assert at_lift.moment == "2026-11-30 15:00 CET (Europe/Madrid), 14:00 UTC"
    later = plan(
        engine,
        release_id,
        now,
        ["press"],
        at=datetime(2026, 12, 1, 4, 30, tzinfo=UTC),
        at_zone="America/New_York",
    )
    assert later.send.kind == SendKind.AT_TIME
    data = later.as_dict()
    assert (
        data["scheduled_local"] == "2026-11-30 23:30 EST (America/New_York), 2026-12-01 04:30 UTC"
    )
    assert (data["zone"], data["kind"], data["recipients"], data["to_send"]) == (
        "America/New_York",
        "at_time",
        6,
        6,
    )
    assert show_moment_and_utc(now) == "2026-11-30 12:00 UTC"


def test_the_migration_gives_stored_sends_their_kind(database_url: str) -> None:
    """Down to 0009 and up again with sends, messages and a release that refer to each other
    (their foreign keys must not stop it); the kinds come back from the sends' flags."""
    engine = make_engine(database_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        upgrade(engine)
        now = utcnow()
        release_id, advance_id = advance_copy_delivered(engine, now)
        at_lift = plan(engine, release_id, now, ["press"]).send.id
        at_time = plan(engine, release_id, now, ["press"], at=now + timedelta(hours=3)).send.id
        with Session(engine) as session:
            test = Send(release_id=release_id, provider="sandbox", scheduled_at=now, is_test=True)
            session.add(test)
            session.commit()
            test_id = test.id
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0009")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("sends")}
            assert "kind" not in columns
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 3
        upgrade(engine)
        with engine.connect() as conn:
            kinds = {
                int(row[0]): str(row[1])
                for row in conn.execute(text("SELECT id, kind FROM sends ORDER BY id"))
            }
            flags = conn.execute(
                text(
                    "SELECT DISTINCT scheduled_tz, include_advance_recipients, left_out FROM sends"
                )
            ).all()
        assert kinds == {
            advance_id: "advance_copy",
            at_lift: "at_lift",
            at_time: "at_time",
            test_id: "test",
        }
        assert [tuple(row) for row in flags] == [("UTC", False, 0)]
    finally:
        engine.dispose()
