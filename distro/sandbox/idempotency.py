"""Resend-style ``Idempotency-Key`` memory: the first answer to a key, kept for 24 hours.

A repeat of the same request gets the stored answer and sends nothing; the same key with a
different request is a conflict. Only accepted requests are remembered, so a request refused
for a fixable reason can be corrected and retried under the same key. Kept in memory: a
sandbox restart forgets every key, as it forgets every message.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 256


class IdempotencyConflict(Exception):
    """The key was first used with a different request."""


@dataclass(frozen=True, slots=True)
class Remembered:
    fingerprint: str
    status: int
    body: Any
    at: float


def fingerprint(endpoint: str, body: Any) -> str:
    """The same for requests that mean the same thing (key order and spacing aside)."""
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, Remembered] = {}

    def replay(self, key: str, print_: str) -> Remembered | None:
        """The remembered answer for ``key``, None if it is new (or expired).

        Raises IdempotencyConflict when ``key`` was used for a different request.
        """
        with self._lock:
            self._expire_locked()
            found = self._entries.get(key)
        if found is None:
            return None
        if found.fingerprint != print_:
            raise IdempotencyConflict(key)
        return found

    def remember(self, key: str, print_: str, status: int, body: Any) -> None:
        with self._lock:
            self._entries.setdefault(key, Remembered(print_, status, body, self._clock()))

    def _expire_locked(self) -> None:
        oldest = self._clock() - TTL_SECONDS
        stale: list[str] = []
        for key, entry in self._entries.items():  # oldest first: insertion order
            if entry.at >= oldest:
                break
            stale.append(key)
        for key in stale:
            del self._entries[key]
