"""ProviderGate: requests in flight, messages per second, and provider-requested pauses."""

from __future__ import annotations

import itertools
import threading

from distro.sending.gate import ProviderGate
from tests.waiting import wait_until


class FakeClock:
    """A monotonic clock that only moves when the gate waits (through the stop event)."""

    def __init__(self) -> None:
        self.now = 100.0


class ClockedStop(threading.Event):
    """A stop event whose waits advance the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        return self.is_set()


def test_rate_spaces_batches_by_their_size() -> None:
    clock = FakeClock()
    stop = ClockedStop(clock)
    gate = ProviderGate(4, 100.0, lambda: 0.0, monotonic=lambda: clock.now)
    starts = []
    for size in (50, 50, 100, 10):
        with gate.passage(size, stop) as may_go:
            assert may_go
            starts.append(clock.now)
    # 100 messages/s: a 50-message batch takes half a second of the budget.
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.5, 0.5, 1.0]


def test_no_rate_means_no_waiting() -> None:
    clock = FakeClock()
    stop = ClockedStop(clock)
    gate = ProviderGate(4, 0.0, lambda: 0.0, monotonic=lambda: clock.now)
    for _ in range(5):
        with gate.passage(500, stop) as may_go:
            assert may_go
    assert stop.waits == []


def test_provider_pause_is_honoured() -> None:
    clock = FakeClock()
    stop = ClockedStop(clock)
    resume_at = clock.now + 7.5  # a 429 said: come back in 7.5 s
    gate = ProviderGate(4, 0.0, lambda: resume_at, monotonic=lambda: clock.now)
    with gate.passage(1, stop) as may_go:
        assert may_go
        assert clock.now >= resume_at


def test_stop_while_waiting_lets_nothing_through() -> None:
    clock = FakeClock()
    stop = ClockedStop(clock)
    stop.set()
    gate = ProviderGate(1, 0.0, lambda: clock.now + 60, monotonic=lambda: clock.now)
    with gate.passage(1, stop) as may_go:
        assert not may_go


def test_in_flight_limit_holds_back_extra_requests() -> None:
    gate = ProviderGate(2, 0.0, lambda: 0.0)
    stop = threading.Event()
    inside = 0
    most = 0
    arrived = 0
    lock = threading.Lock()
    two_inside = threading.Event()

    def request() -> None:
        nonlocal inside, most, arrived
        with lock:
            arrived += 1
        with gate.passage(1, stop) as may_go:
            assert may_go
            with lock:
                inside += 1
                most = max(most, inside)
                if inside == 2:
                    two_inside.set()
            # The first two stay inside until both are in and all six have come to the gate, so
            # the other four try it while it is full, however the threads happen to be scheduled.
            # A gate letting one through at a time never gets two in: the first gives up waiting
            # and lets the rest through, and ``most`` stays at 1.
            if not two_inside.wait(10):
                two_inside.set()
            wait_until(lambda: arrived == 6, timeout=10, waiting_for="every request to arrive")
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
