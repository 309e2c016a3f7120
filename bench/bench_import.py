"""Benchmark: `import_contacts` of a generated journalist CSV into a fresh database.

The CSV has N rows with realistic columns (names with accents, outlet, title, beats, tags, time
zone, language, two custom columns), about 1% invalid addresses, 1% repeated addresses and 0.5%
internationalised addresses (the rest plain ASCII, as newsroom addresses are). Each run imports
it into a fresh SQLite file, and into a fresh PostgreSQL database (``distro_bench_<random>``,
dropped afterwards) when the server answers. Prints seconds, rows per second and this process's
CPU seconds per run, and the medians of the runs.

    .venv/bin/python bench/bench_import.py [--rows 100000] [--runs 3] [--no-postgres]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from distro.audience.importer import ImportReport, import_contacts
from distro.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("DISTRO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

FIRST = ["Lucía", "Tomás", "Siobhán", "Fatima", "Kenji", "Grace", "Nkechi", "José", "Björn", "Zoë"]
LAST = ["Kim", "Müller", "Okafor", "García", "Patel", "Dubois", "Cohen", "Chen", "López", "Smith"]
OUTLETS = [
    ("Chicago Tribune", "chicagotribune.com", "IL", "America/Chicago"),
    ("Texas Tribune", "texastribune.org", "TX", "America/Chicago"),
    ("Los Angeles Times", "latimes.com", "CA", "America/Los_Angeles"),
    ("Associated Press", "ap.org", "NY", "America/New_York"),
    ("El Nuevo Herald", "elnuevoherald.com", "FL", "America/New_York"),
    ("The Arizona Republic", "azcentral.com", "AZ", "America/Phoenix"),
    ("NPR", "npr.org", "DC", "America/New_York"),
    ("Univision 62", "univision.com", "TX", "America/Chicago"),
]
TITLES = ["Reporter", "Senior Reporter", "Editor", "Producer", "Columnist", "Freelance"]
BEATS = ["politics", "economy", "immigration", "health", "labor", "courts", "education", "local"]
TAGS = ["tier-1", "tier-2", "embargo-ok", "spanish", "tv"]
HEADERS = [
    "Email Address",
    "First Name",
    "Last Name",
    "Publication",
    "Title",
    "Beat(s)",
    "State",
    "Country",
    "Language",
    "Time zone",
    "Tags",
    "Twitter",
    "Source",
]


def ascii_fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    return "".join(c for c in decomposed if c.isascii())


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    emails: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            outlet, domain, region, zone = rng.choice(OUTLETS)
            roll = rng.random()
            if roll < 0.01:
                email = f"broken{i}@@{domain}" if i % 2 else f"no-at-sign-{i}"
            elif roll < 0.02 and emails:
                email = rng.choice(emails).upper()  # a repeat, spelt differently
            elif roll < 0.025:  # an internationalised address
                email = f"{first.lower()}.{last.lower()}{i}@{domain}"
                emails.append(email)
            else:  # most newsroom addresses are plain ASCII: tomas.muller@
                email = f"{ascii_fold(first)}.{ascii_fold(last)}{i}@{domain}"
                emails.append(email)
            writer.writerow(
                [
                    email,
                    first,
                    last,
                    outlet,
                    rng.choice(TITLES),
                    ";".join(rng.sample(BEATS, rng.randint(1, 3))),
                    region,
                    "US",
                    rng.choice(["en", "es"]),
                    zone,
                    "|".join(rng.sample(TAGS, rng.randint(0, 2))),
                    f"@{first.lower()}{i}",
                    rng.choice(["conference", "website", "referral"]),
                ]
            )


@contextmanager
def sqlite_database(folder: Path, run: int) -> Iterator[str]:
    yield f"sqlite:///{folder / f'bench-{run}.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"distro_bench_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def one_run(url: str, csv_path: Path) -> tuple[float, float, ImportReport]:
    """Wall seconds, this process's CPU seconds (steadier on a shared machine), the report."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        started, cpu = time.perf_counter(), time.process_time()
        report = import_contacts(engine, csv_path, list_name="bench")
        return time.perf_counter() - started, time.process_time() - cpu, report
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distro-bench-import-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "journalists.csv"
        write_csv(csv_path, args.rows)
        size = csv_path.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {size:.1f} MB CSV")
        backends: list[str] = ["sqlite"]
        if not args.no_postgres:
            if postgres_reachable():
                backends.append("postgresql")
            else:
                print(f"PostgreSQL not reachable at {PG_ADMIN_URL}: skipped")
        for backend in backends:
            seconds: list[float] = []
            cpu_seconds: list[float] = []
            for run in range(args.runs):
                database = (
                    sqlite_database(folder, run) if backend == "sqlite" else postgres_database()
                )
                with database as url:
                    elapsed, cpu, report = one_run(url, csv_path)
                seconds.append(elapsed)
                cpu_seconds.append(cpu)
                print(
                    f"{backend} run {run + 1}: {elapsed:.2f} s, {args.rows / elapsed:,.0f} rows/s, "
                    f"CPU {cpu:.2f} s "
                    f"(imported {report.imported:,}, duplicates {len(report.duplicates):,}, "
                    f"invalid {len(report.invalid):,})"
                )
            median = statistics.median(seconds)
            print(
                f"{backend} median of {args.runs}: {median:.2f} s, {args.rows / median:,.0f} rows/s"
                f", CPU {statistics.median(cpu_seconds):.2f} s"
            )


if __name__ == "__main__":
    main()
