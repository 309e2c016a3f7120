"""The outgoing-webhook services return frozen views (never a row, never the sealed secret),
whose ``as_dict`` is the JSON `distro hooks ... --json` has always printed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from distro.outgoing.destinations import Destinations
from distro.outgoing.endpoints import (
    add_endpoint,
    delivery_log,
    list_endpoints,
    remove_endpoint,
    rotate_secret,
    set_active,
)
from distro.outgoing.post import Attempt
from distro.outgoing.views import DeliveryView, EndpointSecret, EndpointView, RemovedEndpoint

KEY = "a-server-key-long-enough-for-the-vault"
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VIEW = EndpointView(
    id=1,
    url="https://x.example/in",
    status="ok",
    events=("bounced",),
    send_id=None,
    cursor_event_id=4,
    consecutive_failures=0,
    failing_since=None,
    gave_up_at=None,
    next_attempt_at=None,
    last_error=None,
    last_success_at=AT,
    created_at=AT,
)


def test_the_endpoint_json_keys_are_the_printed_ones() -> None:
    assert list(VIEW.as_dict()) == [
        "id",
        "url",
        "status",
        "events",
        "send_id",
        "cursor_event_id",
        "consecutive_failures",
        "failing_since",
        "gave_up_at",
        "next_attempt_at",
        "last_error",
        "last_success_at",
        "created_at",
    ]
    assert VIEW.as_dict()["events"] == ["bounced"]
    assert VIEW.as_dict()["created_at"] == AT.isoformat()
    assert "secret" not in VIEW.as_dict()


def test_a_secret_and_a_removal_add_their_key_last() -> None:
    endpoint, secret = EndpointSecret(VIEW, "s3cret")
    assert (endpoint, secret) == (VIEW, "s3cret")
    assert list(EndpointSecret(VIEW, "s3cret").as_dict())[-1] == "secret"
    assert RemovedEndpoint(VIEW).as_dict()["removed"] is True


def test_a_delivery_gives_its_attempt_in_iso_8601() -> None:
    entry = DeliveryView(9, "ping", AT, None, None, 0, False, None, "refused", 12)
    assert entry.as_dict()["attempted_at"] == AT.isoformat()
    assert list(entry.as_dict())[-1] == "duration_ms"


def test_every_endpoint_service_returns_a_view(engine: Engine) -> None:
    anywhere = Destinations(allow_private=True)
    added = add_endpoint(engine, "http://127.0.0.1:9/in", KEY, destinations=anywhere)
    assert isinstance(added.endpoint, EndpointView)
    assert added.endpoint.status == "ok"
    assert list_endpoints(engine) == [added.endpoint]
    assert set_active(engine, added.endpoint.id, False).status == "paused"
    rotated = rotate_secret(engine, added.endpoint.id, KEY)
    assert rotated.secret != added.secret
    assert delivery_log(engine, added.endpoint.id) == []
    removed = remove_endpoint(engine, added.endpoint.id)
    assert (removed.endpoint.id, removed.endpoint.status) == (added.endpoint.id, "paused")
    assert list_endpoints(engine) == []


def test_a_ping_gives_its_answer_without_the_retry_hint() -> None:
    attempt = Attempt(ok=False, status_code=503, error="busy", duration_ms=7, retry_after=30.0)
    assert attempt.as_dict() == {"ok": False, "status_code": 503, "error": "busy", "duration_ms": 7}
