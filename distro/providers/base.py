"""What every provider adapter takes and returns (``Provider``), and the shared HTTP plumbing
(``HttpProvider``) that all but SMTP use.

Adapters never touch the database: they turn ``OutboundEmail`` batches into one provider request
and the answer into one ``SendResult`` per email (a batch can partly fail). Whole-request failures
are raised from the ``distro.errors.ProviderError`` tree so the engine can retry, give up, or hold
messages whose fate is unknown.
"""

from __future__ import annotations

import abc
import email.utils
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import httpx
import orjson

from distro.config import Settings
from distro.config_providers import ProviderSettings
from distro.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)
from distro.providers.addresses import display_address

# Metadata key under which our own message id travels, to come back in webhooks.
MESSAGE_ID_KEY = "distro_message_id"
NO_HEADERS: Mapping[str, str] = MappingProxyType({})

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


# Both value types are NamedTuples rather than frozen dataclasses: one of each is made per
# message on the send path, and a tuple is several times cheaper to build.


class OutboundEmail(NamedTuple):
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
    headers: Mapping[str, str] = NO_HEADERS
    tag: str = ""
    # Stable across retries of the same message, for providers that honour one.
    idempotency_key: str = ""

    @property
    def sender(self) -> str:
        return format_address(self.from_name, self.from_email)

    @property
    def recipient(self) -> str:
        return format_address(self.to_name, self.to_email)


def format_address(name: str, address: str) -> str:
    """``Name <address>`` with the name as UTF-8 text (see ``distro.providers.addresses``):
    never an encoded-word, and never an exception for a non-ASCII address."""
    return display_address(name, address)


class SendResult(NamedTuple):
    """The provider's answer for one email of a batch."""

    message_id: int
    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    #: The request for this email may have reached the provider but its answer was lost.
    unknown: bool = False


class Provider(abc.ABC):
    """The sending contract: a batch in, one ``SendResult`` per email out, and what the engine
    may rely on (batch size, idempotency, lookup, non-ASCII local parts, pauses).

    How the batch travels is the subclass's business: ``HttpProvider`` for the email APIs, a
    socket of its own for SMTP. One adapter serves every sender thread of a process, so
    ``send_batch`` must be thread-safe.
    """

    #: How many emails one ``send_batch`` call may carry.
    max_batch: int = 1
    #: Whether resending with the same idempotency key can never duplicate a message.
    honours_idempotency_key: bool = False
    #: Whether ``lookup`` can tell which messages the provider accepted.
    offers_lookup: bool = False
    #: Whether a non-ASCII local part (``josé@...``) may be handed over; when not, such a
    #: message is refused alone before the request (``distro.sending.provider_call``).
    accepts_non_ascii_local_part: bool = False

    def __init__(self, name: str) -> None:
        self.name = name
        # time.monotonic() before which no request should go out (a 429 or an exhausted quota):
        # the engine's gate reads it before every batch.
        self.resume_at = 0.0

    @abc.abstractmethod
    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        """Hand ``emails`` (at most ``max_batch``) over; one result per email, in order.

        ``batch_key`` is the same every time exactly this batch is handed over again after an
        unknown outcome; adapters that honour idempotency keys send it as theirs.
        """

    def lookup(self, message_ids: Sequence[int]) -> dict[int, str | None] | None:
        """Ask the provider which of our messages it accepted: our id -> its id, or None when
        it does not have that message. None overall: no lookup offered (see ``offers_lookup``).
        """
        return None

    def close(self) -> None:
        """Release what the adapter holds once its owner is done (nothing, unless overridden)."""
        return None


class HttpProvider(Provider):
    """An email API over HTTP: the shared pooled client (its timeouts and transport are set by
    ``provider_client``), failures classified by what they say about delivery, and the pauses
    that rate-limit answers ask for. Subclasses fill in how a batch becomes a request and an
    answer results.
    """

    def __init__(self, name: str, client: httpx.Client) -> None:
        super().__init__(name)
        self.client = client

    def close(self) -> None:
        self.client.close()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST with failures classified by what they say about delivery."""
        return self.request("POST", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; classify failures; note rate-limit headers for the engine."""
        try:
            response = self.client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the provider: safe to send again.
            raise RetryableProviderError(f"{self.name}: cannot connect: {exc}") from exc
        except httpx.TransportError as exc:
            # The request may have been read and acted upon before the answer was lost.
            raise OutcomeUnknownError(f"{self.name}: answer lost: {exc!r}") from exc
        self.note_rate_limit(response)
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

    def note_rate_limit(self, response: httpx.Response) -> None:
        """Pause this provider when it says so: a 429, or a quota with nothing remaining."""
        wait = None
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers) or 1.0
        elif quota_exhausted(response.headers):
            wait = retry_after_seconds(response.headers)
        if wait:
            self.resume_at = max(self.resume_at, time.monotonic() + min(wait, MAX_PAUSE_SECONDS))


# A provider's pause is capped so a bogus header cannot stall a send for hours.
MAX_PAUSE_SECONDS = 300.0


def quota_exhausted(headers: Mapping[str, str]) -> bool:
    """Whether rate headers (``X-RateLimit-Remaining`` or ``RateLimit-Remaining``) say 0."""
    for key in ("x-ratelimit-remaining", "ratelimit-remaining"):
        value = headers.get(key)
        if value is not None and value.strip() == "0":
            return True
    return False


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
    reset = lowered.get("x-ratelimit-reset")  # SendGrid: epoch seconds
    if reset and reset.strip().isdigit():
        return max(0.0, int(reset) - moment.timestamp())
    reset = lowered.get("ratelimit-reset")  # IETF draft (Resend): seconds from now
    if reset and reset.strip().isdigit():
        return float(reset)
    return None


def json_content(payload: Any) -> dict[str, Any]:
    """Keyword arguments for an httpx request with ``payload`` as a JSON body.

    orjson serialises a 500-message batch several times faster than the standard library, and
    that cost is paid for every message sent.
    """
    return {"content": orjson.dumps(payload), "headers": {"Content-Type": "application/json"}}


def json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body, or None when it has none (a proxy's HTML error page, say)."""
    try:
        return response.json()
    except ValueError:
        return None


def connection_limit(settings: Settings, config: ProviderSettings) -> int:
    """Pooled connections for one provider's client: enough for every request in flight."""
    return max(4, config.max_in_flight, settings.sending.concurrency)


def provider_client(
    settings: Settings,
    config: ProviderSettings,
    headers: Mapping[str, str],
    transport: httpx.BaseTransport | None,
    *,
    base_url: str | None = None,
) -> httpx.Client:
    """The shared client for one configured provider: its base URL, timeout and pool size."""
    return make_client(
        config.base_url if base_url is None else base_url,
        {"Accept": "application/json", **headers},
        transport=transport,
        max_connections=connection_limit(settings, config),
        timeout=config.timeout_seconds,
    )


def make_client(
    base_url: str,
    headers: Mapping[str, str],
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 16,
    timeout: float | None = None,
) -> httpx.Client:
    """The one shared client per provider: pooled, with timeouts, safe across threads."""
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers),
        timeout=DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        transport=transport,
    )


__all__ = [
    "MESSAGE_ID_KEY",
    "HttpProvider",
    "OutboundEmail",
    "Provider",
    "ProviderError",
    "SendResult",
    "make_client",
    "retry_after_seconds",
]
