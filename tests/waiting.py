"""Waiting in tests (no tests here): poll for the condition a test needs, with a deadline.

A fixed sleep is either too short on a loaded machine (the test fails) or longer than needed
everywhere else (the suite is slow), and an assertion on elapsed time fails whenever the shared
2-core machine is busy. So tests wait for what they need to have happened, and fail only when it
has not happened by a deadline far beyond what it should ever take; how fast things are is
measured by the scripts in ``bench/``, not asserted here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    waiting_for: str = "the condition",
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something true, and return
    that; AssertionError (naming ``waiting_for``) if it is still false after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still waiting for {waiting_for} after {timeout:g} s")
        time.sleep(interval)
