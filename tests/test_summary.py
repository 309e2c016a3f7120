"""The event summary behind reports: kept by the store path, equal to a recount from the events
whatever order and batches they came in, exact under concurrent batches on PostgreSQL, and
rebuilt for events stored before it existed (migration 0007)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Table, select

from distro.db import MIGRATIONS, make_engine, upgrade, writing
from distro.models import (
    EventType,
    Message,
    MessageOutcome,
    ReportBounce,
    ReportLink,
    ReportRollup,
    ReportTimeline,
)
from distro.reports import build_report
from distro.tracking.detail import stored_detail
from distro.tracking.event import BounceKind, NormalisedEvent, Said
from distro.tracking.events import store_events
from distro.tracking.summary import StoredEvent, rebuild, record_outcomes
from distro.tracking.summary_fold import (
    MINUTE_COLUMNS,
    ROLLUP_COLUMNS,
    Outcome,
    apply,
    bounce_kind,
    contribution,
)
from tests.test_reports import (
    PEOPLE,
    T0,
    URL_A,
    add_people,
    build_scenario,
    hand_over,
    message_ids,
    start_send,
)

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
OUTCOMES: Table = MessageOutcome.__table__  # type: ignore[attr-defined]
ROLLUPS: Table = ReportRollup.__table__  # type: ignore[attr-defined]
TIMELINE: Table = ReportTimeline.__table__  # type: ignore[attr-defined]
LINKS: Table = ReportLink.__table__  # type: ignore[attr-defined]
BOUNCES: Table = ReportBounce.__table__  # type: ignore[attr-defined]


def summary(engine: Engine, by_email: dict[int, str] | None = None) -> dict[str, Any]:
    """Everything the event summary keeps (not the audience counts), comparable across
    databases: outcomes by recipient, rollups, minutes with something in them, links, reasons."""
    with engine.connect() as conn:
        outcomes = {
            (by_email or {}).get(row.message_id, row.message_id): tuple(row)[1:]
            for row in conn.execute(select(OUTCOMES))
        }
        rollups = {
            (row.dimension, row.value): tuple(row)[3:]
            for row in conn.execute(
                select(ROLLUPS.c.dimension, ROLLUPS.c.value, ROLLUPS.c.send_id).add_columns(
                    *(ROLLUPS.c[c] for c in ROLLUP_COLUMNS)
                )
            )
            if any(tuple(row)[3:])
        }
        minutes = {
            row[0]: tuple(row)[1:]
            for row in conn.execute(
                select(TIMELINE.c.minute, *(TIMELINE.c[c] for c in MINUTE_COLUMNS))
            )
            if any(tuple(row)[1:])
        }
        links = {
            tuple(row) for row in conn.execute(select(LINKS).with_only_columns(*list(LINKS.c)[1:]))
        }
        bounces = {tuple(row)[1:] for row in conn.execute(select(BOUNCES))}
    return {
        "outcomes": outcomes,
        "rollups": rollups,
        "minutes": minutes,
        "links": links,
        "bounces": bounces,
    }


def emails(engine: Engine, send_id: int) -> dict[int, str]:
    return {message_id: email for email, message_id in message_ids(engine, send_id).items()}


def test_the_summary_equals_a_recount_from_the_stored_events(any_engine: Engine) -> None:
    scenario = build_scenario(any_engine)
    kept = summary(any_engine)
    with writing(any_engine) as conn:
        assert rebuild(conn, [scenario.send_id]) == 19  # every stored event, the repeat once
    assert summary(any_engine) == kept
    assert kept["rollups"][("", "")] == (3, 1, 2, 2, 0, 2, 2, 1, 4, 1, 2, 2, 1, 4, 1, 1, 1, 0)


def scenario_events(ids: dict[str, int]) -> list[NormalisedEvent]:
    """A send's worth of mixed events for the PEOPLE, as one list."""
    rng = random.Random(7)
    events = []
    kinds: list[tuple[EventType, Said]] = [
        (EventType.DELIVERED, {}),
        (EventType.DEFERRED, {}),
        (EventType.OPENED, {}),
        (EventType.OPENED, {"machine": True}),
        (EventType.CLICKED, {"click_url": URL_A}),
        (EventType.CLICKED, {"click_url": "https://newsroom.example/c", "machine": True}),
        (EventType.BOUNCED, {"bounce_kind": BounceKind.SOFT, "reason": "Full"}),
        (EventType.BOUNCED, {"bounce_kind": BounceKind.HARD, "reason": "Gone"}),
        (EventType.COMPLAINED, {}),
        (EventType.UNSUBSCRIBED, {}),
        (EventType.REJECTED, {"reason": "Blocked"}),
    ]
    for i in range(120):
        kind, said = rng.choice(kinds)
        moment = T0 + timedelta(minutes=rng.uniform(0, 300))
        person = rng.choice(list(PEOPLE)[:5])
        events.append(
            NormalisedEvent(
                type=kind,
                provider_event_id=f"mix{i}",
                occurred_at=moment,
                recipient=person.upper(),  # as a provider may write it: still that person
                message_id=ids[person],
                **said,
            )
        )
    return events


