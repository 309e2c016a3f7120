"""One real send across every stage, over loopback HTTP, on SQLite and PostgreSQL:
schedule -> APScheduler fires it -> audience expanded -> leased batches rendered -> Postmark
adapter -> sandbox -> Postmark webhooks -> events -> report; then the send timers' view of moved
and cancelled sends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.parser import HeaderParser

import httpx
import pytest
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from sqlalchemy import Engine, update
from sqlmodel import Session

from distro.models import Send, SendStatus
from distro.models.types import utcnow
from distro.reports import SendReport, build_report
from distro.send_timers import JOB_PREFIX
from distro.sending.scheduling import Audience, schedule_send
from distro.worker import Worker
from tests.conftest import LiveDistro
from tests.factories import add_contacts, add_release
from tests.waiting import wait_until

SENDS = Send.__table__  # type: ignore[attr-defined]


@pytest.fixture
def live(any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(any_engine, sending={"batch_size": 25, "concurrency": 3})


@pytest.fixture
def worker(live: LiveDistro) -> Iterator[Worker]:
    running = Worker(live.settings, live.engine).start()
    yield running
    running.stop()


def settled(engine: Engine, send_id: int) -> Callable[[], bool]:
    def check() -> bool:
        report = build_report(engine, send_id)
        return report.status == SendStatus.SENT and report.delivered + report.bounced == report.sent

    return check


def sandbox_inbox(live: LiveDistro) -> dict[str, object]:
    answer = httpx.get(f"{live.url}/sandbox/api/messages", timeout=10)
    answer.raise_for_status()
    data = answer.json()
    assert isinstance(data, dict)
    return data


def test_scheduled_send_reaches_everyone_exactly_once(live: LiveDistro, worker: Worker) -> None:
    engine = live.engine
    contacts = add_contacts(engine, 60)
    add_contacts(engine, 1, domain="x.example", list_name="press")[0]
    with engine.begin() as conn:  # one address the sandbox answers with a hard bounce
        conn.exec_driver_sql(
            "UPDATE contacts SET email = 'bounce@x.example', first_name = '<b>Eve</b>' "
            "WHERE email = 'reporter0@x.example'"
        )
    release = add_release(engine, title="Harbor library opens archive", body="Two *million* pages.")
    assert release.id is not None
    fire_at = utcnow() + timedelta(seconds=1.5)
    send = schedule_send(
        engine,
        live.settings,
        release_id=release.id,
        audience=Audience(["press"]),
        at=fire_at,
        now=utcnow(),
    )
    assert send.id is not None
    # Fired by the send timers on their own, at its moment: a send that fired late or never would
    # miss this deadline. How soon after its moment the first message goes out is a figure
    # (bench/bench_send.py prints it), not something to assert on a shared machine.
    wait_until(settled(engine, send.id), waiting_for="the scheduled send to be delivered")
    report = build_report(engine, send.id)
    assert report.started_at is not None
    assert report.started_at >= fire_at  # not before its moment
    assert (report.recipients, report.sent, report.delivered, report.bounced) == (61, 61, 60, 1)
    assert (report.failed, report.uncertain, report.pending, report.suppressed) == (0, 0, 0, 0)

    inbox = sandbox_inbox(live)
    recipients = inbox["recipients"]
    assert isinstance(recipients, dict)
    assert sorted(recipients) == sorted([c.email for c in contacts] + ["bounce@x.example"])
    assert set(recipients.values()) == {1}  # each exactly once

    # The email as the journalist gets it: both parts, personalised, escaped, unsubscribe headers.
    detail = httpx.get(
        f"{live.url}/sandbox/api/messages",
        params={"to": "bounce@x.example"},
        timeout=10,
    ).json()["messages"][0]
    full = httpx.get(f"{live.url}/sandbox/api/messages/{detail['MessageID']}", timeout=10).json()
    assert full["Subject"] == "Harbor library opens archive"
    assert "<em>million</em>" in full["HtmlBody"]
    assert "&lt;b&gt;Eve&lt;/b&gt;" in full["HtmlBody"]
    assert "<b>Eve</b>" not in full["HtmlBody"]
    assert "Dear <b>Eve</b>," in full["TextBody"]  # the text part is plain text, not HTML
    headers = {h["Name"]: h["Value"] for h in full["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{live.url}/u/")
    assert unsubscribe in full["HtmlBody"]
    assert HeaderParser().parsestr(f"List-Unsubscribe: {headers['List-Unsubscribe']}\n")

    # The bounced address is suppressed and recorded as such in the next send.
    again = schedule_send(
        engine, live.settings, release_id=release.id, audience=Audience(["press"]), now=utcnow()
    )
    assert again.id is not None
    wait_until(settled(engine, again.id), waiting_for="the second send to be delivered")
    second: SendReport = build_report(engine, again.id)
    assert (second.recipients, second.suppressed, second.sent, second.delivered) == (61, 1, 60, 60)


class JobRuns:
    """What the worker's APScheduler did with each job: runs submitted and runs finished."""

    def __init__(self, worker: Worker) -> None:
        self.lock = threading.Lock()
        self.submitted: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        worker.timers.apscheduler.add_listener(
            self.note, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )

    def note(self, event: JobSubmissionEvent | JobExecutionEvent) -> None:
        with self.lock:
            seen = self.submitted if event.code == EVENT_JOB_SUBMITTED else self.finished
            seen[event.job_id] += 1

    def none_running(self, job_id: str) -> bool:
        with self.lock:
            return self.submitted[job_id] == self.finished[job_id]


