"""Outgoing webhooks against a real loopback receiver and a real database: payload, signature,
order, cursor, retries and backoff, Retry-After, giving up, filters, leases between workers, and
the worker's scheduled job."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select
from typing_extensions import Unpack

from distro.config import Settings
from distro.db import make_engine, upgrade
from distro.errors import NotFoundError, ValidationError
from distro.models import Event, EventType, OutgoingDelivery, OutgoingWebhook
from distro.models.types import utcnow
from distro.outgoing.claims import claim_batch, lease_for, record_attempt
from distro.outgoing.delivery import Deliverer
from distro.outgoing.destinations import Destinations
from distro.outgoing.endpoints import (
    add_endpoint,
    check_url,
    parse_event_types,
    remove_endpoint,
    set_active,
    status,
)
from distro.outgoing.post import Attempt
from distro.outgoing.signing import signature_header, verify_signature
from distro.outgoing.vault import new_secret, seal, unseal
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.event import BounceKind, NormalisedEvent, Said
from distro.tracking.events import store_events
from distro.worker import Worker
from tests.cli_support import free_port
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of
from tests.waiting import wait_until

SERVER_KEY = "test-secret-" + "x" * 20  # what make_settings configures
# The receivers here listen on loopback, which distro refuses unless configured to allow it.
ANYWHERE = Destinations(allow_private=True)

# --- a receiver on loopback --------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"thanks"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_ids(self) -> list[int]:
        return [int(e["id"]) for e in self.json["events"]]

    @property
    def endpoint(self) -> int:
        return int(self.json["endpoint"])


class Receiver:
    """An HTTP server that records every POST and answers from a queue of replies (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                entry = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with receiver.lock:
                    receiver.requests.append(entry)
                    reply = receiver.replies.popleft() if receiver.replies else Reply()
                time.sleep(reply.delay)
                entry.finished = time.monotonic()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *_: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


# --- helpers ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def hook_settings(engine: Engine, **outgoing: Any) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        outgoing_webhooks={
            "settle_seconds": 0,
            "retry_base_seconds": 10,
            # The receiver listens on loopback.
            "allow_private_addresses": True,
            **outgoing,
        },
    )


@pytest.fixture
def deliverers() -> Iterator[Callable[..., Deliverer]]:
    made: list[Deliverer] = []

    def make(engine: Engine, clock: Clock | None = None, **outgoing: Any) -> Deliverer:
        deliverer = Deliverer(
            hook_settings(engine, **outgoing), engine, SERVER_KEY, clock=clock or Clock()
        )
        made.append(deliverer)
        return deliverer

    yield make
    for deliverer in made:
        deliverer.close()


def sent_messages(engine: Engine, count: int, list_name: str) -> tuple[int, int, list[int]]:
    """A fired send of ``count`` fresh contacts: (send id, release id, message ids)."""
    add_contacts(engine, count, list_name, domain=f"{list_name}.example")
    release = add_release(engine, title=f"Release for {list_name}")
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=[list_name]), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    return send.id, release.id, [m.id for m in messages_of(engine, send.id) if m.id]


_counter = iter(range(1, 1_000_000))


def store(
    engine: Engine,
    kind: EventType,
    message_id: int | None,
    recipient: str = "",
    raw: Any = None,
    **said: Unpack[Said],
) -> int:
    """Store one event through the store path; return its id. It is believed on its message
    id alone, as our own signed links are."""
    provider_event_id = f"evt-{next(_counter)}"
    event = NormalisedEvent(
        type=kind,
        provider_event_id=provider_event_id,
        occurred_at=utcnow() - timedelta(minutes=1),
        recipient=recipient,
        message_id=message_id,
        signed_link=True,
        raw=raw,
        **said,
    )
    assert store_events(engine, "sandbox", [event]) == 1
    with Session(engine) as session:
        found = session.exec(
            select(Event).where(Event.provider_event_id == provider_event_id)
        ).one()
        assert found.id is not None
        return found.id


def endpoint(engine: Engine, endpoint_id: int) -> OutgoingWebhook:
    with Session(engine) as session:
        found = session.get(OutgoingWebhook, endpoint_id)
        assert found is not None
        return found


def log_rows(engine: Engine, endpoint_id: int) -> list[OutgoingDelivery]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutgoingDelivery)
                .where(OutgoingDelivery.endpoint_id == endpoint_id)
                .order_by(col(OutgoingDelivery.id))
            )
        )


