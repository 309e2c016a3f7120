"""Shared helpers for the documented-shape tests (``tests/test_webhook_shapes_*.py``; no tests
here): the live app with one provider of every webhook format, one message handed over to a
format's provider, a body posted as that provider posts it (authenticated), and what came of it.

Each shape test builds its body from the provider's documentation (field names, value kinds,
nesting), posts it over loopback to the real app and reads the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from distro.models import Message
from tests.test_webhooks_support import (
    Live,
    LiveFactory,
    handed_over,
    statuses,
    stored_events,
    suppressions,
)
from tests.webhook_samples import PROVIDERS, all_formats, post_authenticated, signing_keys

#: The address every shape test's message goes to.
TO = "jo.reporter@news.example"


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """Signing keys for every format (SendGrid's and SNS's are slow to make: one set a module)."""
    return signing_keys()


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, keys: dict[str, str]) -> Live:
    return all_formats(engine, live_factory, keys)


def message_for(live: Live, wire_format: str, provider_id: str, email: str = TO) -> Message:
    """One sent message through ``wire_format``'s provider, with ``provider_id`` as its id."""
    return handed_over(live.engine, live.settings, PROVIDERS[wire_format], [email], [provider_id])[
        0
    ]


def post(live: Live, keys: dict[str, str], wire_format: str, value: Any) -> httpx.Response:
    """``value`` posted as the format's provider posts it (see ``post_authenticated``)."""
    response: httpx.Response = post_authenticated(live, keys, wire_format, value)
    return response


@dataclass(frozen=True)
class Outcome:
    """What one posted body left behind."""

    types: list[str]  # stored event types, in order
    detail: dict[str, Any]  # the last stored event's detail, without the raw body
    message_ids: list[int | None]  # the message each stored event was applied to
    status: str  # the message's status now
    suppression: tuple[str, int | None] | None  # (reason, causing event) of its address


def outcome(live: Live, message: Message) -> Outcome:
    rows = stored_events(live.engine)
    detail = dict(rows[-1].detail) if rows else {}
    detail.pop("raw", None)
    return Outcome(
        types=[row.type for row in rows],
        detail=detail,
        message_ids=[row.message_id for row in rows],
        status=statuses(live.engine, [message])[0],
        suppression=suppressions(live.engine).get(message.email),
    )


def assert_applied(
    live: Live,
    message: Message,
    event_type: str,
    bounce_type: str,
    suppressed: str | None,
    status: str,
) -> Outcome:
    """One event of ``event_type`` stored and applied to ``message``, with the bounce type, the
    suppression reason (or none) and the message status a documented shape should give."""
    found = outcome(live, message)
    assert found.types == [event_type]
    assert found.message_ids == [message.id]
    assert found.detail.get("bounce_type", "") == bounce_type
    assert (found.suppression or (None,))[0] == suppressed
    assert found.status == status
    return found


def accepted(response: httpx.Response, stored: int = 1) -> None:
    """A 2xx answer saying ``stored`` new events were stored."""
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == stored, response.text
