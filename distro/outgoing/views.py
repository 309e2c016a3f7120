"""What the outgoing-webhook services return: endpoints and delivery attempts as frozen values.

The services (``distro.outgoing.endpoints``) build these after their transaction, so the command
line, the web app and the API to come never hold an ORM row, and never see the sealed secret:
an endpoint's view has no field for it. ``as_dict`` is the JSON `distro hooks ... --json`
prints; its keys and their order are part of that output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class EndpointView:
    """A receiver as staff see it: its filters, where delivery stands, never its secret.

    ``status`` is paused | failing (given up on) | retrying | ok; ``events`` empty means every
    event type, ``send_id`` None every send.
    """

    id: int
    url: str
    status: str
    events: tuple[str, ...]
    send_id: int | None
    cursor_event_id: int
    consecutive_failures: int
    failing_since: datetime | None
    gave_up_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    last_success_at: datetime | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "status": self.status,
            "events": list(self.events),
            "send_id": self.send_id,
            "cursor_event_id": self.cursor_event_id,
            "consecutive_failures": self.consecutive_failures,
            "failing_since": _when(self.failing_since),
            "gave_up_at": _when(self.gave_up_at),
            "next_attempt_at": _when(self.next_attempt_at),
            "last_error": self.last_error,
            "last_success_at": _when(self.last_success_at),
            "created_at": _when(self.created_at),
        }


class EndpointSecret(NamedTuple):
    """An endpoint with its signing secret in clear: only right after adding it or rotating
    the secret, the one time it is readable. A tuple, so ``endpoint, secret = ...`` reads it."""

    endpoint: EndpointView
    secret: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.endpoint.as_dict(), "secret": self.secret}


@dataclass(frozen=True)
class RemovedEndpoint:
    """An endpoint as it was when it and its delivery log were deleted."""

    endpoint: EndpointView

    def as_dict(self) -> dict[str, Any]:
        return {**self.endpoint.as_dict(), "removed": True}


@dataclass(frozen=True)
class DeliveryView:
    """One delivery attempt: a batch of events (``first``-``last``) or a ping, and its answer
    (``status_code`` None: no HTTP answer, see ``error``)."""

    id: int
    kind: str
    attempted_at: datetime
    first_event_id: int | None
    last_event_id: int | None
    event_count: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "attempted_at": self.attempted_at.isoformat(),
            "first_event_id": self.first_event_id,
            "last_event_id": self.last_event_id,
            "event_count": self.event_count,
            "ok": self.ok,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }
