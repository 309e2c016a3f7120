"""Amazon SES API v2: ``POST /v2/email/outbound-emails`` (SendEmail), one message per request.

Content is sent as ``Content.Raw``: the MIME message from ``to_mime`` (``distro.providers.mime``),
base64-encoded.
``Content.Simple`` with ``Headers`` would also carry List-Unsubscribe, but Raw was chosen because

* the recipient gets exactly the message distro renders everywhere else (previews, .eml, SMTP),
  List-Unsubscribe / List-Unsubscribe-Post included, with no 15-header cap, no 870-character
  printable-ASCII limit on header values and no list of headers SES refuses in Simple content;
* moto implements Raw fully (it stores the MIME as sent) but drops both ``Headers`` and the text
  part of Simple content, so only Raw lets the integration tests check what a recipient receives.

SES overrides the Message-ID and Date headers; its ``MessageId`` answer is the provider id, and our
id travels as the ``distro_message_id`` EmailTag (SES echoes tags in every event). SendBulkEmail is
template-only, so one batch is up to ``max_batch`` SendEmail calls issued concurrently through the
shared client by a pool no larger than the client's connection limit.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from distro.config import Settings
from distro.config_providers import ProviderSettings
from distro.config_providers import SesProvider as SesSettings
from distro.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)
from distro.providers.base import (
    MAX_PAUSE_SECONDS,
    MESSAGE_ID_KEY,
    HttpProvider,
    OutboundEmail,
    SendResult,
    connection_limit,
    json_or_none,
    provider_client,
)
from distro.providers.mime import to_mime

log = logging.getLogger(__name__)

SEND_PATH = "v2/email/outbound-emails"
SIGNING_SERVICE = "ses"
TAG_KEY = "distro_tag"

# Error types (without any "Exception" suffix) that mean "not now": throttling or a quota.
RETRYABLE_ERROR_TYPES = frozenset(
    {"TooManyRequests", "LimitExceeded", "SendingPaused", "Throttling"}
)
# Quota errors pause the whole provider for a while; SES gives no Retry-After for them.
QUOTA_ERROR_TYPES = frozenset({"LimitExceeded", "SendingPaused"})
QUOTA_PAUSE_SECONDS = 60.0
# EmailTag names and values: ASCII letters, digits, underscores and dashes, at most 256.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# What one email's attempt came to: a result, or a whole-request failure kept for later.
_Outcome = SendResult | ProviderError


class SesProvider(HttpProvider):
    """SES v2 SendEmail with SigV4 from botocore; a batch is concurrent single-message calls."""

    max_batch = 50

    def __init__(
        self,
        name: str,
        client: httpx.Client,
        *,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        configuration_set: str = "",
        concurrency: int = 4,
    ) -> None:
        super().__init__(name, client)
        self.region = region
        self.configuration_set = configuration_set
        self.concurrency = max(1, concurrency)
        self._signer = SigV4Auth(
            Credentials(access_key_id, secret_access_key), SIGNING_SERVICE, region
        )
        self._url = str(client.base_url.join(SEND_PATH))
        # Shared by every sender thread, so all batches together stay within the connection pool.
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"SES takes at most {self.max_batch} messages a batch")
        if len(emails) <= 1:
            outcomes = [self._attempt(e) for e in emails]
        else:
            outcomes = list(self._executor().map(self._attempt, emails))
        whole = _whole_batch_failure(outcomes)
        if whole is not None:
            raise whole
        return [
            outcome if isinstance(outcome, SendResult) else _failed(email, outcome)
            for email, outcome in zip(emails, outcomes, strict=True)
        ]

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Let calls in flight finish: cancelling them would lose accepted outcomes.
            pool.shutdown(wait=True)
        super().close()

    def payload(self, email: OutboundEmail) -> dict[str, Any]:
        """The SendEmail request body for one email."""
        raw = to_mime(email).as_bytes()
        tags = [{"Name": MESSAGE_ID_KEY, "Value": str(email.message_id)}]
        if email.tag:
            tags.append({"Name": TAG_KEY, "Value": _TAG_UNSAFE.sub("_", email.tag)[:256]})
        payload: dict[str, Any] = {
            # The bare address is what SES checks against verified identities; the display
            # name travels in the MIME From header.
            "FromEmailAddress": email.from_email,
            # An explicit envelope: exactly this recipient, whatever the headers say.
            "Destination": {"ToAddresses": [email.to_email]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode("ascii")}},
            "EmailTags": tags,
        }
        if self.configuration_set:
            payload["ConfigurationSetName"] = self.configuration_set
        return payload

    def signed_headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """SigV4 headers (Authorization, X-Amz-Date) for exactly this request."""
        request = AWSRequest(
            method=method, url=url, data=body, headers={"Content-Type": "application/json"}
        )
        self._signer.add_auth(request)
        return dict(request.headers.items())

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix=f"distro-ses-{self.name}"
                )
            return self._pool

    def _attempt(self, email: OutboundEmail) -> _Outcome:
        """Send one email; never raises, so one failure cannot hide another email's outcome."""
        try:
            body = json.dumps(self.payload(email), separators=(",", ":")).encode()
        except Exception as exc:  # a message that cannot be encoded never left
            log.exception("%s: cannot build message %s", self.name, email.message_id)
            return SendResult(email.message_id, False, error=f"{self.name}: cannot build: {exc}")
        try:
            response = self.post(
                self._url, content=body, headers=self.signed_headers("POST", self._url, body)
            )
            return self._result(email, response)
        except ProviderError as exc:
            return exc
        except Exception as exc:  # anything else happened after the request may have left
            log.exception("%s: unexpected failure sending %s", self.name, email.message_id)
            return SendResult(email.message_id, False, error=f"{self.name}: {exc!r}", unknown=True)

    def _result(self, email: OutboundEmail, response: httpx.Response) -> SendResult:
        body = json_or_none(response)
        if 200 <= response.status_code < 300:
            provider_id = body.get("MessageId") if isinstance(body, dict) else None
            if isinstance(provider_id, str) and provider_id:
                return SendResult(email.message_id, True, provider_message_id=provider_id)
            # Accepted by something, but nothing we can match events against: let staff decide.
            return SendResult(
                email.message_id,
                False,
                error=f"{self.name}: HTTP {response.status_code} without a MessageId",
                unknown=True,
            )
        kind, message = _error_of(response, body)
        if kind in QUOTA_ERROR_TYPES:
            pause = min(QUOTA_PAUSE_SECONDS, MAX_PAUSE_SECONDS)
            self.resume_at = max(self.resume_at, time.monotonic() + pause)
        return SendResult(
            email.message_id,
            False,
            error=f"{self.name}: {kind or 'HTTP ' + str(response.status_code)}: {message}",
            retryable=kind in RETRYABLE_ERROR_TYPES,
        )