def register(engine: Engine, url: str, **filters: Any) -> tuple[int, str]:
    hook, secret = add_endpoint(engine, url, SERVER_KEY, destinations=ANYWHERE, **filters)
    assert hook.id is not None
    return hook.id, secret


# --- signing and secrets ------------------------------------------------------------------------


def test_signature_verifies_and_tampering_or_staleness_does_not() -> None:
    secret = new_secret()
    body = b'{"events":[{"id":1}]}'
    now = time.time()
    stamp = str(int(now))
    header = signature_header(secret, stamp, body)
    assert header.startswith("v1=")
    assert len(header) == 3 + 64
    assert verify_signature(secret, stamp, body, header, now=now)
    assert not verify_signature(secret, stamp, body + b" ", header, now=now)
    assert not verify_signature(new_secret(), stamp, body, header, now=now)
    assert not verify_signature(secret, str(int(now) + 1), body, header, now=now)
    assert not verify_signature(secret, stamp, body, header, tolerance=300, now=now + 301)
    assert not verify_signature(secret, stamp, body, header, tolerance=300, now=now - 301)
    assert not verify_signature(secret, "soon", body, header, now=now)
    assert not verify_signature(secret, stamp, body, header.replace("v1=", "v0="), now=now)
    rolled = f"v1={'0' * 64}, {header}"
    assert verify_signature(secret, stamp, body, rolled, now=now)


def test_secrets_are_sealed_and_another_server_key_cannot_read_them() -> None:
    secret = new_secret()
    sealed = seal(secret, SERVER_KEY)
    assert secret not in sealed
    assert unseal(sealed, SERVER_KEY) == secret
    with pytest.raises(Exception, match="rotate-secret 7"):
        unseal(sealed, "another-key", 7)


