"""Postmark-shaped delivery webhooks, posted from background threads with retries.

Each accepted message turns into one webhook per recipient. What happens to a recipient is picked
by ``choose_outcome`` from a small table keyed on the address's local part (``bounce@`` or
``bounce+anything@`` bounces), so new outcomes (soft bounce, complaint, open, click) are one
table row and one payload builder each.

The dispatcher starts its threads on first use, not at import or app start-up: Starlette does not
run lifespan events of mounted sub-apps, so the owner calls ``close()`` instead.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from distro.sandbox.store import StoredMessage

log = logging.getLogger(__name__)

SERVER_ID = 1
DELIVERY = "delivery"
HARD_BOUNCE = "hard_bounce"

PayloadBuilder = Callable[[StoredMessage, str, int], dict[str, Any]]

#: Local part (exactly, or followed by "+tag") to outcome; first match wins, else DELIVERY.
LOCAL_PART_OUTCOMES: tuple[tuple[str, str], ...] = (("bounce", HARD_BOUNCE),)


def choose_outcome(recipient: str) -> str:
    """What the sandbox pretends happened to ``recipient``."""
    local = recipient.rpartition("@")[0].lower()
    for prefix, outcome in LOCAL_PART_OUTCOMES:
        if local == prefix or local.startswith(prefix + "+"):
            return outcome
    return DELIVERY


def _now() -> str:
    return datetime.now(UTC).isoformat()


def delivery_payload(message: StoredMessage, recipient: str, event_id: int) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerID": SERVER_ID,
        "MessageStream": message.message_stream,
        "MessageID": message.message_id,
        "Recipient": recipient,
        "Tag": message.tag,
        "DeliveredAt": _now(),
        "Details": "smtp;250 2.0.0 OK (distro sandbox)",
        "Metadata": dict(message.metadata),
    }


def hard_bounce_payload(message: StoredMessage, recipient: str, event_id: int) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": message.tag,
        "MessageID": message.message_id,
        "ServerID": SERVER_ID,
        "MessageStream": message.message_stream,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist "
        "(distro sandbox)",
        "Email": recipient,
        "From": message.from_,
        "BouncedAt": _now(),
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": message.subject,
        "Metadata": dict(message.metadata),
    }


PAYLOADS: dict[str, PayloadBuilder] = {
    DELIVERY: delivery_payload,
    HARD_BOUNCE: hard_bounce_payload,
}


@dataclass(frozen=True, slots=True)
class _Job:
    payload: dict[str, Any]


class WebhookDispatcher:
    """Posts payloads to one URL from a few threads sharing one ``httpx.Client``."""

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        attempts: int = 5,
        threads: int = 4,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._auth = (username, password) if username or password else None
        self._attempts = max(1, attempts)
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
        self._ids = itertools.count(1)

    def submit(self, message: StoredMessage) -> None:
        """Queue one webhook per recipient of ``message``."""
        if not self.url:
            return
        jobs = [
            _Job(PAYLOADS[choose_outcome(r)](message, r, next(self._ids)))
            for r in message.recipients
        ]
        with self._lock:
            if self._closed:
                return
            self._start_locked()
            self._pending += len(jobs)
        for job in jobs:
            self._queue.put(job)

    def _start_locked(self) -> None:
        if self._threads:
            return
        self._client = httpx.Client(auth=self._auth, timeout=self._timeout)
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
                    self._deliver(job)
            except Exception:  # a bug here must not kill the thread and hang wait_idle
                log.exception("sandbox webhook crashed")
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _deliver(self, job: _Job) -> None:
        client = self._client
        if client is None:  # closed meanwhile
            return
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                response = client.post(self.url, json=job.payload)
                if response.is_success:
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = repr(exc)
            if attempt == self._attempts:
                break
            log.info("sandbox webhook attempt %d to %s failed: %s", attempt, self.url, problem)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self._max_backoff)
        log.warning(
            "sandbox webhook %s for %s gave up after %d attempts: %s",
            job.payload.get("RecordType"),
            job.payload.get("MessageID"),
            self._attempts,
            problem,
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
