"""A lost answer's lookup ends: refused (4xx) at once, failing past the deadline at the latest.

Before, a Postmark-compatible endpoint answering the outbound message search with 404 was asked
again every minute for ever: the send never finished and ``worker --exit-when-idle`` never
exited. Now such messages wait as *uncertain* for ``send resolve``, saying why, and the send
finishes. The adapter is real; only its network edge is an ``httpx.MockTransport``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from distro.config import Settings, secret_key
from distro.models import MessageStatus
from distro.models.types import utcnow
from distro.providers import build_provider
from distro.rendering import make_environment
from distro.sending import queue
from distro.sending.engine import ProviderPool, Sender
from distro.tracking.links import LinkSigner
from tests.conftest import make_settings
from tests.factories import messages_of
from tests.test_queue import started_send
from tests.test_send_control import distro, ok_json, ok_text

Handler = Callable[[httpx.Request], httpx.Response]
LOOKUP = {"sandbox": queue.Recovery.LOOKUP}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def sender_for(engine: Engine, lookup: Handler, clock: Clock, **sending: object) -> Sender:
    """A sender whose batch requests lose their answer and whose lookups get ``lookup``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/email/batch"):
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return lookup(request)

    settings: Settings = make_settings(
        engine.url.render_as_string(hide_password=False), sending=sending
    )
    pool = ProviderPool(
        settings,
        lambda name: build_provider(settings, name, transport=httpx.MockTransport(handler)),
    )
    signer = LinkSigner(secret_key(settings))
    return Sender(settings, engine, make_environment(None), signer, pool, clock)


def lose_every_answer(engine: Engine, sender: Sender) -> int:
    send_id = started_send(engine, 3)
    while sender.run_once("w") is not None:
        pass
    assert {m.status for m in messages_of(engine, send_id)} == {MessageStatus.UNCERTAIN}
    return send_id


def assert_left_for_staff(engine: Engine, send_id: int, clock: Clock, why: str) -> None:
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.UNCERTAIN}
    assert all(m.next_attempt_at is None for m in messages)
    assert all(why in (m.last_error or "") for m in messages), [m.last_error for m in messages]
    assert all("send resolve" in (m.last_error or "") for m in messages)
    assert not queue.has_pending_work(engine, clock.now + timedelta(days=1))
    assert queue.finish_done_sends(engine, clock.now) == [send_id]


@pytest.mark.parametrize("status", [404, 400, 422])
def test_a_refused_lookup_stops_and_the_send_finishes(engine: Engine, status: int) -> None:
    clock = Clock()
    sender = sender_for(engine, lambda request: httpx.Response(status), clock)
    send_id = lose_every_answer(engine, sender)
    clock.now += timedelta(minutes=2)  # past reconcile_seconds
    assert sender.reconcile(LOOKUP) == 3
    assert_left_for_staff(engine, send_id, clock, "refused the lookup")
    assert f"HTTP {status}" in (messages_of(engine, send_id)[0].last_error or "")
    # Nothing is asked again: the rows are not due for a lookup any more.
    clock.now += timedelta(hours=1)
    assert queue.due_for_reconciling(engine, "sandbox", clock.now, 10) == []


def test_a_failing_lookup_is_asked_again_until_the_deadline(engine: Engine) -> None:
    clock = Clock()
    asked: list[datetime] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        asked.append(clock.now)
        return httpx.Response(503)

    sender = sender_for(engine, unavailable, clock, reconcile_deadline_seconds=600)
    send_id = lose_every_answer(engine, sender)
    clock.now += timedelta(minutes=2)
    assert sender.reconcile(LOOKUP) == 0  # asked, failed, postponed
    assert queue.has_pending_work(engine, clock.now)
    clock.now += timedelta(minutes=5)
    assert sender.reconcile(LOOKUP) == 0
    clock.now += timedelta(minutes=5)  # 12 minutes since the answer was lost: past 600 s
    assert sender.reconcile(LOOKUP) == 3
    assert len(asked) == 3
    assert_left_for_staff(engine, send_id, clock, "kept failing")


def test_send_list_says_how_many_are_uncertain_and_why(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    sender = sender_for(engine, lambda request: httpx.Response(404), clock)
    send_id = lose_every_answer(engine, sender)
    clock.now += timedelta(minutes=2)
    sender.reconcile(LOOKUP)
    queue.finish_done_sends(engine, clock.now)
    url = engine.url.render_as_string(hide_password=False)

    listed = ok_json(distro(tmp_path, url, "send", "list", "--json"))
    assert (listed[0]["send_id"], listed[0]["status"]) == (send_id, "sent")
    assert (listed[0]["failed"], listed[0]["uncertain"]) == (0, 3)
    (reason,) = listed[0]["reasons"]
    assert (reason["status"], reason["count"]) == ("uncertain", 3)
    assert "refused the lookup" in reason["reason"]
    assert "HTTP 404" in reason["reason"]
    table = ok_text(distro(tmp_path, url, "send", "list"))
    assert f"send {send_id}: 3 uncertain:" in table
    assert "3: outcome unknown: the provider refused the lookup" in table
    report = ok_json(distro(tmp_path, url, "report", str(send_id), "--format", "json"))
    assert report["uncertain"] == 3
    assert report["not_sent_reasons"][0]["count"] == 3
    assert "refused the lookup" in report["not_sent_reasons"][0]["reason"]
    text = ok_text(distro(tmp_path, url, "report", str(send_id)))
    assert "3 uncertain: 3: outcome unknown: the provider refused the lookup" in text
    html = tmp_path / "report.html"
    ok_text(distro(tmp_path, url, "report", str(send_id), "--format", "html", "--out", str(html)))
    assert "3 uncertain:" in html.read_text()
