"""Tracking end to end over loopback, on SQLite and PostgreSQL: a send through the sandbox whose
recipients bounce, soft-bounce, complain, open, click and unsubscribe (the sandbox's address
patterns); its webhooks come back signed, are stored, and the report counts exactly what the
sandbox reported. The next send to the same list leaves out the addresses that were suppressed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from distro.models import SendStatus
from distro.models.types import utcnow
from distro.reports import build_report
from distro.sending.scheduling import Audience, schedule_send
from distro.worker import Worker
from tests.conftest import LiveDistro
from tests.factories import add_contacts, add_release
from tests.waiting import wait_until

# Local part -> what the sandbox reports for it (see distro/sandbox/outcomes.py).
ADDRESSES = [
    "bounce+1",
    "bounce+2",
    "softbounce",
    "complaint",
    "open+1",
    "open+2",
    "click+1",
    "click+2",
    "unsubscribe",
    "delivered+1",
    "delivered+2",
]
SUPPRESSED = {"bounce+1", "bounce+2", "complaint", "unsubscribe"}  # a single soft bounce is not


@pytest.fixture
def live(any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(any_engine, sending={"batch_size": 5, "concurrency": 2})


@pytest.fixture
def worker(live: LiveDistro) -> Iterator[Worker]:
    running = Worker(live.settings, live.engine).start()
    yield running
    running.stop()


def send_and_settle(live: LiveDistro, release_id: int) -> int:
    audience = Audience(["press"])
    send = schedule_send(
        live.engine, live.settings, release_id=release_id, audience=audience, now=utcnow()
    )
    assert send.id is not None
    send_id = send.id
    wait_until(lambda: build_report(live.engine, send_id).status == SendStatus.SENT)
    assert live.sandbox is not None
    assert live.sandbox.wait_idle(30), "the sandbox's webhooks did not all arrive"
    return send_id


def inbox_counts(live: LiveDistro) -> dict[str, int]:
    answer = httpx.get(f"{live.url}/sandbox/api/messages", timeout=10)
    answer.raise_for_status()
    counts = answer.json()["recipients"]
    assert isinstance(counts, dict)
    return counts


def test_report_counts_what_the_sandbox_reported(live: LiveDistro, worker: Worker) -> None:
    engine = live.engine
    contacts = add_contacts(engine, len(ADDRESSES))
    with engine.begin() as conn:
        for contact, local in zip(contacts, ADDRESSES, strict=True):
            conn.execute(
                text("UPDATE contacts SET email = :email WHERE id = :id"),
                {"email": f"{local}@x.example", "id": contact.id},
            )
    release = add_release(engine, body="Read [the archive](https://archive.example/papers).")
    assert release.id is not None

    first = build_report(engine, send_and_settle(live, release.id))
    c = first.counts
    assert (first.recipients, first.sent, first.suppressed, first.failed) == (11, 11, 0, 0)
    assert first.delivered == 8  # all but the three bounces
    assert (first.bounced, c.bounced_hard, c.bounced_soft) == (3, 2, 1)
    assert first.opened == 4  # the openers and the clickers (who open first)
    assert c.opened_human + c.opened_machine == 4
    assert c.opens_human + c.opens_machine == 4
    assert first.clicked == 2
    assert c.clicks_human + c.clicks_machine == 2
    assert (first.complained, first.unsubscribed) == (1, 1)
    assert first.rates.delivery_rate == round(8 / 11, 4)
    assert {r.bounce_type for r in first.bounce_reasons} == {"hard", "soft"}
    assert sum(r.bounces for r in first.bounce_reasons) == 3
    # Clicks reported on our rewritten links name the page the journalist went to.
    # (the sandbox clicks the first link, which distro rewrote to its click redirect).
    assert [(link.url, link.clicks_human + link.clicks_machine) for link in first.top_links] == [
        ("https://archive.example/papers", 2)
    ]
    outlets = first.breakdowns["outlet"]
    assert sum(row.counts.recipients for row in outlets) == 11
    assert sum(row.counts.delivered for row in outlets) == 8
    assert inbox_counts(live) == {f"{local}@x.example": 1 for local in ADDRESSES}

    second = build_report(engine, send_and_settle(live, release.id))
    assert (second.recipients, second.suppressed, second.sent) == (11, 4, 7)
    received = inbox_counts(live)
    for local in ADDRESSES:
        assert received[f"{local}@x.example"] == (1 if local in SUPPRESSED else 2), local
