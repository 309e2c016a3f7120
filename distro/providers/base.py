"""What every provider adapter takes and returns, and the shared HTTP plumbing.

Adapters never touch the database: they turn ``OutboundEmail`` batches into one provider request
and the answer into one ``SendResult`` per email (a batch can partly fail). Whole-request failures
are raised from the ``distro.errors.ProviderError`` tree so the engine can retry, give up, or hold
messages whose fate is unknown.
"""

from __future__ import annotations

import abc
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from distro.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)

# Metadata key under which our own message id travels, to come back in webhooks.
MESSAGE_ID_KEY = "distro_message_id"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True, slots=True)
class OutboundEmail:
    """One personalised email, ready for a provider."""

    message_id: int
    to_email: str
    subject: str
    html: str
    text: str
    from_email: str
    from_name: str = ""
    to_name: str = ""
    reply_to: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    tag: str = ""
    # Stable across retries of the same message, for providers that honour one.
    idempotency_key: str = ""

    @property
    def sender(self) -> str:
        return email.utils.formataddr((self.from_name, self.from_email))

    @property
    def recipient(self) -> str:
        return email.utils.formataddr((self.to_name, self.to_email))


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's answer for one email of a batch."""

    message_id: int
    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False


class Provider(abc.ABC):
    """An email API. Subclasses fill in how a batch becomes a request and an answer results."""

    #: How many emails one request may carry.
    max_batch: int = 1
    #: Whether resending with the same idempotency key can never duplicate a message.
    honours_idempotency_key: bool = False

    def __init__(self, name: str, client: httpx.Client) -> None:
        self.name = name
        self.client = client

    @abc.abstractmethod
    def send_batch(self, emails: Sequence[OutboundEmail]) -> list[SendResult]:
        """Hand ``emails`` (at most ``max_batch``) over; one result per email, in order."""

    def close(self) -> None:
        self.client.close()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST with failures classified by what they say about delivery."""
        try:
            response = self.client.post(path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the provider: safe to send again.
            raise RetryableProviderError(f"{self.name}: cannot connect: {exc}") from exc
        except httpx.TransportError as exc:
            # The request may have been read and acted upon before the answer was lost.
            raise OutcomeUnknownError(f"{self.name}: answer lost: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableProviderError(
                f"{self.name}: HTTP {response.status_code}: {_snippet(response)}",
                status_code=response.status_code,
                retry_after=retry_after_seconds(response.headers),
            )
        if response.status_code in (401, 403):
            raise PermanentProviderError(
                f"{self.name}: credentials refused (HTTP {response.status_code}): "
                f"{_snippet(response)}",
                status_code=response.status_code,
            )
        return response


def _snippet(response: httpx.Response, limit: int = 300) -> str:
    return response.text[:limit].strip() or response.reason_phrase


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta or HTTP date) or an epoch rate-limit reset."""
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get("retry-after")
    moment = now or datetime.now(UTC)
    if value:
        if value.strip().isdigit():
            return float(value.strip())
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - moment).total_seconds())
    reset = lowered.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, int(reset) - moment.timestamp())
    return None


def make_client(
    base_url: str,
    headers: Mapping[str, str],
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 16,
) -> httpx.Client:
    """The one shared client per provider: pooled, with timeouts, safe across threads."""
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers),
        timeout=DEFAULT_TIMEOUT,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        transport=transport,
    )


__all__ = [
    "MESSAGE_ID_KEY",
    "OutboundEmail",
    "Provider",
    "ProviderError",
    "SendResult",
    "make_client",
    "retry_after_seconds",
]