def has_job(worker: Worker, send_id: int) -> bool:
    return worker.timers.apscheduler.get_job(f"{JOB_PREFIX}{send_id}") is not None


def test_send_timers_follow_moved_and_cancelled_sends(live: LiveDistro, worker: Worker) -> None:
    engine = live.engine
    runs = JobRuns(worker)
    add_contacts(engine, 3)
    release = add_release(engine)
    assert release.id is not None
    far = utcnow() + timedelta(hours=1)
    moved = schedule_send(
        engine,
        live.settings,
        release_id=release.id,
        audience=Audience(["press"]),
        at=far,
        now=utcnow(),
    )
    cancelled_at = utcnow() + timedelta(seconds=2)
    cancelled = schedule_send(
        engine,
        live.settings,
        release_id=release.id,
        audience=Audience(["press"]),
        at=cancelled_at,
        now=utcnow(),
    )
    moved_id, cancelled_id = moved.id, cancelled.id
    assert moved_id is not None
    assert cancelled_id is not None
    wait_until(
        lambda: has_job(worker, moved_id) and has_job(worker, cancelled_id),
        waiting_for="both sends to be known to the send timers",
    )
    soon = utcnow() + timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(update(SENDS).where(SENDS.c.id == moved_id).values(scheduled_at=soon))
        conn.execute(
            update(SENDS).where(SENDS.c.id == cancelled_id).values(status=SendStatus.CANCELLED)
        )
    wait_until(settled(engine, moved_id), waiting_for="the moved send to be delivered")
    # Past the cancelled send's old moment, its job gone, and any run of it that was submitted
    # (there should be none) finished: whatever that moment could set off is over.
    cancelled_job = f"{JOB_PREFIX}{cancelled_id}"
    wait_until(
        lambda: (
            utcnow() > cancelled_at
            and not has_job(worker, cancelled_id)
            and runs.none_running(cancelled_job)
        ),
        waiting_for="the cancelled send's old moment to pass",
    )
    with Session(engine) as session:
        fired = session.get(Send, moved_id)
        untouched = session.get(Send, cancelled_id)
        assert fired is not None
        assert untouched is not None
        assert fired.started_at is not None
        # At its new moment, not its old one an hour away (which no wait above reaches).
        assert soon <= fired.started_at < far
        assert untouched.status == SendStatus.CANCELLED
        assert untouched.recipients == 0