# --- registering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("https:///nohost", "no host"),
        ("https://user:pw@example.org/x", "credentials"),
        ("https://example.org:99999/x", "port"),
        ("https://example.org/a b", "a space"),
        ("", "empty"),
    ],
)
def test_only_plain_http_urls_are_accepted(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        check_url(url)


def test_event_filter_and_send_are_checked(engine: Engine) -> None:
    assert parse_event_types("Bounced, delivered") == ["bounced", "delivered"]
    assert parse_event_types(None) == []
    with pytest.raises(ValidationError, match=r"'bounce'.*choose from queued"):
        parse_event_types("delivered,bounce")
    with pytest.raises(NotFoundError, match="no send with id 42"):
        add_endpoint(
            engine, "https://hooks.example/x", SERVER_KEY, send_id=42, destinations=ANYWHERE
        )
    with Session(engine) as session:
        assert session.exec(select(OutgoingWebhook)).all() == []


# --- delivery -------------------------------------------------------------------------------------


def test_events_arrive_signed_in_order_with_their_fields_and_the_cursor_moves(
    any_engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    engine = any_engine
    send_id, release_id, (m1, m2, m3) = sent_messages(engine, 3, "wire")
    hook_id, secret = register(engine, receiver.url)
    delivered = store(engine, EventType.DELIVERED, m1, mta_response="250 ok")
    bounced = store(
        engine,
        EventType.BOUNCED,
        m2,
        bounce_kind=BounceKind.HARD,
        reason="HardBounce",
        mta_response="smtp; 550 5.1.1 user unknown",
        raw={"RecordType": "Bounce"},
    )
    clicked = store(engine, EventType.CLICKED, m3, click_url="https://acme.example/story")
    stray = store(engine, EventType.COMPLAINED, None, recipient="who@else.example")

    deliverer = deliverers(engine)
    assert deliverer.run("w1") == 1
    (request,) = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-distro-delivery"] == f"{hook_id}-{delivered}-{stray}"
    stamp = request.headers["x-distro-timestamp"]
    assert abs(int(stamp) - time.time()) < 60
    assert verify_signature(secret, stamp, request.body, request.headers["x-distro-signature"])
    tampered = request.body.replace(b"hard", b"soft")
    assert tampered != request.body
    assert not verify_signature(secret, stamp, tampered, request.headers["x-distro-signature"])

    payload = request.json
    assert payload["endpoint"] == hook_id
    assert payload["delivery"] == request.headers["x-distro-delivery"]
    assert request.event_ids == [delivered, bounced, clicked, stray]
    by_id = {e["id"]: e for e in payload["events"]}
    assert by_id[bounced] == {
        "id": bounced,
        "type": "bounced",
        "occurred_at": by_id[bounced]["occurred_at"],
        "message_id": m2,
        "send_id": send_id,
        "release_id": release_id,
        "recipient": "reporter1@wire.example",
        "provider": "sandbox",
        "detail": {
            "bounce_type": "hard",
            "reason": "HardBounce",
            "mta_response": "smtp; 550 5.1.1 user unknown",
        },
    }
    occurred = datetime.fromisoformat(by_id[bounced]["occurred_at"])
    assert occurred.utcoffset() == timedelta(0)
    assert by_id[clicked]["detail"] == {"url": "https://acme.example/story"}
    assert by_id[stray]["message_id"] is None
    assert by_id[stray]["send_id"] is None
    assert by_id[stray]["recipient"] == "who@else.example"

    state = endpoint(engine, hook_id)
    assert state.cursor_event_id == stray
    assert state.batch_last_id is None
    assert state.lease_owner is None
    assert status(state) == "ok"
    (entry,) = log_rows(engine, hook_id)
    assert (entry.kind, entry.ok, entry.status_code, entry.error) == ("events", True, 200, None)
    assert (entry.first_event_id, entry.last_event_id, entry.event_count) == (delivered, stray, 4)
    assert entry.duration_ms >= 0

    assert deliverer.run("w1") == 0
    later = store(engine, EventType.OPENED, m1)
    assert deliverer.run("w1") == 1
    assert receiver.requests[-1].event_ids == [later]
    assert endpoint(engine, hook_id).cursor_event_id == later


def test_a_backlog_goes_in_batches_of_batch_size(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    _, _, messages = sent_messages(engine, 7, "wire")
    hook_id, _ = register(engine, receiver.url)
    ids = [store(engine, EventType.DELIVERED, m) for m in messages]
    assert deliverers(engine, batch_size=3).run("w1") == 3
    assert [r.event_ids for r in receiver.requests] == [ids[:3], ids[3:6], ids[6:]]
    assert endpoint(engine, hook_id).cursor_event_id == ids[-1]
    assert [row.event_count for row in log_rows(engine, hook_id)] == [3, 3, 1]


def test_a_failed_batch_backs_off_then_goes_again_exactly(
    any_engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    engine = any_engine
    _, _, (m1, m2) = sent_messages(engine, 2, "wire")
    hook_id, _ = register(engine, receiver.url)
    first = store(engine, EventType.DELIVERED, m1)
    receiver.answer(Reply(500, body=b"database down"), Reply(503))
    clock = Clock()
    deliverer = deliverers(engine, clock, retry_base_seconds=10, retry_cap_seconds=1000)

    assert deliverer.run("w1") == 1
    state = endpoint(engine, hook_id)
    assert state.consecutive_failures == 1
    assert state.cursor_event_id == 0
    assert state.last_error == "HTTP 500: database down"
    assert state.failing_since == clock.now
    assert state.next_attempt_at is not None
    assert timedelta(seconds=5) <= state.next_attempt_at - clock.now <= timedelta(seconds=10)
    assert status(state) == "retrying"

    newer = store(engine, EventType.DELIVERED, m2)  # must not join the batch being retried
    assert deliverer.run("w1") == 0  # not due yet
    clock.advance(10.5)
    assert deliverer.run("w1") == 1
    state = endpoint(engine, hook_id)
    assert state.consecutive_failures == 2
    assert state.next_attempt_at is not None
    assert timedelta(seconds=10) <= state.next_attempt_at - clock.now <= timedelta(seconds=20)

    clock.advance(20.5)
    assert deliverer.run("w1") == 2  # the retried batch, accepted, then the newer event
    assert [r.event_ids for r in receiver.requests] == [[first], [first], [first], [newer]]
    deliveries = [r.headers["x-distro-delivery"] for r in receiver.requests]
    assert deliveries[:3] == [f"{hook_id}-{first}-{first}"] * 3
    state = endpoint(engine, hook_id)
    assert (state.cursor_event_id, state.consecutive_failures) == (newer, 0)
    assert state.failing_since is None
    assert state.last_error is None
    assert [(r.ok, r.status_code) for r in log_rows(engine, hook_id)] == [
        (False, 500),
        (False, 503),
        (True, 200),
        (True, 200),
    ]


def test_retry_after_is_honoured_up_to_its_limit(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    hook_id, _ = register(engine, receiver.url)
    store(engine, EventType.DELIVERED, m1)
    receiver.answer(Reply(429, {"Retry-After": "120"}), Reply(503, {"Retry-After": "86400"}))
    clock = Clock()
    deliverer = deliverers(engine, clock, retry_base_seconds=1, max_retry_after_seconds=600)

    deliverer.run("w1")
    state = endpoint(engine, hook_id)
    assert state.next_attempt_at is not None
    assert state.next_attempt_at - clock.now == timedelta(seconds=120)
    clock.advance(119)
    assert deliverer.run("w1") == 0
    clock.advance(1)
    assert deliverer.run("w1") == 1
    state = endpoint(engine, hook_id)
    assert state.next_attempt_at is not None
    assert state.next_attempt_at - clock.now == timedelta(seconds=600)
    assert state.last_error is not None
    assert state.last_error.startswith("HTTP 503")


def test_no_connection_and_timeouts_are_retried(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    nobody, _ = register(engine, f"http://127.0.0.1:{free_port()}/hook")
    slow, _ = register(engine, receiver.url)
    event = store(engine, EventType.DELIVERED, m1)
    receiver.answer(Reply(delay=1.5))
    clock = Clock()
    deliverer = deliverers(engine, clock, timeout_seconds=0.5)

    assert deliverer.run("w1") == 2
    (refused,) = log_rows(engine, nobody)
    assert (refused.ok, refused.status_code) == (False, None)
    assert refused.error is not None
    assert "ConnectError" in refused.error
    (timed_out,) = log_rows(engine, slow)
    assert (timed_out.ok, timed_out.status_code) == (False, None)
    assert timed_out.error is not None
    assert "timed out" in timed_out.error
    # The log shows the time it waited, and "timed out" that it gave up rather than waiting
    # for the slow answer (which would have been a success).
    assert timed_out.duration_ms >= 400
    assert endpoint(engine, slow).cursor_event_id == 0

    clock.advance(11)
    deliverer.run("w1")
    assert endpoint(engine, slow).cursor_event_id == event
    assert endpoint(engine, nobody).consecutive_failures == 2
    # At least once: the receiver saw the batch whose answer it was too slow to give, again.
    assert [r.headers["x-distro-delivery"] for r in receiver.requests] == [
        f"{slow}-{event}-{event}"
    ] * 2


def test_an_endpoint_failing_long_enough_is_given_up_until_resumed(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    hook_id, _ = register(engine, receiver.url)
    event = store(engine, EventType.DELIVERED, m1)
    receiver.answer(*[Reply(500)] * 10)
    clock = Clock()
    deliverer = deliverers(
        engine,
        clock,
        retry_base_seconds=1,
        retry_cap_seconds=60,
        give_up_failures=3,
        give_up_after_seconds=3600,
    )
    start = clock.now
    attempts = 0
    while endpoint(engine, hook_id).gave_up_at is None:
        attempts += deliverer.run("w1")
        clock.advance(600)
        assert attempts < 10
    state = endpoint(engine, hook_id)
    # Three failures came quickly, but giving up waited for an hour of them.
    assert attempts == 7
    assert state.failing_since == start
    assert state.gave_up_at == start + timedelta(seconds=3600)
    assert status(state) == "failing"
    clock.advance(7 * 86400)
    assert deliverer.run("w1") == 0
    assert len(receiver.requests) == 7

    receiver.replies.clear()
    assert set_active(engine, hook_id, True).status == "ok"
    assert deliverer.run("w1") == 1
    state = endpoint(engine, hook_id)
    assert (state.cursor_event_id, state.consecutive_failures, state.gave_up_at) == (
        event,
        0,
        None,
    )


def test_a_paused_endpoint_waits_and_loses_nothing(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    _, _, (m1, m2) = sent_messages(engine, 2, "wire")
    hook_id, _ = register(engine, receiver.url)
    set_active(engine, hook_id, False)
    ids = [store(engine, EventType.DELIVERED, m) for m in (m1, m2)]
    deliverer = deliverers(engine)
    assert deliverer.run("w1") == 0
    set_active(engine, hook_id, True)
    assert deliverer.run("w1") == 1
    assert receiver.requests[0].event_ids == ids


def test_filters_by_type_and_send_and_the_cursor_skips_what_does_not_match(
    any_engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    engine = any_engine
    send_a, _, (a1, a2) = sent_messages(engine, 2, "wire")
    send_b, _, (b1, b2) = sent_messages(engine, 2, "daily")
    by_type, _ = register(engine, receiver.url, event_types=["delivered", "bounced"])
    by_send, _ = register(engine, receiver.url, send_id=send_b)
    both, _ = register(engine, receiver.url, event_types=["clicked"], send_id=send_a)
    events = {
        "a1 delivered": store(engine, EventType.DELIVERED, a1),
        "b1 bounced": store(engine, EventType.BOUNCED, b1, bounce_kind=BounceKind.SOFT),
        "a2 clicked": store(engine, EventType.CLICKED, a2, click_url="https://x.example"),
        "b2 clicked": store(engine, EventType.CLICKED, b2, click_url="https://y.example"),
        "b2 opened": store(engine, EventType.OPENED, b2),
        "stray delivered": store(engine, EventType.DELIVERED, None, recipient="x@y.example"),
    }
    last = max(events.values())
    deliverers(engine).run("w1")
    got: dict[int, list[int]] = {}
    for request in receiver.requests:
        got.setdefault(request.endpoint, []).extend(request.event_ids)
    assert got == {
        by_type: [events["a1 delivered"], events["b1 bounced"], events["stray delivered"]],
        by_send: [events["b1 bounced"], events["b2 clicked"], events["b2 opened"]],
        both: [events["a2 clicked"]],
    }
    assert {endpoint(engine, h).cursor_event_id for h in (by_type, by_send, both)} == {last}

    nothing, _ = register(engine, receiver.url, event_types=["complained"], from_start=True)
    assert endpoint(engine, nothing).cursor_event_id == 0
    deliverers(engine).run("w1")
    assert endpoint(engine, nothing).cursor_event_id == last  # moved on without a request
    assert log_rows(engine, nothing) == []


def test_a_new_endpoint_gets_events_from_now_on_unless_from_start(
    engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    old = store(engine, EventType.DELIVERED, None, recipient="a@wire.example")
    from_now, _ = register(engine, receiver.url)
    everything, _ = register(engine, receiver.url, from_start=True)
    new = store(engine, EventType.OPENED, None, recipient="a@wire.example")
    deliverers(engine).run("w1")
    got = {r.endpoint: r.event_ids for r in receiver.requests}
    assert got == {from_now: [new], everything: [old, new]}


def test_a_lease_keeps_other_workers_off_until_it_expires(
    any_engine: Engine, receiver: Receiver
) -> None:
    engine = any_engine
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    hook_id, _ = register(engine, receiver.url)
    event = store(engine, EventType.DELIVERED, m1)
    config = hook_settings(engine).outgoing_webhooks
    now = utcnow()
    first = claim_batch(engine, "worker-a", config, now)
    assert first is not None
    assert claim_batch(engine, "worker-b", config, now) is None
    assert claim_batch(engine, "worker-b", config, now + lease_for(config)) is None
    # worker-a died: after the lease, worker-b gets exactly the same batch.
    second = claim_batch(engine, "worker-b", config, now + lease_for(config) + timedelta(1))
    assert second is not None
    assert (second.endpoint_id, second.events, second.upto) == (hook_id, first.events, event)
    record_attempt(engine, "worker-b", second, Attempt(True, 200, None, 3), config, now)
    # worker-a's late failure must not undo worker-b's success.
    record_attempt(engine, "worker-a", first, Attempt(False, 500, "HTTP 500", 3), config, now)
    state = endpoint(engine, hook_id)
    assert (state.cursor_event_id, state.consecutive_failures) == (event, 0)
    assert len(log_rows(engine, hook_id)) == 2


def test_two_workers_never_post_the_same_endpoint_at_once_nor_a_batch_twice(
    database_url: str, receiver: Receiver
) -> None:
    engines = [make_engine(database_url) for _ in range(2)]
    upgrade(engines[0])
    engine = engines[0]
    try:
        _, _, messages = sent_messages(engine, 30, "wire")
        hooks = [register(engine, receiver.url)[0] for _ in range(3)]
        expected = [store(engine, EventType.DELIVERED, m) for m in messages]
        receiver.answer(*[Reply(delay=0.02)] * 1000)
        workers = [Deliverer(hook_settings(e, batch_size=4), e, SERVER_KEY) for e in engines]
        done = [0, 0]

        def work(index: int) -> None:
            for _ in range(3):
                done[index] += workers[index].run(f"worker-{index}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for worker in workers:
            worker.close()
    finally:
        for e in engines:
            e.dispose()
    assert sum(done) == len(receiver.requests) == 3 * 8  # 30 events in batches of 4, x3
    assert all(done), done  # both took part
    for hook_id in hooks:
        requests = [r for r in receiver.requests if r.endpoint == hook_id]
        ids = [i for r in requests for i in r.event_ids]
        assert ids == expected  # each event once, in order
        spans = sorted((r.started, r.finished) for r in requests)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_postgresql_waits_for_events_to_settle_sqlite_need_not(
    any_engine: Engine, receiver: Receiver, deliverers: Callable[..., Deliverer]
) -> None:
    engine = any_engine
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    register(engine, receiver.url)
    store(engine, EventType.DELIVERED, m1)
    clock = Clock()
    deliverer = deliverers(engine, clock, settle_seconds=30)
    if engine.dialect.name == "sqlite":
        assert deliverer.run("w1") == 1
        return
    assert deliverer.run("w1") == 0
    clock.advance(31)
    assert deliverer.run("w1") == 1


def test_a_secret_sealed_under_another_server_key_fails_clearly_without_posting(
    engine: Engine, receiver: Receiver
) -> None:
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    hook_id, _ = register(engine, receiver.url)
    store(engine, EventType.DELIVERED, m1)
    deliverer = Deliverer(hook_settings(engine), engine, "a-different-server-key")
    try:
        assert deliverer.run("w1") == 1
    finally:
        deliverer.close()
    assert receiver.requests == []
    state = endpoint(engine, hook_id)
    assert state.last_error is not None
    assert f"distro hooks rotate-secret {hook_id}" in state.last_error


def test_removing_an_endpoint_during_a_delivery_is_harmless(
    engine: Engine, receiver: Receiver
) -> None:
    _, _, (m1,) = sent_messages(engine, 1, "wire")
    hook_id, _ = register(engine, receiver.url)
    store(engine, EventType.DELIVERED, m1)
    config = hook_settings(engine).outgoing_webhooks
    batch = claim_batch(engine, "w1", config, utcnow())
    assert batch is not None
    remove_endpoint(engine, hook_id)
    record_attempt(engine, "w1", batch, Attempt(True, 200, None, 1), config, utcnow())
    with Session(engine) as session:
        assert session.exec(select(OutgoingDelivery)).all() == []


def test_the_worker_runs_delivery_as_a_scheduled_job(engine: Engine, receiver: Receiver) -> None:
    hook_id, secret = register(engine, receiver.url)
    settings = hook_settings(engine, interval_seconds=0.2)
    worker = Worker(settings, engine).start()
    try:
        event = store(engine, EventType.DELIVERED, None, recipient="ana@wire.example")
        wait_until(lambda: receiver.requests, timeout=20, waiting_for="a delivery to arrive")
    finally:
        worker.stop()
    (request,) = receiver.requests
    assert request.event_ids == [event]
    assert verify_signature(
        secret,
        request.headers["x-distro-timestamp"],
        request.body,
        request.headers["x-distro-signature"],
    )
    assert endpoint(engine, hook_id).cursor_event_id == event


def test_migration_0008_matches_the_models(any_engine: Engine) -> None:
    ours = {"outgoing_webhooks", "outgoing_webhook_deliveries"}
    with any_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert ours <= set(SQLModel.metadata.tables)
    assert [d for d in diff if ours & set(_tables_named(d))] == []


def _tables_named(diff: Any) -> list[str]:
    """Table names anywhere in one compare_metadata entry."""
    found: list[str] = []
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None) or getattr(
                getattr(part, "table", None), "name", None
            )
            if isinstance(part, str):
                found.append(part)
            elif isinstance(name, str):
                found.append(name)
    return found
