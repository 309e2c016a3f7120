"""Withdrawing a release while a real worker is sending it: nothing reaches the provider after
the withdrawal, and every message ends accounted for. A message the provider saw is sent, or
uncertain when its answer was lost; one it never saw is failed, saying the release was withdrawn.

The worker is real (send timers, two sender threads, the real adapters); only the adapters'
network edge is an ``httpx.MockTransport``, which lets four batch requests through, loses the
answer of some, then holds the next ones in flight until the release is withdrawn.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from distro.models import MessageStatus, Release, ReleaseStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.providers import build_provider
from distro.providers.base import MESSAGE_ID_KEY
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.sending.withdraw import WITHDRAWN_NOTE, withdraw_release
from distro.worker import Worker
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of

LET_THROUGH = 4  # batch requests answered before the provider starts holding them
LOST = {1, 4}  # the requests whose answer is lost (the provider got them)
PROVIDERS = {
    # Resend honours an idempotency key: a lost batch waits queued under its key.
    "rs": {"type": "resend", "api_key": "re_test_" + "k" * 24},
    # The sandbox speaks Postmark: a lost batch waits uncertain for a lookup.
    "sandbox": {"type": "sandbox"},
}


class Provider:
    """The provider's side: which message ids each batch request carried, and a gate."""

    def __init__(self) -> None:
        self.requests: list[list[int]] = []
        self.held = 0
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith(("/emails/batch", "/email/batch")):
            return httpx.Response(404)  # a lookup: nothing is found this way
        payload = json.loads(request.content)
        ids = [_message_id(item) for item in payload]
        with self._lock:
            index = len(self.requests)
            self.requests.append(ids)
            if index >= LET_THROUGH:
                self.held += 1
        if index >= LET_THROUGH:
            assert self.gate.wait(timeout=60), "the test never let the held requests go"
        if index in LOST:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        if request.url.path.endswith("/emails/batch"):
            return httpx.Response(200, json={"data": [{"id": f"re-{i}"} for i in ids]})
        return httpx.Response(
            200, json=[{"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{i}"} for i in ids]
        )

    def seen(self) -> set[int]:
        with self._lock:
            return {i for ids in self.requests for i in ids}


def _message_id(item: dict[str, object]) -> int:
    """Our message id, as each adapter carries it (Resend tags, Postmark metadata)."""
    if "tags" in item:
        tags = item["tags"]
        assert isinstance(tags, list)
        return int(next(t["value"] for t in tags if t["name"] == MESSAGE_ID_KEY))
    metadata = item["Metadata"]
    assert isinstance(metadata, dict)
    return int(metadata[MESSAGE_ID_KEY])


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("provider", ["rs", "sandbox"])
def test_withdrawing_a_release_while_its_send_goes_out(any_engine: Engine, provider: str) -> None:
    engine = any_engine
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        providers=PROVIDERS,
        sending={
            "provider": provider,
            "batch_size": 4,
            "concurrency": 2,
            # Long enough that nothing goes again, and no lease lapses, during the test.
            "retry_base_seconds": 600,
            "lease_seconds": 600,
        },
    )
    add_contacts(engine, 40)
    release = add_release(engine)
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(["press"]), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    edge = Provider()
    worker = Worker(
        settings,
        engine,
        provider_factory=lambda name: build_provider(
            settings, name, transport=httpx.MockTransport(edge)
        ),
    ).start()
    try:
        # Both sender threads are inside a provider call: their rows are handed over.
        wait_for(lambda: edge.held == 2, "two requests in flight")
        outcome = withdraw_release(engine, release.id, utcnow())
        assert outcome.cancelled_sends == [send.id]
        edge.gate.set()
        in_flight = (MessageStatus.QUEUED, MessageStatus.SENDING)
        wait_for(
            lambda: all(m.status not in in_flight for m in messages_of(engine, send.id or 0)),
            "every message to settle",
        )
    finally:
        edge.gate.set()
        worker.stop()

    # Nothing was handed over after the withdrawal: only the requests already in flight.
    assert len(edge.requests) == LET_THROUGH + 2
    seen = edge.seen()
    messages = messages_of(engine, send.id)
    assert len(messages) == 40
    for message in messages:
        if message.id in seen:
            # The provider got it: never counted as not sent.
            assert message.status in (MessageStatus.SENT, MessageStatus.UNCERTAIN), message
            if message.status == MessageStatus.SENT:
                assert message.provider_message_id, message
            else:
                assert "answer" in (message.last_error or ""), message
        else:
            assert message.status == MessageStatus.FAILED, message
            assert message.last_error == WITHDRAWN_NOTE, message
    statuses = {m.status for m in messages}
    assert {MessageStatus.SENT, MessageStatus.UNCERTAIN, MessageStatus.FAILED} <= statuses
    lost = {i for index in LOST for i in edge.requests[index]}
    assert {m.status for m in messages if m.id in lost} == {MessageStatus.UNCERTAIN}
    with Session(engine) as session:
        stored_send = session.get(Send, send.id)
        stored_release = session.get(Release, release.id)
        assert stored_send is not None
        assert stored_release is not None
        assert stored_send.status == SendStatus.CANCELLED
        assert stored_send.note == WITHDRAWN_NOTE
        assert stored_send.finished_at is not None
        assert stored_release.status == ReleaseStatus.WITHDRAWN
    # Later housekeeping leaves it so: the cancelled send never goes out again.
    assert worker.sender.run_once("later") is None
    assert fire_send(engine, settings, send.id, utcnow() + timedelta(days=1)) == (
        FireOutcome.NOT_DUE
    )
