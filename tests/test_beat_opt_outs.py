"""A journalist who unticks one beat in the preference centre (the real page, over loopback) is
not an unsubscriber: the opt-out is its own event and outcome, counted apart in every report
format, shown on the contact (`contacts show`, with since when), and a later send by that beat
lists them by address as left out by a beat opt-out (`send schedule`, its forecast) and, once it
fires, records each as an ``opted_out`` message its report counts and names."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine
from sqlmodel import Session

from distro.audience.contacts import contact_details
from distro.db import MIGRATIONS, make_engine, upgrade
from distro.models import BeatOptOut, EventType, Message, MessageStatus
from distro.models.types import utcnow
from distro.reports import build_report
from distro.reports.csv_out import report_rows, write_report
from distro.reports.html import render_report
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, SendRequest, schedule, schedule_send
from distro.tracking.event import NormalisedEvent, OptOutScope
from distro.tracking.events import store_events
from tests.cli_support import run
from tests.conftest import LiveDistro, make_settings
from tests.factories import add_contacts, add_release, messages_of
from tests.test_preferences import distro_events, give_beats, link, sent_to, suppressed


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def test_a_beat_opt_out_is_its_own_outcome_everywhere(live: LiveDistro, tmp_path: Path) -> None:
    engine = live.engine
    opting, staying = add_contacts(engine, 2, "press")
    give_beats(engine, opting, "health", "science")
    give_beats(engine, staying, "health")
    first, _second = sent_to(live, "press")
    assert first.email == opting.email
    answer = httpx.post(f"{link(live, first)}/beats", data={"beat": ["science"]}, timeout=10)
    assert answer.status_code == 200

    # Its own event, not an unsubscribe: nothing suppressed, the message not "unsubscribed".
    assert [e.type for e in distro_events(engine)] == ["beat_opted_out"]
    assert not suppressed(engine, opting.email)
    with Session(engine) as session:
        assert session.get(Message, first.id).status != MessageStatus.UNSUBSCRIBED  # type: ignore[union-attr]

    # Counted apart in the report: JSON, CSV, HTML and the text table.
    report = build_report(engine, first.send_id)
    assert (report.unsubscribed, report.counts.beat_opted_out) == (0, 1)
    assert report.as_dict()["beat_opted_out"] == 1
    assert ("funnel", "", "beat_opted_out", 1) in list(report_rows(report))
    out = io.StringIO()
    write_report(report, out)
    assert "beat_opted_out" in out.getvalue()
    assert "Opted out of a beat" in render_report(report)
    text = run(tmp_path, "report", str(first.send_id))
    assert text.returncode == 0, text.stderr
    assert "opted out of a beat" in text.stdout

    # Shown on the contact, with since when.
    (opt_out,) = contact_details(engine, opting.email).as_dict()["beat_opt_outs"]
    assert (opt_out["beat"], opt_out["message_id"]) == ("health", first.id)
    shown = run(tmp_path, "contacts", "show", opting.email)
    assert shown.returncode == 0, shown.stderr
    assert "beats opted out" in shown.stdout
    assert "health (since" in shown.stdout

    # A send by that beat lists who it leaves out and why.
    release = add_release(engine, title="Health release")
    assert release.id is not None
    at = utcnow() + timedelta(days=1)
    request = SendRequest(release.id, Audience(where='beats has "health"'), at=at)
    scheduled = schedule(engine, live.settings, request, utcnow())
    forecast = scheduled.forecast
    assert (forecast.audience, forecast.opted_out) == (1, 1)
    (left_out,) = forecast.opted_out_contacts
    assert (left_out.email, left_out.beats) == (opting.email, ("health",))
    assert scheduled.as_dict()["opted_out_contacts"][0]["email"] == opting.email
    cli = run(
        tmp_path,
        *("send", "schedule", str(release.id), "--where", 'beats has "health"'),
        *("--at", f"{at:%Y-%m-%d %H:%M} UTC"),
    )
    assert cli.returncode == 0, cli.stderr
    assert "left out by a beat opt-out" in cli.stdout
    assert f"{opting.email}: opted out of health" in cli.stdout

    # Once it fires, the send itself records who was left out and why, apart from advance copies.
    health_send = scheduled.send.id
    assert health_send is not None
    assert fire_send(engine, live.settings, health_send, at) == FireOutcome.STARTED
    rows = {m.email: m for m in messages_of(engine, health_send)}
    assert rows[opting.email].status == MessageStatus.OPTED_OUT
    assert rows[opting.email].last_error == "left out: opted out of health"
    assert rows[staying.email].status == MessageStatus.QUEUED
    fired = build_report(engine, health_send)
    assert (fired.recipients, fired.left_out, fired.left_out_by_opt_out) == (1, 0, 1)
    assert ("funnel", "", "left_out_by_opt_out", 1) in list(report_rows(fired))
    assert "1 left out (beat opt-out)" in render_report(fired)
    listed = run(tmp_path, "report", str(health_send), "--recipients")
    assert listed.returncode == 0, listed.stderr
    assert "left out (opted out of a beat)" in listed.stdout
    table = run(tmp_path, "report", str(health_send), "--recipients", "--format", "csv")
    assert table.returncode == 0, table.stderr
    (line,) = [row for row in table.stdout.splitlines() if opting.email in row]
    assert "opted_out" in line
    assert "left out: opted out of health" in line
    sends = run(tmp_path, "send", "list")
    assert sends.returncode == 0, sends.stderr
    assert f"send {health_send}: 1 left out by a beat opt-out" in sends.stdout


def test_a_fired_send_records_each_beat_opt_out_with_the_beats(any_engine: Engine) -> None:
    """On both databases: one ``opted_out`` row per contact a beat segment left out, with who
    they were as addressed and the segment's beats they dropped; not a recipient."""
    engine = any_engine
    dropped_two, dropped_one, kept = add_contacts(engine, 3, "press")
    for contact in (dropped_two, dropped_one, kept):
        give_beats(engine, contact, "health", "science")
    with Session(engine) as session:
        for contact, beat in (
            (dropped_two, "health"),
            (dropped_two, "science"),
            (dropped_one, "science"),
        ):
            assert contact.id is not None
            session.add(BeatOptOut(contact_id=contact.id, beat=beat))
        session.commit()
    release = add_release(engine)
    assert release.id is not None
    now = utcnow()
    settings = make_settings(str(engine.url.render_as_string(hide_password=False)))
    where = 'beats has "health" or beats has "science"'
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(where=where), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    rows = {m.email: m for m in messages_of(engine, send.id)}
    assert rows[dropped_two.email].status == MessageStatus.OPTED_OUT
    assert rows[dropped_two.email].last_error == "left out: opted out of health, science"
    assert rows[dropped_two.email].beats == ["health", "science"]
    assert rows[dropped_two.email].outlet == dropped_two.outlet
    # Dropping any beat the segment names leaves them out (distro.audience.preferences): the
    # row names only the beats they dropped.
    assert rows[dropped_one.email].status == MessageStatus.OPTED_OUT
    assert rows[dropped_one.email].last_error == "left out: opted out of science"
    assert rows[kept.email].status == MessageStatus.QUEUED
    report = build_report(engine, send.id)
    assert (report.recipients, report.left_out_by_opt_out) == (1, 2)


