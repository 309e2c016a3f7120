"""Send timers: one APScheduler date job per scheduled send, kept in step with the database.

Named for what it holds (timers that fire sends) so it is not mixed up with scheduling a send
(``distro.sending.scheduling``, the checks made when a send is booked) or with the worker that
owns these timers (``distro.worker``).

The database is the source of truth. Jobs live in memory only and are rebuilt from the ``sends``
table on start and then every ``scheduler.poll_seconds``, so new, moved and cancelled sends are
picked up by every process without any message passing, and nothing is lost when one dies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from distro.db import reading
from distro.models import Send, SendStatus

log = logging.getLogger(__name__)

SYNC_JOB = "distro-sync"
HOUSEKEEPING_JOB = "distro-housekeeping"
JOB_PREFIX = "send-"


class SendTimers:
    """The in-memory timers of one worker: a date job per scheduled send plus interval jobs.

    Rebuilt from the database rather than told about changes, so that any number of workers
    agree on what is due without talking to each other.
    """

    def __init__(
        self,
        engine: Engine,
        fire: Callable[[int], None],
        *,
        poll_seconds: float,
        housekeeping: Callable[[], None] | None = None,
        housekeeping_seconds: float = 5.0,
        interval_jobs: Mapping[str, tuple[Callable[[], None], float]] | None = None,
    ) -> None:
        self.engine = engine
        self.fire = fire
        self.poll_seconds = poll_seconds
        self.housekeeping = housekeeping
        self.housekeeping_seconds = housekeeping_seconds
        # Further periodic jobs by id: (function, interval seconds), e.g. outgoing webhooks.
        self.interval_jobs = dict(interval_jobs or {})
        # Sends being fired right now: their row still says "scheduled" until the expansion
        # commits, and a sync in between must not queue a second run of the same job.
        self._firing: set[int] = set()
        self._firing_lock = threading.Lock()
        # APScheduler's shutdown(wait=True) holds its job store lock while it waits for running
        # jobs, and a sync in progress needs that lock to read and change jobs: shutting down
        # first waits for a running sync here, and no sync touches APScheduler after that.
        self._sync_lock = threading.Lock()
        self._stopping = False
        self.apscheduler = BackgroundScheduler(
            timezone=UTC,
            # Lateness is judged by distro (scheduler.max_lateness), not by APScheduler.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )

    def start(self) -> None:
        self.sync()
        self.apscheduler.add_job(
            self.sync, "interval", seconds=self.poll_seconds, id=SYNC_JOB, max_instances=1
        )
        if self.housekeeping is not None:
            self.apscheduler.add_job(
                self.housekeeping,
                "interval",
                seconds=self.housekeeping_seconds,
                id=HOUSEKEEPING_JOB,
                max_instances=1,
            )
        for job_id, (function, seconds) in self.interval_jobs.items():
            self.apscheduler.add_job(
                function, "interval", seconds=seconds, id=job_id, max_instances=1
            )
        self.apscheduler.start()

    def shutdown(self) -> None:
        with self._sync_lock:
            self._stopping = True
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=True)

    def _fire(self, send_id: int) -> None:
        with self._firing_lock:
            self._firing.add(send_id)
        try:
            self.fire(send_id)
        finally:
            with self._firing_lock:
                self._firing.discard(send_id)

    def sync(self) -> None:
        """Make the jobs match the scheduled sends: add new, move changed, drop the rest."""
        with self._sync_lock:
            if not self._stopping:
                self._sync_jobs()

    def _sync_jobs(self) -> None:
        with reading(self.engine) as conn:
            wanted: dict[str, datetime] = {
                f"{JOB_PREFIX}{send_id}": when
                for send_id, when in conn.execute(
                    select(Send.id, Send.scheduled_at).where(  # type: ignore[call-overload]
                        Send.status == SendStatus.SCHEDULED
                    )
                )
            }
        for job in self.apscheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        with self._firing_lock:
            firing = {f"{JOB_PREFIX}{send_id}" for send_id in self._firing}
        for job_id, when in wanted.items():
            if job_id in firing:
                continue
            job = self.apscheduler.get_job(job_id)
            if job is None:
                self.apscheduler.add_job(
                    self._fire,
                    "date",
                    run_date=when,
                    args=[int(job_id.removeprefix(JOB_PREFIX))],
                    id=job_id,
                    replace_existing=True,
                )
            elif job.next_run_time is not None and job.next_run_time != when:
                job.reschedule("date", run_date=when)
