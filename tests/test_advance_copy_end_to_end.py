"""An advance copy, then the send at the lift, through the sandbox over loopback with a real
worker: each embargo-trusted journalist gets exactly one email (the advance copy), everyone else
gets the at-lift one, and the figures of ``schedule``, ``send list`` and the report agree."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from distro.models import SendStatus
from distro.models.types import utcnow
from distro.releases import workflow
from distro.reports import build_report
from distro.sending.forecast import AudienceForecast, summarise_sends
from distro.sending.scheduling import Audience, SendRequest, schedule
from distro.worker import Worker
from tests.conftest import LiveDistro
from tests.test_advance_copy import TRUSTED_TAG, embargoed_release, newsroom
from tests.test_tracking_end_to_end import inbox_counts
from tests.waiting import wait_until


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine, sending={"batch_size": 4, "concurrency": 2})


@pytest.fixture
def worker(live: LiveDistro) -> Iterator[Worker]:
    running = Worker(live.settings, live.engine).start()
    yield running
    running.stop()


def settled(live: LiveDistro, send_id: int) -> Callable[[], bool]:
    def check() -> bool:
        report = build_report(live.engine, send_id)
        return report.status == SendStatus.SENT and report.delivered == report.sent

    return check


def test_trusted_journalists_get_one_email_and_the_figures_agree(
    live: LiveDistro, worker: Worker
) -> None:
    engine, now = live.engine, utcnow()
    trusted, others = newsroom(engine, trusted=10, others=5)
    release_id = embargoed_release(engine, now)
    advance = schedule(
        engine,
        live.settings,
        SendRequest(release_id, Audience(["trusted"]), advance_copy=True),
        now,
    )
    at_lift = schedule(engine, live.settings, SendRequest(release_id, Audience(["press"])), now)
    advance_id, at_lift_id = advance.send.id, at_lift.send.id
    assert advance_id is not None
    assert at_lift_id is not None
    assert advance.forecast == AudienceForecast(audience=10, suppressed=0, left_out=0, opted_out=0)
    # Scheduled before the advance copy went: the ten it will reach are left out already.
    assert at_lift.forecast == AudienceForecast(audience=15, suppressed=0, left_out=10, opted_out=0)
    assert at_lift.forecast.to_send == 5

    wait_until(settled(live, advance_id))
    assert live.sandbox is not None
    assert live.sandbox.wait_idle(30)
    listed = {s.send_id: s for s in summarise_sends(engine, TRUSTED_TAG, utcnow())}
    before_lift = listed[at_lift_id]
    assert (before_lift.expected, before_lift.recipients, before_lift.left_out) == (True, 5, 10)
    assert (listed[advance_id].kind, listed[advance_id].recipients) == ("advance_copy", 10)

    # The lift comes sooner than planned: the at-lift send moves with the embargo and fires.
    workflow.edit(engine, release_id, {"embargo_at": utcnow()}, utcnow())
    wait_until(settled(live, at_lift_id))
    assert live.sandbox.wait_idle(30)

    report = build_report(engine, at_lift_id)
    assert (report.kind, report.recipients, report.left_out) == ("at_lift", 5, 10)
    assert (report.sent, report.delivered, report.suppressed) == (5, 5, 0)
    after = {s.send_id: s for s in summarise_sends(engine, TRUSTED_TAG, utcnow())}[at_lift_id]
    assert (after.expected, after.recipients, after.left_out) == (False, 5, 10)
    # What schedule said, what send list said, what the report counts.
    assert at_lift.forecast.to_send == before_lift.recipients == report.sent == after.recipients
    assert at_lift.forecast.left_out == before_lift.left_out == report.left_out == after.left_out

    received = inbox_counts(live)
    assert received == {c.email: 1 for c in [*trusted, *others]}
    advance_report = build_report(engine, advance_id)
    assert (advance_report.kind, advance_report.sent, advance_report.left_out) == (
        "advance_copy",
        10,
        0,
    )