def _error_of(response: httpx.Response, body: Any) -> tuple[str, str]:
    """AWS's error type (short form, without "Exception") and message."""
    kind = response.headers.get("x-amzn-ErrorType", "")
    message = ""
    if isinstance(body, dict):
        kind = kind or str(body.get("__type") or body.get("code") or "")
        message = str(body.get("message") or body.get("Message") or "")
    # "MessageRejected:http://internal.amazon.com/..." and "com.amazonaws...#MessageRejected".
    kind = kind.split(":", 1)[0].rpartition("#")[2].strip()
    kind = kind.removesuffix("Exception")
    return kind, message or response.text[:300].strip() or response.reason_phrase


def _failed(email: OutboundEmail, exc: ProviderError) -> SendResult:
    """One email's whole-request failure as its own result."""
    return SendResult(
        email.message_id,
        False,
        error=str(exc),
        retryable=isinstance(exc, RetryableProviderError),
        unknown=isinstance(exc, OutcomeUnknownError),
    )


def _whole_batch_failure(outcomes: Sequence[_Outcome]) -> ProviderError | None:
    """The error to raise for the batch when every email failed the same whole-request way.

    Only when nothing was accepted: refused credentials, or every call retryable (connect
    failures, 429, 5xx) so the engine gets the longest Retry-After. Anything mixed stays per email.
    """
    if not outcomes or not all(isinstance(o, ProviderError) for o in outcomes):
        return None
    errors = [o for o in outcomes if isinstance(o, ProviderError)]
    if all(isinstance(e, RetryableProviderError) for e in errors):
        retryable = [e for e in errors if isinstance(e, RetryableProviderError)]
        return max(retryable, key=lambda e: e.retry_after or 0.0)
    if all(isinstance(e, PermanentProviderError) and e.status_code in (401, 403) for e in errors):
        return errors[0]
    return None


def build_adapter(
    settings: Settings,
    name: str,
    config: ProviderSettings,
    transport: httpx.BaseTransport | None,
) -> SesProvider:
    """SES in the configured region (or at base_url, for a local emulator such as moto)."""
    if not isinstance(config, SesSettings):
        raise TypeError(f"providers.{name} is a {config.type} provider, not SES")
    limit = connection_limit(settings, config)
    client = provider_client(
        settings,
        config,
        {},
        transport,
        base_url=config.base_url or f"https://email.{config.region}.amazonaws.com",
    )
    return SesProvider(
        name,
        client,
        region=config.region,
        access_key_id=config.access_key_id,
        secret_access_key=config.secret_access_key.get_secret_value(),
        configuration_set=config.configuration_set,
        concurrency=limit,
    )
