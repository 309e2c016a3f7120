"""How long to wait before trying again: the outbox's retries and outgoing webhooks share it."""

from __future__ import annotations

import random
from datetime import timedelta

RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=10)


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: timedelta = RETRY_BASE,
    cap: timedelta = RETRY_CAP,
) -> timedelta:
    """Exponential backoff with jitter, never shorter than the provider's Retry-After."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1))).total_seconds()
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)
