"""Benchmark: the report of a send with 1,000,000 messages and 3,000,000 events.

Builds the data the way production would leave it, quickly: contacts over ~2,000 outlets with
beats and regions, a send expanded by the real ``fire_send`` (one INSERT ... SELECT, timed),
hand-over stamped set-based (1% failed), then events in bulk (delivered, deferred, bounces hard
and soft with reasons, human and machine opens and clicks over ~20 links, complaints,
unsubscribes). The summary is filled by ``distro.tracking.summary.rebuild``: the bulk path,
which folds each message's events with the same code ``record_outcomes`` runs at ingestion.
``record_outcomes`` itself is timed on batches of 1,000 events. Then it times ``build_report``:
the first report (which counts the audience once) and the median of ``--runs`` later ones, and
the HTML rendering separately.

    .venv/bin/python bench/bench_report.py [--messages 1000000] [--events 3000000] [--runs 5]
        [--postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text, update

from bench.common import CHUNK, add_bench_list, approved_release, contact_row, database
from distro.config import BUILT_IN, Settings
from distro.db import make_engine, reading, upgrade, writing
from distro.models import (
    Contact,
    ContactBeat,
    EventType,
    Message,
    Send,
    SendStatus,
    Suppression,
)
from distro.reports import build_report
from distro.reports.html import render_report
from distro.sending.expand import fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.detail import stored_detail
from distro.tracking.event import NormalisedEvent
from distro.tracking.summary import StoredEvent, rebuild, record_outcomes

BEATS = ("politics", "business", "tech", "health", "science", "sport", "culture", "climate")
REGIONS = tuple(f"Region {i}" for i in range(40))
BOUNCES = (
    ("hard", "HardBounce", "smtp; 550 5.1.1 <{}> user unknown"),
    ("hard", "BadDomain", "smtp; 550 5.1.2 host unknown"),
    ("hard", "Blocked", "smtp; 554 5.7.1 message rejected as spam"),
    ("soft", "MailboxFull", "smtp; 452 4.2.2 mailbox full"),
    ("soft", "Transient", "smtp; 421 4.4.2 connection timed out"),
    ("soft", "MessageTooLarge", "smtp; 552 5.3.4 message too big"),
)
LINKS = tuple(f"https://newsroom.example/releases/2026/item-{i}" for i in range(20))


def populate(engine: Engine, messages: int, outlets: int, rng: random.Random) -> int:
    """``messages`` contacts on one list (some suppressed), an approved release; its id."""
    upgrade(engine)
    now = datetime.now(UTC)
    contacts = Contact.__table__  # type: ignore[attr-defined]
    beats = ContactBeat.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for start in range(0, messages, CHUNK):
            ids = range(start, min(messages, start + CHUNK))
            conn.execute(
                insert(contacts),
                [
                    {
                        "id": i + 1,
                        **contact_row(i, now, outlets, REGIONS[(i // 7) % len(REGIONS)]),
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(beats),
                [
                    {"contact_id": i + 1, "beat": beat}
                    for i in ids
                    for beat in rng.sample(BEATS, rng.choice((0, 1, 1, 2, 2, 3)))
                ],
            )
        add_bench_list(conn, now)
        conn.execute(
            insert(Suppression.__table__),  # type: ignore[attr-defined]
            [
                {
                    "email": f"reporter{i}@outlet{i % outlets}.example",
                    "reason": "hard_bounce",
                    "source": "bench",
                    "note": "",
                    "created_at": now,
                }
                for i in range(0, messages, 200)  # 0.5% suppressed
            ],
        )
    return approved_release(engine)


def settings_for(url: str) -> Settings:
    return Settings.model_validate(
        {**BUILT_IN, "database": {"url": url}, "server": {"secret_key": "bench-" + "x" * 30}}
    )


def fire(engine: Engine, url: str, release_id: int) -> tuple[int, datetime, float]:
    """Schedule and fire the send through the real expansion; (send id, start, seconds)."""
    settings = settings_for(url)
    now = datetime.now(UTC) - timedelta(days=2)
    send = schedule_send(
        engine, settings, release_id=release_id, audience=Audience(["bench"]), now=now
    )
    assert send.id is not None
    started = time.perf_counter()
    fire_send(engine, settings, send.id, now)
    return send.id, now, time.perf_counter() - started


_SENT_AT = {  # message ids in order, 10,000 a second from :start
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S', :start, '+' || ((id - :first) / 10000) || "
    "' seconds') || '.000000'",  # the UTC text SQLAlchemy stores on SQLite
    "postgresql": "CAST(:start AS timestamptz) + ((id - :first) / 10000) * interval '1 second'",
}
_HAND_OVER = (
    "UPDATE messages SET status = CASE WHEN id % 100 = 7 THEN 'failed' ELSE 'sent' END, "
    "sent_at = CASE WHEN id % 100 = 7 THEN NULL ELSE {sent_at} END, "
    "provider_message_id = 'pm-' || id WHERE send_id = :send AND status = 'queued'"
)


def hand_over(engine: Engine, send_id: int, start: datetime) -> None:
    """Stamp every queued message sent at 10,000 a second from ``start`` (1% failed)."""
    first = _first_id(engine, send_id)
    dialect = engine.dialect.name
    base: Any = (
        start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if dialect == "sqlite" else start
    )
    with writing(engine) as conn:
        conn.execute(
            text(_HAND_OVER.format(sent_at=_SENT_AT[dialect])),
            {"start": base, "first": first, "send": send_id},
        )
        sends = Send.__table__  # type: ignore[attr-defined]
        conn.execute(
            update(sends)
            .where(sends.c.id == send_id)
            .values(status=SendStatus.SENT, finished_at=start + timedelta(hours=1))
        )


def _first_id(engine: Engine, send_id: int) -> int:
    m = Message.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:
        return int(conn.scalar(select(func.min(m.c.id)).where(m.c.send_id == send_id)) or 0)


def sent_messages(engine: Engine, send_id: int) -> Iterator[tuple[int, str, datetime]]:
    m = Message.__table__  # type: ignore[attr-defined]
    query = (
        select(m.c.id, m.c.email, m.c.sent_at)
        .where(m.c.send_id == send_id, m.c.sent_at.is_not(None))
        .order_by(m.c.id)
    )
    with reading(engine) as conn:
        yield from conn.execute(query.execution_options(stream_results=True, yield_per=CHUNK))


def message_events(
    rng: random.Random, email: str, sent: datetime
) -> Iterator[tuple[str, datetime, dict[str, Any]]]:
    """A realistic story for one message (about 3 events on average)."""
    r = rng.random()
    if r < 0.03:  # bounced
        kind, reason, response = BOUNCES[rng.randrange(len(BOUNCES))]
        yield (
            EventType.BOUNCED,
            sent + timedelta(seconds=rng.randint(2, 600)),
            {"bounce_type": kind, "reason": reason, "mta_response": response.format(email)},
        )
        return
    delivered = sent + timedelta(seconds=rng.randint(1, 40))
    if rng.random() < 0.02:
        yield EventType.DEFERRED, sent + timedelta(seconds=1), {"mta_response": "451 try later"}
        delivered += timedelta(minutes=rng.randint(5, 90))
    yield EventType.DELIVERED, delivered, {"mta_response": "250 2.0.0 OK"}
    if rng.random() < 0.3:  # a privacy proxy fetches the pixel at once
        yield EventType.OPENED, delivered + timedelta(seconds=2), {"machine": True}
    if rng.random() < 0.12:  # a link scanner follows a link
        yield (
            EventType.CLICKED,
            delivered + timedelta(seconds=3),
            {"url": LINKS[0], "machine": True},
        )
    if rng.random() < 0.55:  # read by a person, once or a few times
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 5))):
            at = delivered + timedelta(minutes=rng.expovariate(1 / 240))
            yield EventType.OPENED, at, {"machine": False, "user_agent": "Mozilla/5.0"}
        if rng.random() < 0.35:
            for _ in range(rng.choice((1, 1, 2, 3))):
                at = delivered + timedelta(minutes=rng.expovariate(1 / 300))
                link = LINKS[min(int(rng.expovariate(0.25)), len(LINKS) - 1)]
                yield EventType.CLICKED, at, {"url": link, "machine": False}
    if rng.random() < 0.001:
        yield EventType.COMPLAINED, delivered + timedelta(hours=2), {"description": "spam"}
    if rng.random() < 0.005:
        yield EventType.UNSUBSCRIBED, delivered + timedelta(hours=1), {"scope": "all"}


def load_events(engine: Engine, send_id: int, target: int, rng: random.Random) -> int:
    """Insert about ``target`` events for the send's messages in bulk; return how many."""
    columns = (
        "message_id",
        "provider",
        "provider_event_id",
        "provider_message_id",
        "type",
        "recipient",
        "occurred_at",
        "received_at",
        "detail",
    )
    messages = list(sent_messages(engine, send_id))
    stories = [list(message_events(rng, email, sent)) for _, email, sent in messages]
    total = sum(len(s) for s in stories)
    while total < target:  # top up with more human opens, as a long tail of readers would
        i = rng.randrange(len(messages))
        sent = messages[i][2]
        stories[i].append((EventType.OPENED, sent + timedelta(hours=rng.uniform(1, 72)), {}))
        total += 1
    count = 0
    now = datetime.now(UTC)
    with writing(engine) as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        rows: list[tuple[Any, ...]] = []
        for (message_id, email, _), story in zip(messages, stories, strict=True):
            for kind, at, detail in story:
                if count >= target:
                    break
                count += 1
                occurred, received = _moments(engine, at, now)
                rows.append(
                    (
                        message_id,
                        "sandbox",
                        f"ev{count}",
                        f"pm-{message_id}",
                        str(kind),
                        email,
                        occurred,
                        received,
                        json.dumps(detail),
                    )
                )
            if len(rows) >= CHUNK:
                _write_rows(engine, raw, columns, rows)
                rows = []
        _write_rows(engine, raw, columns, rows)
    return count


