"""Send reports against a constructed send whose every event is known: the funnel in distinct
recipients (human and machine apart), rates, breakdowns, timeline buckets, links, bounce
reasons and the per-recipient table, on SQLite and PostgreSQL. Events go in through the real
store path (``store_events``), so the summary is kept the way production keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session
from sqlmodel import select as select_models
from typing_extensions import Unpack

from distro.db import make_engine, upgrade
from distro.errors import NotFoundError
from distro.models import (
    Contact,
    ContactBeat,
    EventType,
    Message,
    ReportSnapshot,
    Send,
    SendStatus,
    Suppression,
)
from distro.reports import build_report, prepare_report, sends_to_prepare
from distro.reports.listing import list_sends
from distro.reports.recipients import iter_recipients
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.event import BounceKind, NormalisedEvent, Said
from distro.tracking.events import store_events
from distro.worker import Worker
from tests.conftest import make_settings
from tests.factories import add_release

T0 = datetime(2026, 3, 2, 9, 0, 20, tzinfo=UTC)  # the send starts here (minute 09:00)
URL_A = "https://newsroom.example/a"
URL_B = "https://newsroom.example/b"
HARD_CY = "smtp; 550 5.1.1 <cy@wire.example> user unknown"
HARD_DI = "smtp; 550 5.1.1 <di@wire.example> user unknown"
MESSAGES = Message.__table__  # type: ignore[attr-defined]
SENDS = Send.__table__  # type: ignore[attr-defined]

# email -> (outlet, region, beats); the last one is on the suppression list.
PEOPLE = {
    "ana@harbor.example": ("Harbor Herald", "West", ["politics", "tech"]),
    "ben@harbor.example": ("Harbor Herald", "West", ["politics"]),
    "cy@wire.example": ("Pacific Wire", "East", ["tech"]),
    "di@wire.example": ("Pacific Wire", "East", []),
    "ed@gazette.example": ("Gazette", "", ["sport"]),
    "flo@gazette.example": ("Gazette", "", ["sport"]),
}
SUPPRESSED = "flo@gazette.example"


@dataclass(frozen=True)
class Scenario:
    engine: Engine
    send_id: int
    ids: dict[str, int]  # email -> message id


def add_people(engine: Engine, people: dict[str, tuple[str, str, list[str]]]) -> None:
    from distro.audience.lists import add_members, get_or_create_list

    with Session(engine, expire_on_commit=False) as session:
        contacts = [
            Contact(email=email, outlet=outlet, region=region)
            for email, (outlet, region, _) in people.items()
        ]
        session.add_all(contacts)
        session.flush()
        for contact in contacts:
            assert contact.id is not None
            for beat in people[contact.email][2]:
                session.add(ContactBeat(contact_id=contact.id, beat=beat))
        add_members(session, get_or_create_list(session, "press"), [c.id for c in contacts if c.id])
        session.commit()


def start_send(engine: Engine, title: str = "Harbour opens <b>new</b> pier & more") -> int:
    """Schedule and fire a send to the list "press" at T0; its id."""
    release = add_release(engine, title=title)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=T0
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, T0) == FireOutcome.STARTED
    return send.id


def message_ids(engine: Engine, send_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(MESSAGES.c.email, MESSAGES.c.id).where(MESSAGES.c.send_id == send_id)
        )
        return {str(email): int(message_id) for email, message_id in rows}


def hand_over(engine: Engine, ids: dict[int, datetime]) -> None:
    """Record messages as accepted by the provider at the given moments."""
    with engine.begin() as conn:
        for message_id, moment in ids.items():
            conn.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id == message_id)
                .values(status="sent", sent_at=moment, provider_message_id=f"pm-{message_id}")
            )


def finish(engine: Engine, send_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(SENDS)
            .where(SENDS.c.id == send_id)
            .values(status=SendStatus.SENT, finished_at=T0 + timedelta(minutes=2))
        )


HARD, SOFT = BounceKind.HARD, BounceKind.SOFT


def ev(
    key: str, kind: EventType, message_id: int, after: timedelta, **said: Unpack[Said]
) -> NormalisedEvent:
    return NormalisedEvent(
        type=kind,
        provider_event_id=key,
        occurred_at=T0 + after,
        message_id=message_id,
        **said,
        signed_link=True,  # believed on its id alone, as our own links are
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def build_scenario(engine: Engine) -> Scenario:
    add_people(engine, PEOPLE)
    with Session(engine) as session:
        session.add(Suppression(email=SUPPRESSED, reason="complaint"))
        session.commit()
    send_id = start_send(engine)
    ids = message_ids(engine, send_id)
    ana, ben, cy, di, ed = (ids[e] for e in list(PEOPLE)[:5])
    hand_over(engine, {ana: T0, ben: T0, cy: T0, di: T0 + minutes(1.02), ed: T0 + minutes(1.02)})
    first = [
        ev("e1", EventType.OPENED, ana, minutes(5)),  # before its delivery arrives
        ev("e2", EventType.OPENED, ana, minutes(1), machine=True),
        ev("e3", EventType.DELIVERED, ben, minutes(1)),
        ev("e4", EventType.BOUNCED, cy, minutes(2), bounce_kind=SOFT, reason="Mailbox full",
           mta_response="452 4.2.2 mailbox full"),
        ev("e5", EventType.BOUNCED, di, minutes(2), bounce_kind=HARD, reason="HardBounce",
           mta_response=HARD_DI),
        ev("e6", EventType.CLICKED, ben, minutes(3), click_url=URL_A),
        ev("e7", EventType.CLICKED, ben, minutes(1.5), click_url=URL_A, machine=True),
    ]  # fmt: skip
    second = [
        ev("e8", EventType.DELIVERED, ana, minutes(1)),
        ev("e9", EventType.OPENED, ana, minutes(6)),
        ev("e10", EventType.CLICKED, ana, minutes(7), click_url=URL_A),
        ev("e11", EventType.CLICKED, ana, minutes(65), click_url=URL_B),
        ev("e12", EventType.CLICKED, ana, minutes(8), click_url=URL_A),
        ev("e13", EventType.BOUNCED, cy, minutes(3), bounce_kind=HARD, reason="HardBounce",
           mta_response=HARD_CY),
        ev("e14", EventType.DELIVERED, ed, minutes(2)),
        ev("e15", EventType.COMPLAINED, ed, minutes(180)),
        ev("e16", EventType.UNSUBSCRIBED, ed, minutes(181)),
        ev("e17", EventType.OPENED, ben, minutes(4)),
        ev("e18", EventType.DEFERRED, ed, minutes(1.5)),
        ev("e19", EventType.OPENED, ben, minutes(185)),
        ev("e1", EventType.OPENED, ana, minutes(5)),  # a provider's retry: stored once
    ]  # fmt: skip
    assert store_events(engine, "sandbox", first) == len(first)
    assert store_events(engine, "sandbox", second) == len(second) - 1
    assert store_events(engine, "sandbox", first) == 0  # the whole batch again: nothing new
    return Scenario(engine, send_id, ids)


def known_sends_in(folder: Path, second_title: str = "Second release") -> tuple[Scenario, int]:
    """A SQLite database in ``folder`` (the CLI's default) with the known send, finished, and a
    second send of another release (its id). Dispose of ``scenario.engine`` when done."""
    engine = make_engine(f"sqlite:///{folder / 'distro.db'}")
    upgrade(engine)
    scenario = build_scenario(engine)
    finish(engine, scenario.send_id)
    return scenario, start_send(engine, title=second_title)


@pytest.fixture
def scenario(any_engine: Engine) -> Scenario:
    return build_scenario(any_engine)


def test_funnel_counts_distinct_recipients_and_keeps_people_and_machines_apart(
    scenario: Scenario,
) -> None:
    report = build_report(scenario.engine, scenario.send_id)
    funnel = {k: v for k, v in report.as_dict().items() if isinstance(v, int)}
    assert funnel == {
        "send_id": scenario.send_id,
        "release_id": report.release_id,
        "recipients": 6,
        "left_out": 0,
        "left_out_by_opt_out": 0,
        "suppressed": 1,
        "pending": 0,
        "sent": 5,
        "delivered": 3,  # ana (delivery after her open), ben, ed
        "deferred": 1,
        "bounced": 2,
        "bounced_hard": 2,  # cy's soft bounce turned hard
        "bounced_soft": 0,
        "failed": 0,
        "uncertain": 0,
        "opened": 2,
        "opened_human": 2,
        "opened_machine": 1,
        "opens": 5,
        "opens_human": 4,
        "opens_machine": 1,
        "clicked": 2,
        "clicked_human": 2,
        "clicked_machine": 1,
        "clicks": 5,
        "clicks_human": 4,
        "clicks_machine": 1,
        "complained": 1,
        "unsubscribed": 1,
        "beat_opted_out": 0,
        "refused_events": 0,  # no event named these messages with another recipient
    }
    assert report.as_dict()["rates"] == {
        "delivery_rate": 0.6,
        "open_rate": 0.6667,
        "click_rate": 0.6667,
        "click_to_open_rate": 1.0,
        "bounce_rate": 0.4,
        "complaint_rate": 0.3333,
        "unsubscribe_rate": 0.3333,
    }


def test_breakdowns_by_outlet_beat_region_provider_and_domain(scenario: Scenario) -> None:
    report = build_report(scenario.engine, scenario.send_id)

    def rows(dimension: str, *names: str) -> dict[str, tuple[int, ...]]:
        return {
            r.value: tuple(getattr(r.counts, n) for n in names)
            for r in report.breakdowns[dimension]
        }

    names = ("recipients", "suppressed", "delivered", "bounced", "opened_human", "clicked_human")
    assert rows("outlet", *names) == {
        "Harbor Herald": (2, 0, 2, 0, 2, 2),
        "Pacific Wire": (2, 0, 0, 2, 0, 0),
        "Gazette": (2, 1, 1, 0, 0, 0),
    }
    assert rows("outlet", "complained", "unsubscribed", "deferred")["Gazette"] == (1, 1, 1)
    assert rows("beat", *names) == {
        "politics": (2, 0, 2, 0, 2, 2),
        "tech": (2, 0, 1, 1, 1, 1),
        "sport": (2, 1, 1, 0, 0, 0),
    }
    assert rows("region", "recipients", "delivered", "bounced") == {
        "West": (2, 2, 0),
        "East": (2, 0, 2),
        "": (2, 1, 0),
    }
    assert rows("provider", "recipients", "delivered") == {"sandbox": (6, 3)}
    assert rows("domain", "recipients", "bounced") == {
        "harbor.example": (2, 0),
        "wire.example": (2, 2),
        "gazette.example": (2, 0),
    }
    assert [r.value for r in report.breakdowns["outlet"]] == [  # most recipients, then by name
        "Gazette",
        "Harbor Herald",
        "Pacific Wire",
    ]
    harbor = report.breakdowns["outlet"][1]
    assert (harbor.rates.delivery_rate, harbor.rates.open_rate) == (1.0, 1.0)
    gazette = next(r for r in report.breakdowns["outlet"] if r.value == "Gazette")
    assert gazette.rates.delivery_rate == 1.0  # over its one mailed recipient


def test_breakdowns_describe_the_audience_as_it_was_sent(scenario: Scenario) -> None:
    with Session(scenario.engine) as session:
        ana = session.exec(
            select_models(Contact).where(Contact.email == "ana@harbor.example")
        ).one()
        ana.outlet = "Moved On Weekly"
        session.add(ana)
        session.commit()
    report = build_report(scenario.engine, scenario.send_id)
    assert {r.value for r in report.breakdowns["outlet"]} == {
        "Harbor Herald",
        "Pacific Wire",
        "Gazette",
    }


def test_timeline_per_minute_for_the_first_hour_then_per_hour(scenario: Scenario) -> None:
    report = build_report(scenario.engine, scenario.send_id)
    minutes_ = report.timeline.minutes
    assert [p.start for p in minutes_] == [
        T0.replace(second=0) + timedelta(minutes=i) for i in range(9)
    ]
    assert all(p.minutes == 1 for p in minutes_)

    def series(name: str) -> list[int]:
        return [getattr(p, name) for p in minutes_]

    assert series("sent") == [3, 2, 0, 0, 0, 0, 0, 0, 0]
    assert series("delivered") == [0, 2, 1, 0, 0, 0, 0, 0, 0]  # first delivery per recipient
    assert series("opens_human") == [0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert series("opens_machine") == [0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert series("clicks_human") == [0, 0, 0, 1, 0, 0, 0, 1, 1]
    assert series("clicks_machine") == [0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert series("bounces") == [0, 0, 2, 1, 0, 0, 0, 0, 0]
    hours = report.timeline.hours
    assert [(p.start, p.minutes) for p in hours] == [
        (T0.replace(second=0) + timedelta(minutes=60 + 60 * i), 60) for i in range(3)
    ]
    assert [p.clicks_human for p in hours] == [1, 0, 0]  # ana at +65 min
    assert [p.opens_human for p in hours] == [0, 0, 1]  # ben at +185 min


def test_top_links_and_bounce_reasons(scenario: Scenario) -> None:
    report = build_report(scenario.engine, scenario.send_id)
    assert [(k.url, k.clicks_human, k.clicks_machine, k.clickers) for k in report.top_links] == [
        (URL_A, 3, 1, 2),  # ana twice and ben once; the scanner apart
        (URL_B, 1, 0, 1),
    ]
    assert [(b.bounce_type, b.reason, b.bounces, b.example) for b in report.bounce_reasons] == [
        ("hard", "HardBounce", 2, HARD_CY),  # the smallest example of the two
        ("soft", "Mailbox full", 1, "452 4.2.2 mailbox full"),
    ]


def test_per_recipient_rows(scenario: Scenario) -> None:
    rows = {r.email: r for r in iter_recipients(scenario.engine, scenario.send_id)}
    assert list(rows) == list(PEOPLE)  # in message order
    ana = rows["ana@harbor.example"]
    assert (ana.status, ana.outlet, ana.sent_at) == ("clicked", "Harbor Herald", T0)
    assert (ana.delivered_at, ana.opened_at) == (T0 + minutes(1), T0 + minutes(5))
    assert (ana.opens_human, ana.opens_machine, ana.clicks_human, ana.clicks_machine) == (
        2,
        1,
        3,
        0,
    )
    assert rows["cy@wire.example"].reason == f"hard bounce: HardBounce ({HARD_CY})"
    assert rows["di@wire.example"].status == "bounced"
    assert rows["ed@gazette.example"].status == "complained"
    assert rows[SUPPRESSED].status == "suppressed"
    assert rows[SUPPRESSED].reason == "suppressed: complaint"
    assert rows[SUPPRESSED].sent_at is None


def test_sent_minutes_are_counted_live_while_sending_then_kept(scenario: Scenario) -> None:
    engine, send_id = scenario.engine, scenario.send_id

    def snapshot() -> tuple[Any, ...] | None:
        with Session(engine) as session:
            row = session.get(ReportSnapshot, send_id)
            return None if row is None else (row.audience_at is not None, row.sent_key)

    build_report(engine, send_id)
    assert snapshot() == (True, None)  # still sending: the audience is kept, sent is live
    finish(engine, send_id)
    assert build_report(engine, send_id).timeline.minutes[0].sent == 3
    kept = snapshot()
    assert kept is not None
    assert kept[1]
    # Staff find a lost message was sent after all: the status counts change, sent is recounted.
    with engine.begin() as conn:
        conn.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == scenario.ids["cy@wire.example"])
            .values(status="failed", sent_at=None)
        )
    report = build_report(engine, send_id)
    assert [p.sent for p in report.timeline.minutes][:2] == [2, 2]
    assert report.failed == 1
    assert snapshot() != kept


def test_a_report_before_the_send_fires_is_empty(any_engine: Engine) -> None:
    add_people(any_engine, {"zoe@harbor.example": ("Harbor Herald", "West", [])})
    release = add_release(any_engine)
    assert release.id is not None
    settings = make_settings(any_engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        any_engine,
        settings,
        release_id=release.id,
        audience=Audience(lists=["press"]),
        now=T0,
        at=T0 + timedelta(days=1),
    )
    assert send.id is not None
    report = build_report(any_engine, send.id)
    assert (report.status, report.recipients, report.sent, report.delivered) == (
        "scheduled",
        0,
        0,
        0,
    )
    assert report.timeline.minutes == ()
    assert all(rows == () for rows in report.breakdowns.values())
    assert report.rates.open_rate is None


def test_unknown_send_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="no send 42"):
        build_report(engine, 42)


def test_times_follow_the_release_zone_unless_told(engine: Engine) -> None:
    add_people(engine, {"zoe@harbor.example": ("Harbor Herald", "West", [])})
    release = add_release(engine, embargo_tz="Europe/Paris")
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=T0
    )
    assert send.id is not None
    assert build_report(engine, send.id).zone == "Europe/Paris"
    assert build_report(engine, send.id, zone="Asia/Tokyo").zone == "Asia/Tokyo"


def test_sends_list_headline_figures_newest_first(scenario: Scenario) -> None:
    engine = scenario.engine
    other = start_send(engine, title="A second release")
    lines = list_sends(engine)
    assert [line.send_id for line in lines] == [other, scenario.send_id]
    first = lines[1]
    assert (first.recipients, first.delivered, first.bounced) == (6, 3, 2)
    assert (first.open_rate, first.click_rate) == (0.6667, 0.6667)
    assert [line.send_id for line in list_sends(engine, limit=1)] == [other]
    finish(engine, scenario.send_id)
    assert [line.send_id for line in list_sends(engine, status="sent")] == [scenario.send_id]


def test_prepare_report_counts_the_audience_ahead_of_the_first_report(
    scenario: Scenario,
) -> None:
    engine, send_id = scenario.engine, scenario.send_id
    finish(engine, send_id)
    prepare_report(engine, send_id)
    with Session(engine) as session:
        kept = session.get(ReportSnapshot, send_id)
        assert kept is not None
        assert kept.audience_at is not None
        assert kept.sent_key
        audience_at = kept.audience_at
    assert build_report(engine, send_id).breakdowns["outlet"][0].counts.recipients == 2
    with Session(engine) as session:
        again = session.get(ReportSnapshot, send_id)
        assert again is not None
        assert again.audience_at == audience_at  # counted once, not again
    with pytest.raises(NotFoundError):
        prepare_report(engine, 999)


def test_worker_housekeeping_prepares_finished_sends(scenario: Scenario) -> None:
    engine, send_id = scenario.engine, scenario.send_id
    assert sends_to_prepare(engine) == []  # still sending: its sent minutes are counted live
    finish(engine, send_id)
    assert sends_to_prepare(engine) == [send_id]
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    Worker(settings, engine).housekeeping()
    assert sends_to_prepare(engine) == []
    with Session(engine) as session:
        kept = session.get(ReportSnapshot, send_id)
        assert kept is not None
        assert kept.audience_at is not None
        assert kept.sent_key
