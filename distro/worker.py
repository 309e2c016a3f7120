"""The working part of a distro process: the send timers plus sender threads.

``distro serve``, ``distro worker`` and ``distro demo`` all run one ``Worker``. Several workers,
in one process or on several machines, may share one database: claims are leased, firing a send
is a compare-and-set, and expired hand-overs are reconciled by whichever worker sees them first.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from distro.config import Settings, secret_key
from distro.models.types import utcnow
from distro.outgoing.delivery import Deliverer
from distro.providers.base import Provider
from distro.rendering import make_environment
from distro.reports import prepare_report, sends_to_prepare
from distro.send_timers import SendTimers
from distro.sending import queue
from distro.sending.engine import ProviderPool, Sender
from distro.sending.expand import FireOutcome, fire_send
from distro.tracking.links import LinkSigner

log = logging.getLogger(__name__)

HOOKS_JOB = "distro-outgoing-webhooks"


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        provider_factory: Callable[[str], Provider] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.providers = ProviderPool(settings, provider_factory)
        self._stop = threading.Event()
        self.sender = Sender(
            settings,
            engine,
            make_environment(settings.templates.folder),
            LinkSigner(secret_key(settings)),
            self.providers,
            clock,
            self._stop,
        )
        self.hooks = Deliverer(settings, engine, secret_key(settings), clock=clock)
        self.timers = SendTimers(
            engine,
            self.fire,
            poll_seconds=settings.scheduler.poll_seconds,
            housekeeping=self.housekeeping,
            # Often enough that a dead worker's lease is dealt with soon after it expires.
            housekeeping_seconds=min(10.0, max(1.0, settings.sending.lease_seconds / 4)),
            interval_jobs={
                HOOKS_JOB: (self.deliver_hooks, settings.outgoing_webhooks.interval_seconds)
            },
        )
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    def fire(self, send_id: int) -> None:
        """APScheduler's job: fire a due send, then wake the sender threads."""
        try:
            outcome = fire_send(self.engine, self.settings, send_id, self.clock())
        except Exception:
            log.exception("firing send %d failed; the next sync retries it", send_id)
            return
        log.info("send %d: %s", send_id, outcome)
        if outcome in (FireOutcome.STARTED, FireOutcome.NOT_DUE):
            # NOT_DUE is mostly another worker having just fired it: help with it at once
            # rather than at the next poll (a claim that finds nothing costs little).
            self._wake.set()

    def housekeeping(self) -> None:
        """Recover hand-overs whose worker vanished, ask lookup providers about lost answers
        (see distro.sending.queue), and take the stored counts of finished sends' reports."""
        recovery = self.providers.recovery()
        touched = queue.expire_handovers(self.engine, self.clock(), recovery)
        if touched:
            log.warning("%d messages had an expired hand-over", touched)
        if self.sender.reconcile(recovery):
            self._wake.set()
        for send_id in sends_to_prepare(self.engine):
            # Counted once here, so the first report of a large send is as fast as the rest.
            prepare_report(self.engine, send_id)

    def deliver_hooks(self) -> None:
        """APScheduler's job: post new events to the outgoing webhooks (distro.outgoing)."""
        try:
            self.hooks.run(f"{self.identity}:hooks", self._stop)
        except Exception:
            log.exception("outgoing webhooks: delivery failed; the next run retries")

    def start(self) -> Worker:
        self.timers.start()
        for index in range(self.settings.sending.concurrency):
            thread = threading.Thread(
                target=self._sender_loop,
                args=(f"{self.identity}:{index}",),
                name=f"distro-sender-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.timers.shutdown()
        for thread in self._threads:
            thread.join(timeout=60)
        self.providers.close()
        self.hooks.close()

    def _sender_loop(self, owner: str) -> None:
        while not self._stop.is_set():
            with self._busy_lock:
                self._busy += 1
            try:
                report = self.sender.run_once(owner)
            except Exception:
                log.exception("sender %s: batch failed", owner)
                report = None
            finally:
                with self._busy_lock:
                    self._busy -= 1
            if report is None:
                self._wake.wait(timeout=self.settings.scheduler.poll_seconds)
                self._wake.clear()

    def is_idle(self) -> bool:
        """Nothing due, queued, in flight or waiting for a retry, and no batch in hand."""
        with self._busy_lock:
            busy = self._busy > 0
        return not busy and not queue.has_pending_work(self.engine, self.clock())

    def wait_until_idle(self, timeout: float | None = None, settle: float = 0.5) -> bool:
        """Block until idle (seen twice, ``settle`` apart); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if self.is_idle():
                time.sleep(settle)
                if self.is_idle():
                    return True
            time.sleep(0.2)
        return False