def _moments(engine: Engine, at: datetime, now: datetime) -> tuple[Any, Any]:
    if engine.dialect.name == "sqlite":  # the text SQLAlchemy stores on SQLite, in UTC
        return (
            at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
            now.strftime("%Y-%m-%d %H:%M:%S.%f"),
        )
    return at, now


def _write_rows(
    engine: Engine, raw: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    cursor = raw.cursor()
    if engine.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO events ({names}) VALUES ({marks})", rows)  # noqa: S608
    else:
        with cursor.copy(f"COPY events ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.close()


def time_ingestion(engine: Engine, send_id: int, batches: int, rng: random.Random) -> float:
    """Events per second through ``record_outcomes`` alone, in batches of 1,000 as the store
    path hands them over (each batch in its own transaction)."""
    ids = [m for m, _, _ in sent_messages(engine, send_id)]
    base = datetime.now(UTC)
    started = time.perf_counter()
    for b in range(batches):
        stored = []
        for i in range(1000):
            human = rng.random() < 0.7
            kind = EventType.OPENED if rng.random() < 0.8 else EventType.CLICKED
            url = LINKS[rng.randrange(len(LINKS))] if kind == EventType.CLICKED else ""
            event = NormalisedEvent(kind, f"ingest-{b}-{i}", base, machine=not human, click_url=url)
            # The detail as the store writes it and hands it to the summary.
            stored.append(StoredEvent(0, rng.choice(ids), event, stored_detail(event)))
        with writing(engine) as conn:
            record_outcomes(conn, stored)
    return batches * 1000 / (time.perf_counter() - started)


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def one_database(args: argparse.Namespace, postgres: bool) -> None:
    rng = random.Random(6)
    with (
        tempfile.TemporaryDirectory(prefix="distro-bench-report-") as name,
        database(Path(name), postgres) as url,
    ):
        engine = make_engine(url)
        try:
            measure(engine, url, args, rng, "PostgreSQL" if postgres else "SQLite")
        finally:
            engine.dispose()


def measure(
    engine: Engine, url: str, args: argparse.Namespace, rng: random.Random, label: str
) -> None:
    release_id, seconds = timed(lambda: populate(engine, args.messages, args.outlets, rng))
    print(f"{label}: {args.messages:,} contacts with beats in {seconds:.1f} s", flush=True)
    send_id, start, seconds = fire(engine, url, release_id)
    print(f"{label}: fire_send expanded {args.messages:,} messages in {seconds:.1f} s")
    hand_over(engine, send_id, start)
    count, seconds = timed(lambda: load_events(engine, send_id, args.events, rng))
    print(f"{label}: {count:,} events stored in bulk in {seconds:.1f} s", flush=True)
    analyse(engine)

    def summarise() -> int:
        with writing(engine) as conn:
            return rebuild(conn, [send_id])

    read, seconds = timed(summarise)
    print(
        f"{label}: summary rebuilt from {read:,} events in {seconds:.1f} s "
        f"({read / seconds:,.0f} events/s, bulk path)",
        flush=True,
    )
    analyse(engine)
    report, first = timed(lambda: build_report(engine, send_id))
    warm = [timed(lambda: build_report(engine, send_id))[1] for _ in range(args.runs)]
    pages = [timed(lambda: render_report(report))[1] for _ in range(args.runs)]
    print(
        f"{label}: build_report first {first * 1000:.0f} ms (counts the audience once); "
        f"median of {args.runs}: {statistics.median(warm) * 1000:.0f} ms "
        f"(min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f}); "
        f"HTML rendering median {statistics.median(pages) * 1000:.0f} ms",
        flush=True,
    )
    c = report.counts
    print(
        f"{label}: report of {report.recipients:,} recipients: {report.sent:,} sent, "
        f"{report.delivered:,} delivered, {report.bounced:,} bounced, "
        f"{c.opened_human:,} opened by people, {c.opens_human + c.opens_machine:,} opens, "
        f"{c.clicks_human + c.clicks_machine:,} clicks, "
        f"{len(report.breakdowns['outlet']):,} outlets",
        flush=True,
    )
    if args.ingest:
        rate = time_ingestion(engine, send_id, args.ingest, rng)
        print(
            f"{label}: record_outcomes {rate:,.0f} events/s "
            f"({args.ingest} batches of 1,000, one transaction each)",
            flush=True,
        )


def analyse(engine: Engine) -> None:
    """Fresh planner statistics, as autovacuum and ANALYZE would leave them in production."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ingest", type=int, default=20, help="batches through record_outcomes")
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL at 127.0.0.1")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    if not args.no_sqlite:
        one_database(args, postgres=False)
    if args.postgres or args.no_sqlite:
        one_database(args, postgres=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
