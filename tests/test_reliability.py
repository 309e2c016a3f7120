"""Exactly-once under crashes, provider faults and several workers: real processes throughout.

Each test runs the sandbox as its own process (it must outlive the workers), prepares a send
in the database, then drives real ``distro worker`` processes: killing them with SIGKILL at
random moments mid-send, pointing them at a sandbox that injects faults, or running three at
once on PostgreSQL. The sandbox's own record of what it accepted is the judge: every recipient
exactly once, nobody skipped.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from distro.db import init_database, make_engine
from distro.models import Message, MessageStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.sending.queue import SENDS
from distro.sending.scheduling import Audience, schedule_send
from tests.cli_support import DISTRO, clean_env, free_port, run_process, wait_http
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

SECRET = "reliability-test-secret-key-0123456789abcdef"


@dataclass
class Rig:
    """A sandbox process, a database and a config file that workers share."""

    folder: Path
    database_url: str
    sandbox_url: str
    engine: Engine
    processes: list[subprocess.Popen[bytes]]

    def worker(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [DISTRO, "worker"],
            cwd=self.folder,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def finish(self, timeout: float = 180) -> None:
        """Run one last worker until nothing is left to do."""
        done = run_process(self.folder, "worker", "--exit-when-idle", timeout=timeout)
        assert done.returncode == 0, done.stderr

    def accepted(self) -> dict[str, int]:
        """Recipient address -> how many messages the sandbox accepted for it."""
        listing = httpx.get(f"{self.sandbox_url}/api/messages", timeout=30).json()
        counts: dict[str, int] = listing["recipients"]
        return counts

    def sandbox_state(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.sandbox_url}/api/messages", timeout=30).json()
        return state


def make_rig(
    folder: Path,
    database_url: str,
    *,
    sandbox_flags: tuple[str, ...] = (),
    rate_per_second: float = 0,
    timeout_seconds: float = 30,
) -> Rig:
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    provider = {
        "type": "sandbox",
        "base_url": sandbox_url,
        "rate_per_second": rate_per_second,
        "timeout_seconds": timeout_seconds,
    }
    sections: dict[str, Any] = {
        "server": {"secret_key": SECRET},
        "sending": {
            "batch_size": 50,
            "concurrency": 3,
            "lease_seconds": 5,
            # Longer than the slowest answer the sandbox gives (--slow-seconds): a lookup made
            # while the provider is still working on the request would wrongly find nothing.
            "reconcile_seconds": 3,
            "retry_base_seconds": 0.2,
            "retry_cap_seconds": 2,
            "max_attempts": 40,
        },
        "scheduler": {"poll_seconds": 0.2},
        "providers": {"sandbox": provider},
    }
    (folder / "config.toml").write_text(_toml(database_url, sections), encoding="utf-8")
    sandbox = subprocess.Popen(
        [DISTRO, "sandbox", "--port", str(port), "--no-webhooks", *sandbox_flags],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"{sandbox_url}/api/messages")
    init_database(database_url)
    engine = make_engine(database_url)
    return Rig(folder, database_url, sandbox_url, engine, [sandbox])


def _toml(database_url: str, sections: dict[str, Any]) -> str:
    lines = ["[database]", f'url = "{database_url}"']
    for name, values in sections.items():
        if name == "providers":
            for provider, settings in values.items():
                lines.append(f"[providers.{provider}]")
                lines += [f"{key} = {_value(value)}" for key, value in settings.items()]
            continue
        lines.append(f"[{name}]")
        lines += [f"{key} = {_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        for process in rig.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        rig.engine.dispose()


def schedule(rig: Rig, recipients: int) -> tuple[int, set[str]]:
    """A release and a list of ``recipients`` contacts, sent now; returns (send id, addresses)."""
    contacts = add_contacts(rig.engine, recipients)
    release = add_release(rig.engine)
    assert release.id is not None
    settings = make_settings(rig.database_url)
    send = schedule_send(
        rig.engine,
        settings,
        release_id=release.id,
        audience=Audience(lists=["press"]),
        now=utcnow(),
    )
    assert send.id is not None
    return send.id, {c.email for c in contacts}


def wait_for_progress(rig: Rig, above: int, timeout: float = 60) -> int:
    """Block until the sandbox has accepted more than ``above`` messages; return the count."""

    def progressed() -> int:
        total = sum(rig.accepted().values())
        return total if total > above else 0

    return wait_until(progressed, timeout=timeout, waiting_for=f"progress past {above} messages")


def assert_exactly_once(rig: Rig, send_id: int, addresses: set[str]) -> list[Message]:
    accepted = rig.accepted()
    duplicates = {address: n for address, n in accepted.items() if n > 1}
    assert duplicates == {}, f"sent more than once: {sorted(duplicates)[:10]}"
    missing = addresses - set(accepted)
    assert missing == set(), f"never sent: {sorted(missing)[:10]}"
    assert set(accepted) == addresses
    messages = messages_of(rig.engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.SENT}
    with Session(rig.engine) as session:
        send = session.get(Send, send_id)
        assert send is not None
        assert send.status == SendStatus.SENT
    return messages


def kill_during_send(rig: Rig, kills: int, seed: int) -> None:
    """Start a worker, let it send a little, SIGKILL it; ``kills`` times."""
    chance = random.Random(seed)
    seen = 0
    for _ in range(kills):
        worker = rig.worker()
        seen = wait_for_progress(rig, seen)
        time.sleep(chance.uniform(0.0, 0.4))
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL


def test_kill_9_mid_send_repeatedly_sqlite(tmp_path: Path, rigs: list[Rig]) -> None:
    """12 SIGKILLs at random moments of one send; the sandbox sees everyone exactly once."""
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path / 'distro.db'}", rate_per_second=400)
    rigs.append(rig)
    send_id, addresses = schedule(rig, 2000)
    kill_during_send(rig, kills=12, seed=1)
    rig.finish()
    assert_exactly_once(rig, send_id, addresses)


@pytest.mark.postgres
def test_kill_9_mid_send_repeatedly_postgres(
    tmp_path: Path, postgres_url: str, rigs: list[Rig]
) -> None:
    """10 more SIGKILLs, on PostgreSQL (claims with FOR UPDATE SKIP LOCKED)."""
    rig = make_rig(tmp_path, postgres_url, rate_per_second=400)
    rigs.append(rig)
    send_id, addresses = schedule(rig, 2000)
    kill_during_send(rig, kills=10, seed=2)
    rig.finish()
    assert_exactly_once(rig, send_id, addresses)


FAULT_FLAGS = (
    "--fault-429",
    "0.06",
    "--fault-500",
    "0.05",
    "--fault-503",
    "0.05",
    "--fault-slow",
    "0.05",
    "--slow-seconds",
    "2",
    "--fault-drop-before",
    "0.04",
    "--fault-drop-after",
    "0.05",
    "--fault-seed",
    "11",
)


def test_thirty_percent_provider_faults_still_exactly_once(tmp_path: Path, rigs: list[Rig]) -> None:
    """429s, 5xx, answers slower than the client waits, and connections dropped before and after
    the provider accepted the batch: 30% of requests in all."""
    rig = make_rig(
        tmp_path,
        f"sqlite:///{tmp_path / 'distro.db'}",
        sandbox_flags=FAULT_FLAGS,
        timeout_seconds=1,
    )
    rigs.append(rig)
    send_id, addresses = schedule(rig, 1500)
    started = utcnow()
    rig.finish()
    messages = assert_exactly_once(rig, send_id, addresses)
    faults = rig.sandbox_state()["faults"]
    for kind in ("429", "500", "503", "slow", "drop_before", "drop_after"):
        assert faults.get(kind, 0) > 0, f"no {kind} fault was injected: {faults}"
    # Backoff: a message refused k times waited at least the lower bound of each retry delay
    # (base 0.2 s doubling, jitter between half and all of it) before it was accepted.
    retried = [m for m in messages if m.attempts >= 3]
    assert retried, "no message needed three attempts"
    for message in retried:
        assert message.sent_at is not None
        floor = sum(min(2.0, 0.2 * 2 ** (i - 1)) / 2 for i in range(1, message.attempts))
        assert (message.sent_at - started) >= timedelta(seconds=floor * 0.9)


@pytest.mark.postgres
def test_three_workers_share_a_send_and_survive_one_killed(
    tmp_path: Path, postgres_url: str, rigs: list[Rig]
) -> None:
    rig = make_rig(tmp_path, postgres_url, rate_per_second=0)
    rigs.append(rig)
    send_id, addresses = schedule(rig, 3000)
    workers = [rig.worker() for _ in range(3)]
    wait_for_progress(rig, 200)
    os.kill(workers[0].pid, signal.SIGKILL)
    workers[0].wait(timeout=10)
    rig.finish()
    messages = assert_exactly_once(rig, send_id, addresses)
    owners = {(m.lease_owner or "") for m in messages}
    assert owners == {""}  # every lease was released or expired and reconciled


def test_send_due_while_nothing_ran_fires_or_is_missed(tmp_path: Path, rigs: list[Rig]) -> None:
    """Two sends whose moments passed while no distro process was running: one 2 minutes late
    (within scheduler.max_lateness, default 15 minutes) fires on start-up; one 40 minutes late
    is marked missed and sends nothing."""
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path / 'distro.db'}")
    rigs.append(rig)
    recent, addresses = schedule(rig, 30)
    stale, _ = schedule(rig, 0)
    now = utcnow()
    with rig.engine.begin() as conn:
        for send_id, late in ((recent, 2), (stale, 40)):
            conn.execute(
                update(SENDS)
                .where(SENDS.c.id == send_id)
                .values(scheduled_at=now - timedelta(minutes=late))
            )
    rig.finish()
    assert_exactly_once(rig, recent, addresses)
    with Session(rig.engine) as session:
        missed = session.get(Send, stale)
        assert missed is not None
        assert missed.status == SendStatus.MISSED
        assert "max_lateness" in missed.note
    assert messages_of(rig.engine, stale) == []