def test_migration_0011_retypes_old_beat_events_and_recounts(database_url: str) -> None:
    """An opt-out stored the old way (an ``unsubscribed`` event with scope "beats", which moved
    the message to unsubscribed and counted as an unsubscribe) is a beat opt-out after 0011."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        add_contacts(engine, 1, "press")
        release = add_release(engine)
        assert release.id is not None
        now = utcnow()
        send = schedule_send(
            engine,
            make_settings(database_url),
            release_id=release.id,
            audience=Audience(["press"]),
            now=now,
        )
        assert send.id is not None
        assert fire_send(engine, make_settings(database_url), send.id, now) == FireOutcome.STARTED
        (message,) = messages_of(engine, send.id)
        old_form = NormalisedEvent(
            type=EventType.UNSUBSCRIBED,
            provider_event_id=f"unsubscribe-beats:{message.id}:health",
            occurred_at=now,
            recipient=message.email,
            message_id=message.id,
            signed_link=True,
            description="preference centre: no more health",
            scope=OptOutScope.BEATS,
        )
        store_events(engine, "distro", [old_form])
        assert build_report(engine, send.id).unsubscribed == 1  # what the old code showed
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
        upgrade(engine)
        report = build_report(engine, send.id)
        assert (report.unsubscribed, report.counts.beat_opted_out) == (0, 1)
        assert [e.type for e in distro_events(engine)] == ["beat_opted_out"]
        with Session(engine) as session:
            assert session.get(Message, message.id).status == MessageStatus.SENT  # type: ignore[union-attr]
    finally:
        engine.dispose()
