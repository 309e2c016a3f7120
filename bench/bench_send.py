"""Benchmark: one send to N recipients through the sandbox in a separate process, over loopback.

The sender is what production runs: ``distro worker`` processes (one by default), started before
the send is due, with the sandbox as a separate ``distro sandbox --no-webhooks`` process speaking
Postmark's batch API. Prints, per run and as the median of the runs: time from the send's due
moment to the first and to the last message accepted by the provider, messages per second, and
the peak RSS of the sender process. Then, in the same run, the naive way (each message rendered
in full and sent with its own HTTP request to ``/email``) on a sample of the recipients, and the
ratio between the two rates.

    .venv/bin/python bench/bench_send.py [--recipients 100000] [--runs 3] [--workers 1]
        [--naive 2000] [--postgres] [--latency SECONDS --in-flight N]

``--latency`` makes every answer of the sandbox take that long (a provider far away, or a slow
one) and ``--in-flight`` caps each worker's requests in flight: then throughput is bound by the
provider, not by this machine's two cores, and adding workers shows how sending scales out.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bench.common import DISTRO, database, free_port, populate_audience
from distro.config import BUILT_IN, Settings
from distro.db import make_engine, reading
from distro.models import Contact, Message, Release, Send, SendStatus
from distro.models.types import utcnow
from distro.providers.base import OutboundEmail
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkSigner

TOKEN = "bench-server-token"  # noqa: S105 - the local sandbox's token, guards nothing
SECRET = secrets.token_urlsafe(32)


def start_sandbox(port: int, folder: Path, latency: float = 0) -> subprocess.Popen[bytes]:
    (folder / "sandbox.toml").write_text(
        f'[providers.sandbox]\ntype = "sandbox"\nserver_token = "{TOKEN}"\n', encoding="utf-8"
    )
    process = subprocess.Popen(
        [
            DISTRO,
            "--config",
            "sandbox.toml",
            "sandbox",
            "--port",
            str(port),
            "--no-webhooks",
            "--max-stored",
            "5000",
            *(["--fault-slow", "1", "--slow-seconds", str(latency)] if latency else []),
        ],  # recipient counts cover every message; only the newest 5,000 bodies are kept
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/messages?limit=1", timeout=2)
            return process
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def settings_for(database_url: str, sandbox_port: int) -> Settings:
    return Settings.model_validate(
        {
            **BUILT_IN,
            "database": {"url": database_url},
            "server": {"secret_key": SECRET},
            "providers": {
                "sandbox": {
                    "type": "sandbox",
                    "base_url": f"http://127.0.0.1:{sandbox_port}",
                    "server_token": TOKEN,
                }
            },
            "scheduler": {"poll_seconds": 0.2},
        }
    )


def write_config(folder: Path, database_url: str, sandbox_port: int, in_flight: int) -> None:
    (folder / "config.toml").write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[server]\nsecret_key = "{SECRET}"\n'
        "[scheduler]\npoll_seconds = 0.2\n"
        "[providers.sandbox]\n"
        f'type = "sandbox"\nbase_url = "http://127.0.0.1:{sandbox_port}"\n'
        f'server_token = "{TOKEN}"\nmax_in_flight = {in_flight}\n',
        encoding="utf-8",
    )


def peak_rss_kb(pid: int) -> int:
    """A live process's peak resident set (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def send_status(engine: Engine, send_id: int) -> str:
    """The send's status: one row, so polling costs the send nothing (counting its messages
    would scan them all, and a long read keeps SQLite from checkpointing its log)."""
    with reading(engine) as conn:
        return str(conn.scalar(select(col(Send.status)).where(col(Send.id) == send_id)))


def one_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="distro-bench-") as name:
        folder = Path(name)
        port = free_port()
        sandbox = start_sandbox(port, folder, args.latency)
        try:
            with database(folder, args.postgres) as url:
                return _send(folder, url, port, args)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)


