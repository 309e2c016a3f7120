"""Benchmark: one send to N recipients through the sandbox in a separate process, over loopback.

Prints, per run and as the median of the runs: time from the send's due moment to the first and
to the last message accepted by the provider, messages per second, and the peak RSS of this
(the sender's) process. The database is a fresh SQLite file per run.

    .venv/bin/python bench/bench_send.py [--recipients 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, insert, literal, select
from sqlmodel import Session, col

from distro.config import BUILT_IN, Settings
from distro.db import make_engine, reading, upgrade
from distro.models import Contact, ContactList, ListMember, Message
from distro.models.types import utcnow
from distro.releases.lifecycle import approve
from distro.releases.service import create_sample_release
from distro.runtime import Worker
from distro.sending.schedule import Audience, schedule_send


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_sandbox(port: int, folder: Path) -> subprocess.Popen[bytes]:
    distro = str(Path(sys.executable).parent / "distro")
    process = subprocess.Popen(
        [distro, "sandbox", "--port", str(port), "--no-webhooks"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/messages", timeout=2)
            return process
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def populate(settings: Settings, recipients: int) -> int:
    engine = make_engine(settings.database.url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(Contact.__table__),  # type: ignore[attr-defined]
            [
                {
                    "email": f"reporter{i}@outlet{i % 97}.example",
                    "first_name": f"Reporter{i}",
                    "last_name": "Bench",
                    "outlet": f"Outlet {i % 97}",
                    "title": "",
                    "region": "",
                    "country": "",
                    "language": "en",
                    "timezone": "",
                    "notes": "",
                    "custom": {},
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(recipients)
            ],
        )
        conn.execute(
            insert(ContactList.__table__),  # type: ignore[attr-defined]
            [{"name": "bench", "description": "", "created_at": now}],
        )
        conn.execute(
            insert(ListMember.__table__).from_select(  # type: ignore[attr-defined]
                ["list_id", "contact_id", "added_at"],
                select(literal(1), col(Contact.id), col(Contact.created_at)),
            )
        )
    with Session(engine, expire_on_commit=False) as session:
        release = create_sample_release(session)
        approve(release)
        session.add(release)
        session.commit()
    engine.dispose()
    assert release.id is not None
    return release.id


def sent_count(engine: Engine, send_id: int) -> int:
    """How many were accepted so far: a cheap read, so polling does not slow the send."""
    with reading(engine) as conn:
        return int(
            conn.scalar(
                select(func.count(col(Message.sent_at))).where(col(Message.send_id) == send_id)
            )
            or 0
        )


def one_run(recipients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="distro-bench-") as name:
        folder = Path(name)
        port = free_port()
        sandbox = start_sandbox(port, folder)
        try:
            settings = Settings.model_validate(
                {
                    **BUILT_IN,
                    "database": {"url": f"sqlite:///{folder / 'bench.db'}"},
                    "server": {"secret_key": secrets.token_urlsafe(32)},
                    "providers": {
                        "sandbox": {"type": "sandbox", "base_url": f"http://127.0.0.1:{port}"}
                    },
                    "scheduler": {"poll_seconds": 0.2},
                }
            )
            release_id = populate(settings, recipients)
            engine = make_engine(settings.database.url)
            due = utcnow() + timedelta(seconds=2)
            send = schedule_send(
                engine,
                settings,
                release_id=release_id,
                audience=Audience(["bench"]),
                at=due,
                now=utcnow(),
            )
            assert send.id is not None
            worker = Worker(settings, engine).start()
            try:
                while sent_count(engine, send.id) < recipients:
                    time.sleep(0.2)
            finally:
                worker.stop()
            with engine.connect() as conn:
                sent_at = col(Message.sent_at)
                first, last = conn.execute(
                    select(func.min(sent_at), func.max(sent_at)).where(
                        col(Message.send_id) == send.id
                    )
                ).one()
            engine.dispose()
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)
    assert first is not None
    assert last is not None
    to_last = (last - due).total_seconds()
    return {
        "first_s": (first - due).total_seconds(),
        "last_s": to_last,
        "per_s": recipients / to_last,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for run in range(1, args.runs + 1):
        result = one_run(args.recipients)
        results.append(result)
        print(
            f"run {run}: {args.recipients} recipients; first message {result['first_s']:.2f} s, "
            f"last {result['last_s']:.2f} s after due; {result['per_s']:.0f} messages/s; "
            f"peak RSS {result['rss_mb']:.0f} MB"
        )
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print(
        f"median of {args.runs}: first message {median['first_s']:.2f} s, "
        f"last {median['last_s']:.2f} s after due; {median['per_s']:.0f} messages/s; "
        f"peak RSS {median['rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
