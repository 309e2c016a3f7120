"""Shutting the send timers (distro.send_timers) down while its sync job runs must not hang.

APScheduler 3's ``shutdown(wait=True)`` holds its job store lock while it waits for running
jobs; a sync that is still reading the sends table then needs that lock to look at its jobs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine

from distro import send_timers as send_timers_module
from distro.db import reading


def test_shutdown_during_a_slow_sync_does_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_sync = threading.Event()
    shutting_down = threading.Event()

    @contextmanager
    def slow_reading(bound: Engine) -> Iterator[Connection]:
        with reading(bound) as conn:
            in_sync.set()
            # Held here until the shutdown below has begun. The thread that wakes it runs on
            # (holding the GIL for up to a switch interval) straight into shutdown's locks,
            # while this sync has its query still to run before it needs a lock of its own.
            assert shutting_down.wait(10), "the shutdown did not start"
            yield conn

    def shutdown() -> None:
        shutting_down.set()
        timers.shutdown()

    timers = send_timers_module.SendTimers(engine, lambda send_id: None, poll_seconds=0.2)
    timers.start()
    monkeypatch.setattr(send_timers_module, "reading", slow_reading)
    assert in_sync.wait(10), "the sync job did not run"
    stopper = threading.Thread(target=shutdown, daemon=True)
    stopper.start()
    stopper.join(timeout=15)
    assert not stopper.is_alive(), "shutdown hung while a sync was running"
    assert not timers.apscheduler.running