def _send(folder: Path, url: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    recipients = args.recipients
    settings = settings_for(url, port)
    engine = make_engine(url)
    release_id = populate_audience(engine, recipients, utcnow())
    write_config(folder, url, port, args.in_flight)
    senders = [
        subprocess.Popen([DISTRO, "worker"], cwd=folder, stdout=subprocess.DEVNULL)
        for _ in range(args.workers)
    ]
    try:
        time.sleep(3)  # the workers are up and idle before the send is due, as in production
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
        deadline = time.monotonic() + 3600
        while send_status(engine, send.id) in (SendStatus.SCHEDULED, SendStatus.SENDING):
            if time.monotonic() > deadline or any(s.poll() is not None for s in senders):
                raise RuntimeError("the send did not complete")
            time.sleep(0.2)
        peak_kb = max(peak_rss_kb(sender.pid) for sender in senders)
    finally:
        for sender in senders:
            sender.send_signal(signal.SIGTERM)
        for sender in senders:
            sender.wait(timeout=60)
    with engine.connect() as conn:
        sent_at = col(Message.sent_at)
        first, last, sent = conn.execute(
            select(func.min(sent_at), func.max(sent_at), func.count(sent_at)).where(
                col(Message.send_id) == send.id
            )
        ).one()
    if sent != recipients:
        raise RuntimeError(f"the send ended with {sent} of {recipients} messages sent")
    engine.dispose()
    assert first is not None
    assert last is not None
    to_last = (last - due).total_seconds()
    return {
        "first_s": (first - due).total_seconds(),
        "last_s": to_last,
        "per_s": recipients / to_last,
        "rss_mb": peak_kb / 1024,
    }


def naive_rate(messages: int) -> float:
    """Messages/s rendering each in full and posting each alone to the sandbox's ``/email``."""
    with tempfile.TemporaryDirectory(prefix="distro-bench-naive-") as name:
        folder = Path(name)
        port = free_port()
        sandbox = start_sandbox(port, folder)
        try:
            settings = settings_for(f"sqlite:///{folder / 'naive.db'}", port)
            engine = make_engine(settings.database.url)
            release_id = populate_audience(engine, messages, utcnow())
            with Session(engine) as session:
                release = session.get(Release, release_id)
                assert release is not None
                composer = Composer(
                    settings, make_environment(), LinkSigner(SECRET), release, "release"
                )
                contacts = session.scalars(select(Contact).order_by(col(Contact.id))).all()
            composer.prepared.compiled = None  # the naive way: every recipient rendered in full
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"X-Postmark-Server-Token": TOKEN}
            ) as client:
                started = time.perf_counter()
                for message_id, contact in enumerate(contacts, start=1):
                    response = client.post(
                        "/email", json=_postmark(composer.compose(message_id, contact))
                    )
                    response.raise_for_status()
                elapsed = time.perf_counter() - started
            engine.dispose()
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)
    return messages / elapsed


def _postmark(email: OutboundEmail) -> dict[str, object]:
    return {
        "From": email.sender,
        "To": email.recipient,
        "Subject": email.subject,
        "HtmlBody": email.html,
        "TextBody": email.text,
        "Headers": [{"Name": k, "Value": v} for k, v in email.headers.items()],
        "MessageStream": "broadcast",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="distro worker processes")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432")
    parser.add_argument(
        "--naive", type=int, default=2000, help="recipients sent the naive way (0: skip)"
    )
    parser.add_argument("--latency", type=float, default=0, help="seconds per sandbox answer")
    parser.add_argument("--in-flight", type=int, default=4, help="requests in flight per worker")
    args = parser.parse_args()
    results = []
    for run in range(1, args.runs + 1):
        result = one_run(args)
        results.append(result)
        print(
            f"run {run}: {args.recipients} recipients; first message {result['first_s']:.2f} s, "
            f"last {result['last_s']:.2f} s after due; {result['per_s']:.0f} messages/s; "
            f"peak RSS {result['rss_mb']:.0f} MB",
            flush=True,
        )
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print(
        f"median of {args.runs}: first message {median['first_s']:.2f} s, "
        f"last {median['last_s']:.2f} s after due; {median['per_s']:.0f} messages/s; "
        f"peak RSS {median['rss_mb']:.0f} MB"
    )
    if args.naive:
        naive = naive_rate(args.naive)
        print(
            f"naive (full render + one request per message, {args.naive} messages): "
            f"{naive:.0f} messages/s; batched engine is {median['per_s'] / naive:.1f}x faster"
        )


if __name__ == "__main__":
    main()
