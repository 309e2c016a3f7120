"""Benchmark: segment preview counts (``count_matching``) over N contacts.

Builds N contacts (default 1,000,000) with beats, tags, a custom field, list memberships, sent
messages and tracking events in a temporary SQLite file and, when the server answers, a temporary
PostgreSQL database (``distro_bench_<random>``, dropped afterwards); migrates with
``distro.db.upgrade``, bulk-loads (executemany on SQLite, COPY on PostgreSQL), runs ANALYZE, then
prints the median of 5 timings of ``count_matching`` for each expression on each backend.

    .venv/bin/python bench/bench_segments.py [--contacts 1000000] [--runs 5] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, Table, insert, text

from distro.audience.segments import count_matching
from distro.db import make_engine, upgrade
from distro.models import Release, Send

RELEASES_TABLE: Table = Release.__table__  # type: ignore[attr-defined]
SENDS_TABLE: Table = Send.__table__  # type: ignore[attr-defined]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EXPRESSIONS = (
    'beats has "immigration" and region in ("CA", "TX") and not tags has "do-not-contact"',
    'outlet ~ "times" and title ~ "editor" and language = "en"',
    'in_list("tier-1") and opened(within 30d) and not bounced',
    'received(release = 2) and not clicked(within 90d) or custom.desk = "metro" and '
    'country != "US"',
)
REGIONS = [
    "CA",
    "TX",
    "NY",
    "FL",
    "WA",
    "IL",
    "MA",
    "GA",
    "OR",
    "CO",
    *[f"R{i}" for i in range(40)],
]
BEATS = [
    "immigration",
    "politics",
    "health",
    "business",
    "technology",
    "climate",
    "education",
    "sports",
    "culture",
    "science",
    *[f"beat{i}" for i in range(30)],
]
TAGS = ["do-not-contact", "embargo-trusted", "vip", "freelance", "broadcast", "print"]
TITLES = ["Reporter", "Editor", "Senior Editor", "Correspondent", "Producer", "Columnist"]
DESKS = ["metro", "national", "foreign", "business", "features", "sports"]
OUTLET_WORDS = ["The", "Daily", "Evening"]
OUTLET_NAMES = ["Times", "Post", "Herald", "Star", "Journal"]
RELEASES = 3
SENT_PER_RELEASE = 0.2  # share of contacts each release was sent to
BATCH = 50_000


def contact_rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    created = NOW - timedelta(days=400)
    for i in range(1, count + 1):
        outlet = f"{rng.choice(OUTLET_WORDS)} {rng.choice(OUTLET_NAMES)} {i % 997}"
        yield (
            i,
            f"reporter{i}@outlet{i % 5000}.example",
            f"First{i % 3000}",
            f"Last{i % 7000}",
            outlet,
            rng.choice(TITLES),
            rng.choice(REGIONS),
            "US" if rng.random() < 0.7 else rng.choice(["CA", "GB", "DE", "FR", "MX"]),
            "en" if rng.random() < 0.8 else rng.choice(["es", "fr", "de"]),
            "America/New_York",
            "",
            json.dumps({"desk": rng.choice(DESKS)}),
            "active" if rng.random() < 0.95 else "bounced",
            created,
            created,
        )


def pair_rows(
    count: int, rng: random.Random, values: Sequence[str], mean: float
) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        k = min(len(values), int(rng.expovariate(1 / mean))) if mean else 0
        for value in rng.sample(values, k):
            yield (i, value)


def member_rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        if rng.random() < 0.05:
            yield (1, i, NOW)
        if rng.random() < 0.3:
            yield (2, i, NOW)


def message_and_event_rows(
    count: int, rng: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    messages: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    statuses = ["delivered", "opened", "clicked", "bounced", "failed", "suppressed"]
    weights = [50, 25, 10, 5, 5, 5]
    for send_id in range(1, RELEASES + 1):
        sent_at = NOW - timedelta(days=20 * send_id)
        for contact_id in rng.sample(range(1, count + 1), int(count * SENT_PER_RELEASE)):
            message_id = len(messages) + 1
            status = rng.choices(statuses, weights)[0]
            messages.append(
                (
                    message_id,
                    send_id,
                    contact_id,
                    f"r{contact_id}@x.example",
                    status,
                    "postmark",
                    0,
                    sent_at,
                    sent_at,
                )
            )
            kinds = {"opened": ["opened"], "clicked": ["opened", "clicked"], "bounced": ["bounced"]}
            for kind in kinds.get(status, []):
                at = sent_at + timedelta(hours=rng.randint(1, 72))
                events.append(
                    (
                        len(events) + 1,
                        message_id,
                        "postmark",
                        f"e{len(events) + 1}",
                        kind,
                        "",
                        at,
                        at,
                        "{}",
                    )
                )
    return messages, events


COLUMNS = {
    "contacts": (
        "id, email, first_name, last_name, outlet, title, region, country, language, timezone, "
        "notes, custom, status, created_at, updated_at"
    ),
    "contact_beats": "contact_id, beat",
    "contact_tags": "contact_id, tag",
    "list_members": "list_id, contact_id, added_at",
    "messages": "id, send_id, contact_id, email, status, provider, attempts, queued_at, updated_at",
    "events": (
        "id, message_id, provider, provider_event_id, type, recipient, occurred_at, received_at, "
        "detail"
    ),
}


def batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(engine: Engine, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    columns = COLUMNS[table]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" for _ in columns.split(","))
            cursor.execute("BEGIN")
            for batch in batches(rows):
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 (fixed names)
                    [tuple(_sqlite_value(v) for v in row) for row in batch],
                )
        else:
            pg_cursor: Any = cursor
            with pg_cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def build(engine: Engine, count: int) -> None:
    upgrade(engine)
    rng = random.Random(20260601)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lists (id, name, description, created_at) "
                "VALUES (1, 'tier-1', '', :t), (2, 'press', '', :t)"
            ),
            {"t": NOW},
        )
        for i in range(1, RELEASES + 1):
            conn.execute(
                insert(RELEASES_TABLE).values(
                    id=i, slug=f"r{i}", title=f"Release {i}", created_at=NOW, updated_at=NOW
                )
            )
            conn.execute(
                insert(SENDS_TABLE).values(
                    id=i,
                    release_id=i,
                    provider="postmark",
                    scheduled_at=NOW,
                    list_names=["press"],
                    created_at=NOW,
                )
            )
    load(engine, "contacts", contact_rows(count, rng))
    load(engine, "contact_beats", pair_rows(count, rng, BEATS, 1.5))
    load(engine, "contact_tags", pair_rows(count, rng, TAGS, 0.4))
    load(engine, "list_members", member_rows(count, rng))
    messages, events = message_and_event_rows(count, rng)
    load(engine, "messages", messages)
    load(engine, "events", events)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("contacts", "lists", "releases", "sends", "messages", "events"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))  # noqa: S608 (fixed table names)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def measure(engine: Engine, runs: int) -> list[tuple[str, int, float]]:
    results = []
    for expression in EXPRESSIONS:
        count_matching(engine, expression, NOW)  # warm the cache
        timings = []
        count = 0
        for _ in range(runs):
            start = time.perf_counter()
            count = count_matching(engine, expression, NOW)
            timings.append(time.perf_counter() - start)
        results.append((expression, count, statistics.median(timings)))
    return results


def report(backend: str, count: int, built: float, results: list[tuple[str, int, float]]) -> None:
    print(f"\n{backend}: {count:,} contacts (built in {built:.0f} s)")
    for expression, matched, seconds in results:
        print(f"  {seconds * 1000:8.1f} ms  {matched:>9,}  {expression}")


def run_sqlite(count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            start = time.perf_counter()
            build(engine, count)
            built = time.perf_counter() - start
            report("SQLite", count, built, measure(engine, runs))
        finally:
            engine.dispose()


def run_postgres(count: int, runs: int) -> None:
    name = f"distro_bench_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"\nPostgreSQL skipped: not reachable at {PG_ADMIN_URL} ({str(exc).strip()})")
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        start = time.perf_counter()
        build(engine, count)
        built = time.perf_counter() - start
        report("PostgreSQL", count, built, measure(engine, runs))
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        run_sqlite(args.contacts, args.runs)
    if not args.no_postgres:
        run_postgres(args.contacts, args.runs)


if __name__ == "__main__":
    main()