def fresh_send(engine: Engine) -> tuple[int, dict[str, int]]:
    add_people(engine, PEOPLE)
    send_id = start_send(engine)
    ids = message_ids(engine, send_id)
    hand_over(engine, {ids[e]: T0 for e in PEOPLE})
    return send_id, ids


def test_order_and_batching_of_events_do_not_change_the_summary(tmp_path: Path) -> None:
    results = []
    for name, arrange in (
        ("together", lambda events: [events]),
        ("one by one, newest first", lambda events: [[e] for e in reversed(events)]),
        ("shuffled in sevens", lambda events: _shuffled_in(events, 7)),
    ):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        send_id, ids = fresh_send(engine)
        events = scenario_events(ids)
        for batch in arrange(events):
            store_events(engine, "sandbox", batch)
        store_events(engine, "sandbox", events[:40])  # retried deliveries change nothing
        results.append(summary(engine, emails(engine, send_id)))
        engine.dispose()
    assert results[0] == results[1] == results[2]
    assert results[0]["rollups"][("", "")] != (0,) * len(ROLLUP_COLUMNS)


def _shuffled_in(events: list[NormalisedEvent], size: int) -> list[list[NormalisedEvent]]:
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    return [shuffled[i : i + size] for i in range(0, len(shuffled), size)]


@pytest.mark.postgres
def test_concurrent_batches_on_postgresql_count_every_event_once(postgres_url: str) -> None:
    """Four threads fold batches for the same messages at once, each batch in its own
    transaction (as the store path calls it): no update is lost, none counted twice."""
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        send_id, ids = fresh_send(engine)
        targets = [ids[e] for e in list(PEOPLE)[:5]]
        batches = [
            [_random_event(n, b, i, targets) for i in range(30)]
            for n in range(4)
            for b in range(15)
        ]
        errors: list[BaseException] = []

        def worker(mine: list[list[StoredEvent]]) -> None:
            try:
                for batch in mine:
                    with writing(engine) as conn:
                        record_outcomes(conn, batch)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(batches[n::4],)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        expected: dict[int, Outcome] = {}
        for batch in batches:
            for item in batch:
                e = item.event
                apply(
                    expected.setdefault(item.message_id, Outcome()),
                    e.type,
                    e.occurred_at,
                    item.detail,
                )
        kept = summary(engine)
        assert kept["outcomes"] == {
            message_id: tuple(outcome.as_row().values()) for message_id, outcome in expected.items()
        }
        whole = [sum(column) for column in zip(*map(contribution, expected.values()), strict=True)]
        assert kept["rollups"][("", "")] == tuple(whole)
        assert (
            whole[ROLLUP_COLUMNS.index("opens_human")]
            + whole[ROLLUP_COLUMNS.index("opens_machine")]
            + whole[ROLLUP_COLUMNS.index("clicks_human")]
            + whole[ROLLUP_COLUMNS.index("clicks_machine")]
            == 4 * 15 * 30
        )
        assert build_report(engine, send_id).counts.opened == len(
            [o for o in expected.values() if o.opens or o.machine_opens]
        )
    finally:
        engine.dispose()


def _random_event(n: int, b: int, i: int, targets: list[int]) -> StoredEvent:
    rng = random.Random(f"{n}-{b}-{i}")
    event = NormalisedEvent(
        type=EventType.OPENED if rng.random() < 0.7 else EventType.CLICKED,
        provider_event_id=f"w{n}-{b}-{i}",
        occurred_at=T0 + timedelta(minutes=rng.uniform(0, 90)),
        machine=rng.random() < 0.3,
        click_url=URL_A,
    )
    return StoredEvent(0, rng.choice(targets), event, stored_detail(event))


def test_migration_0007_recounts_events_stored_before_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        scenario = build_scenario(engine)
        before = build_report(engine, scenario.send_id).as_dict()
        kept = summary(engine)
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")  # the summary tables and columns are gone
        upgrade(engine)  # 0007 copies outlets, regions and beats, and recounts the events
        assert summary(engine) == kept
        assert build_report(engine, scenario.send_id).as_dict() == before
    finally:
        engine.dispose()


def test_fold_rules() -> None:
    o = Outcome()
    apply(o, EventType.BOUNCED, T0, {"bounce_type": "soft", "reason": "Full"})
    apply(o, EventType.BOUNCED, T0 - timedelta(minutes=1), {"reason": "Gone"})  # no kind: hard
    apply(o, EventType.BOUNCED, T0 + timedelta(minutes=1), {"bounce_type": "soft"})
    assert (o.bounce_type, o.bounced_at, o.reason) == (
        "hard",
        T0 - timedelta(minutes=1),
        "hard bounce: Gone",
    )
    apply(o, EventType.OPENED, T0, {"machine": "yes"})  # only True marks a machine
    apply(o, EventType.CLICKED, T0, {"url": URL_A})
    apply(o, EventType.CLICKED, T0, {"url": URL_A})
    assert (o.opens, o.machine_opens, o.clicks, o.clicked_urls) == (1, 0, 2, [URL_A])
    assert bounce_kind({"bounce_type": "SOFT"}) == "soft"
