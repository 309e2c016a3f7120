"""Deciding which sending requests fail, and how, and counting what was injected.

One ``random.Random`` (seeded from the options when given) decides per request, so a fault
sequence is repeatable; each request gets at most one fault. The ASGI side that carries a
decision out lives in ``fault_middleware``.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import Counter

from distro.sandbox.options import FaultOptions


class Fault(enum.StrEnum):
    """The kinds of injected failure; the values name them in the JSON API."""

    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    SLOW = "slow"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, None when it is not an error answer."""
        return int(self.value) if self.value.isdigit() else None


class FaultInjector:
    """Thread-safe: decisions and counts may come from any thread."""

    def __init__(self, options: FaultOptions) -> None:
        self.options = options
        self._random = random.Random(options.seed)  # noqa: S311 - fault sampling, not security
        self._lock = threading.Lock()
        self._counts: Counter[Fault] = Counter()
        self._table = (
            (Fault.RATE_LIMITED, options.rate_429),
            (Fault.SERVER_ERROR, options.rate_500),
            (Fault.UNAVAILABLE, options.rate_503),
            (Fault.DROP_BEFORE, options.rate_drop_before),
            (Fault.DROP_AFTER, options.rate_drop_after),
            (Fault.SLOW, options.rate_slow),
        )
        self.enabled = any(rate > 0 for _fault, rate in self._table)

    def decide(self) -> Fault | None:
        """The fault for the next sending request (counted), or None to answer normally."""
        if not self.enabled:
            return None
        with self._lock:
            roll = self._random.random()
            threshold = 0.0
            for fault, rate in self._table:
                threshold += max(0.0, rate)
                if roll < threshold:
                    self._counts[fault] += 1
                    return fault
        return None

    def counts(self) -> dict[str, int]:
        """Every fault kind to how often it was injected (zeros included)."""
        with self._lock:
            return {fault.value: self._counts[fault] for fault in Fault}
