"""What every webhook format produces, and the small helpers they share.

A format turns one message's events into ``Post``s. A post is rendered again for each attempt,
so the formats whose signature carries a timestamp (SendGrid, Mailgun, Svix) sign afresh and a
retry never arrives stale; its event ids are fixed when the post is built, so a retried event
repeats its id and receivers can deduplicate.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distro.sandbox.options import WebhookOptions
from distro.sandbox.outcomes import Event
from distro.sandbox.signing_keys import SandboxKeys
from distro.sandbox.store import StoredMessage

#: Body and headers of one attempt.
Rendered = tuple[bytes, dict[str, str]]


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook request; ``render`` gives the bytes and headers of one attempt."""

    label: str  # for logs: format, event, message id
    render: Callable[[], Rendered]


@dataclass(frozen=True, slots=True)
class FormatContext:
    """What formats need besides the message: options (credentials) and signing keys."""

    options: WebhookOptions
    keys: SandboxKeys


#: A format: one message and its events (in order) -> the posts reporting them (in order).
Format = Callable[[StoredMessage, Sequence[Event], FormatContext], list[Post]]

JSON_HEADERS = {"Content-Type": "application/json"}


def to_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def fixed(body: bytes, headers: dict[str, str]) -> Callable[[], Rendered]:
    """A render for a post that is the same on every attempt."""
    return lambda: (body, dict(headers))


def random_id(length: int = 22) -> str:
    """A URL-safe random id like the providers' event ids (unique, no meaning)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode()[:length]


def uuid_id() -> str:
    return str(uuid.uuid4())


def iso_z(moment: datetime) -> str:
    """``2024-05-01T12:00:00.123Z``: AWS's and Resend's timestamp form."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
