"""Benchmark: SendGrid Event Webhook batches of 1000 events into `distro serve`, over loopback.

The receiver is what production runs: a ``distro serve`` process (SQLite by default) with a
SendGrid provider whose Signed Event Webhook key was made here. The database holds one fired
send whose messages were handed over to that provider. Every POST carries 1000 events shaped as
SendGrid sends them (processed, delivered, open, click for 250 messages; our id in custom_args),
signed with ECDSA over timestamp + body; each run posts new events, ``--concurrency`` requests
at a time. Prints events per second for each run and the median, after checking that every
event was stored and matched.

    .venv/bin/python bench/bench_webhooks.py [--messages 25000] [--runs 3] [--concurrency 2]
        [--postgres]
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select, update
from sqlmodel import col

from bench.common import DISTRO, database, free_port, populate_audience
from distro.config import BUILT_IN, Settings
from distro.db import make_engine
from distro.models import Event, Message, MessageStatus
from distro.models.types import utcnow
from distro.providers.base import MESSAGE_ID_KEY
from distro.sending.expand import fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking import signatures

SECRET = secrets.token_urlsafe(32)
BATCH = 1000  # SendGrid's most per POST
KINDS = ("processed", "delivered", "open", "click")
PER_REQUEST = 1000  # recipients per SendGrid request: one X-Message-Id for each thousand


def settings_for(database_url: str, public_key: str) -> Settings:
    return Settings.model_validate(
        {
            **BUILT_IN,
            "database": {"url": database_url},
            "server": {"secret_key": SECRET},
            "providers": {
                **BUILT_IN["providers"],
                "sg": {"type": "sendgrid", "api_key": "SG.bench", "webhook_public_key": public_key},
            },
        }
    )


def populate(engine: Engine, settings: Settings, messages: int) -> list[tuple[int, str, str]]:
    """One fired send to ``messages`` contacts through "sg", handed over (status sent); return
    (message id, email, X-Message-Id) of each."""
    now = utcnow()
    release_id = populate_audience(engine, messages, now)
    send = schedule_send(
        engine,
        settings,
        release_id=release_id,
        audience=Audience(["bench"]),
        now=now,
        provider="sg",
    )
    assert send.id is not None
    fire_send(engine, settings, send.id, now)
    table = Message.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        rows = conn.execute(select(table.c.id, table.c.email).order_by(table.c.id)).all()
        handed = [(i, e, f"bench{index // PER_REQUEST:06d}") for index, (i, e) in enumerate(rows)]
        for start in range(0, len(handed), PER_REQUEST):
            group = handed[start : start + PER_REQUEST]
            conn.execute(
                update(table)
                .where(table.c.id.in_([g[0] for g in group]))
                .values(status=MessageStatus.SENT, provider_message_id=group[0][2], sent_at=now)
            )
    return handed


def write_config(folder: Path, database_url: str, port: int, public_key: str) -> None:
    (folder / "config.toml").write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[server]\nport = {port}\nsecret_key = "{SECRET}"\n'
        '[providers.sandbox]\ntype = "sandbox"\n'
        f'[providers.sg]\ntype = "sendgrid"\napi_key = "SG.bench"\n'
        f'webhook_public_key = "{public_key}"\n',
        encoding="utf-8",
    )


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [DISTRO, "serve"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.post(f"http://127.0.0.1:{port}/webhooks/none", timeout=2)
            return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"distro serve did not start: {process.stderr}") from None
            time.sleep(0.2)


def bodies(handed: list[tuple[int, str, str]]) -> list[bytes]:
    """Batches of 1000 new events: four per message, in the order SendGrid reports them."""
    now = int(time.time())
    events = [
        {
            "email": email,
            "timestamp": now,
            "smtp-id": f"<{provider_id}@ismtpd-bench>",
            "event": kind,
            "category": ["release"],
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": f"{provider_id}.filterdrecv-bench-{index}.0",
            MESSAGE_ID_KEY: str(message_id),
            **(
                {"useragent": "Mozilla/5.0", "ip": "192.0.2.1"}
                if kind in ("open", "click")
                else {"response": "250 2.0.0 OK"}
            ),
            **({"url": "https://acme.example/news"} if kind == "click" else {}),
        }
        for index, (message_id, email, provider_id) in enumerate(handed)
        for kind in KINDS
    ]
    return [json.dumps(events[i : i + BATCH]).encode() for i in range(0, len(events), BATCH)]


def one_run(url: str, private_key: str, batches: list[bytes], concurrency: int) -> float:
    """Events per second posting ``batches``; raises unless each was stored whole."""
    timestamp = str(int(time.time()))
    requests = [
        (
            body,
            {
                "Content-Type": "application/json",
                signatures.SENDGRID_SIGNATURE_HEADER: signatures.sign_sendgrid(
                    private_key, timestamp, body
                ),
                signatures.SENDGRID_TIMESTAMP_HEADER: timestamp,
            },
        )
        for body in batches
    ]
    with httpx.Client(base_url=url, timeout=120) as client:

        def post(request: tuple[bytes, dict[str, str]]) -> int:
            answer = client.post("/webhooks/sendgrid", content=request[0], headers=request[1])
            answer.raise_for_status()
            stored: int = answer.json()["stored"]
            return stored

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            stored = sum(pool.map(post, requests))
        elapsed = time.perf_counter() - started
    expected = sum(len(json.loads(b)) for b in batches)
    if stored != expected:
        raise RuntimeError(f"{stored} of {expected} events stored")
    return expected / elapsed


def matched(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        total, with_message = conn.execute(
            select(func.count(), func.count(col(Event.message_id)))
        ).one()
    return int(total), int(with_message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=25_000, help="messages per run's events")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="POSTs in flight at once")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432")
    args = parser.parse_args()
    private_key, public_key = signatures.generate_sendgrid_key()
    with (
        tempfile.TemporaryDirectory(prefix="distro-bench-webhooks-") as name,
        database(Path(name), args.postgres) as url,
    ):
        folder = Path(name)
        engine = make_engine(url)
        handed = populate(engine, settings_for(url, public_key), args.messages)
        port = free_port()
        write_config(folder, url, port, public_key)
        server = start_server(folder, port)
        rates: list[float] = []
        try:
            for run in range(1, args.runs + 1):
                batches = bodies(handed)  # new event ids every run
                rate = one_run(f"http://127.0.0.1:{port}", private_key, batches, args.concurrency)
                rates.append(rate)
                events = len(batches) * BATCH
                print(
                    f"run {run}: {events} events in {len(batches)} POSTs of {BATCH}, "
                    f"{args.concurrency} at a time: {rate:,.0f} events/s",
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        total, with_message = matched(engine)
        engine.dispose()
    if with_message != total:
        raise RuntimeError(f"only {with_message} of {total} events matched their message")
    database_name = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"median of {args.runs}: {statistics.median(rates):,.0f} events/s "
        f"({database_name}, {total:,} events stored, all matched)"
    )


if __name__ == "__main__":
    main()
