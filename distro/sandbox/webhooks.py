"""Delivery webhooks in each provider's own format and authentication, from background threads.

``submit`` decides at once what happens to each recipient (``outcomes.choose_outcome``, so a
seeded split follows submission order) and queues the message; a worker thread then builds the
provider's posts and sends them one after another, so the events of one message arrive in the
order they happened. Failed posts are retried with exponential backoff.

The dispatcher starts its threads on first use, not at import or app start-up: Starlette does not
run lifespan events of mounted sub-apps, so the owner calls ``close()`` instead.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from distro.sandbox.options import WebhookOptions
from distro.sandbox.outcomes import (
    DELIVERY,
    HARD_BOUNCE,
    choose_outcome,
    events_for,
    validate_rates,
)
from distro.sandbox.signing_keys import SandboxKeys
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhook_formats import FORMATS, FormatContext, Post

__all__ = ["DELIVERY", "HARD_BOUNCE", "WebhookDispatcher", "choose_outcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    """One message to report on: where, and what happened to each of its recipients."""

    url: str
    message: StoredMessage
    outcomes: tuple[str, ...]  # one per recipient, in order
    at: datetime


class WebhookDispatcher:
    """Posts each provider's webhooks to its URL from a few threads sharing one ``httpx.Client``."""

    def __init__(
        self,
        options: WebhookOptions,
        *,
        threads: int = 4,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        validate_rates(options.outcome_rates)
        unknown = set(options.urls) - set(FORMATS)
        if unknown:
            raise ValueError(f"webhook URLs for unknown APIs: {', '.join(sorted(unknown))}")
        if options.urls.get("ses") and not options.public_base_url:
            log.warning("sandbox SES webhooks: no public_base_url, so no fetchable SigningCertURL")
        self.options = options
        self.keys = SandboxKeys(options)
        self._context = FormatContext(options, self.keys)
        self._rng = random.Random(options.seed)  # noqa: S311 - a repeatable simulation, not secrets
        self._attempts = max(1, options.attempts)
        self._thread_count = max(1, threads)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._stopping = threading.Event()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._client: httpx.Client | None = None

    def submit(self, message: StoredMessage) -> None:
        """Queue the webhooks for ``message``, if its API has a webhook URL."""
        url = self.options.urls.get(message.api)
        if not url:
            return
        rates = self.options.outcome_rates
        with self._lock:
            if self._closed:
                return
            outcomes = tuple(choose_outcome(r, rates, self._rng) for r in message.recipients)
            self._start_locked()
            self._pending += 1
        self._queue.put(_Job(url, message, outcomes, datetime.now(UTC)))

    def _start_locked(self) -> None:
        if self._threads:
            return
        self._client = httpx.Client(timeout=self._timeout)
        for index in range(self._thread_count):
            thread = threading.Thread(
                target=self._work, name=f"sandbox-webhooks-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if not self._stopping.is_set():  # past close()'s bounded flush: drop
                    self._report(job)
            except Exception:  # a bug here must not kill the thread and hang wait_idle
                log.exception("sandbox webhook crashed")
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _posts_for(self, job: _Job) -> list[Post]:
        """The provider's posts for one job, in the order they are to be sent."""
        message = job.message
        events = [
            event
            for recipient, outcome in zip(message.recipients, job.outcomes, strict=True)
            for event in events_for(outcome, recipient, message.html_body, job.at)
        ]
        return FORMATS[message.api](message, events, self._context)

    def _report(self, job: _Job) -> None:
        for post in self._posts_for(job):
            if self._stopping.is_set():
                return
            self._deliver(job.url, post)

    def _deliver(self, url: str, post: Post) -> None:
        client = self._client
        if client is None:  # closed meanwhile
            return
        delay = self._backoff
        problem = ""
        for attempt in range(1, self._attempts + 1):
            body, headers = post.render()
            try:
                response = client.post(url, content=body, headers=headers)
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = repr(exc)
            if attempt == self._attempts:
                break
            log.info("sandbox webhook attempt %d to %s failed: %s", attempt, url, problem)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self._max_backoff)
        log.warning(
            "sandbox webhook %s gave up after %d attempts: %s", post.label, self._attempts, problem
        )

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or in flight; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is pending (up to ``timeout``), then stop the threads and the client."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if threads:
            self.wait_idle(timeout)
        self._stopping.set()  # cuts short backoff sleeps; queued leftovers are dropped
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        with self._lock:
            client, self._client = self._client, None
            self._threads = []
        if client is not None:
            client.close()
