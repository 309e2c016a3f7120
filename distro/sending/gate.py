"""Per-provider pacing: requests in flight, messages per second, and the provider's own pauses.

One gate per provider per process. A sender thread passes the gate *before* it hands a batch
over, so time spent waiting here never eats into the hand-over's lease.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ProviderGate:
    def __init__(
        self,
        max_in_flight: int,
        rate_per_second: float,
        resume_at: Callable[[], float],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._rate = rate_per_second
        self._resume_at = resume_at
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._next_start = 0.0  # when the next batch may start, on the rate's virtual clock

    @contextmanager
    def passage(self, messages: int, stop: threading.Event) -> Iterator[bool]:
        """Hold an in-flight slot for a batch of ``messages``; yields False if ``stop`` was set
        while waiting (then the batch must not go)."""
        while not self._slots.acquire(timeout=0.5):
            if stop.is_set():
                yield False
                return
        try:
            yield self._wait_for_turn(messages, stop)
        finally:
            self._slots.release()

    def _wait_for_turn(self, messages: int, stop: threading.Event) -> bool:
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next_start)
            if self._rate > 0:
                # Spacing batches by their size keeps the average at the rate with no burst.
                self._next_start = start + messages / self._rate
        while True:
            wait = max(start, self._resume_at()) - self._monotonic()
            if wait <= 0:
                return True
            if stop.wait(wait):
                return False
