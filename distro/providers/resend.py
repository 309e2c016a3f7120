"""Resend: ``POST /emails/batch``, up to 100 complete emails a request, one id per email.

Each email goes whole (subject, bodies, headers, tags), so nothing is shared between recipients.
Our id is the ``distro_message_id`` tag, which Resend echoes in every webhook event.

Idempotency: ``batch_key`` is sent as the ``Idempotency-Key`` header. Resend keeps a key for
24 hours and answers a repeat of the same request with the first answer instead of sending again,
so the engine may resend a batch whose answer was lost (``honours_idempotency_key``).

Validation runs in Resend's permissive mode (``x-batch-validation: permissive``): an invalid
email no longer fails the other 99; the answer lists the ids of the emails created, in request
order, and ``errors`` (``index``, ``message``) for the rest, which are refused for good.

Whole-request errors are ``{"statusCode", "name", "message"}``. A 409 is about the key:
``concurrent_idempotent_requests`` means the first request with this key is still being
processed, so its outcome is unknown and the engine resends under the same key later, getting
that request's answer; ``invalid_idempotent_request`` means the key already belongs to a request
with a different body (the batch was re-rendered after a lost answer). Resending under that key
can never work and a new key could send twice, so it is refused for good, saying that the first
request may have been delivered. Other 4xx (400/422 validation) are refused for good; 429 and 5xx
are retried by ``HttpProvider.request`` (honouring ``retry-after`` and ``ratelimit-reset``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import httpx

from distro.config import Settings
from distro.config_providers import ProviderSettings
from distro.config_providers import ResendProvider as ResendSettings
from distro.errors import OutcomeUnknownError, PermanentProviderError
from distro.providers.base import (
    MESSAGE_ID_KEY,
    HttpProvider,
    OutboundEmail,
    SendResult,
    json_content,
    json_or_none,
    provider_client,
)

BATCH_PATH = "/emails/batch"
TAG_KEY = "distro_tag"
#: Resend keeps keys of at most 256 characters.
MAX_KEY_LENGTH = 256
# Tag names and values: ASCII letters, digits, underscores and dashes, at most 256.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ResendProvider(HttpProvider):
    max_batch = 100
    honours_idempotency_key = True

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"Resend takes at most {self.max_batch} messages a batch")
        request = json_content([self.payload(e) for e in emails])
        request["headers"] = {**request["headers"], "x-batch-validation": "permissive"}
        if batch_key:
            request["headers"]["Idempotency-Key"] = idempotency_key(batch_key)
        response = self.post(BATCH_PATH, **request)
        body = json_or_none(response)
        if not response.is_success:
            raise self._refusal(response, body)
        return self._results(emails, response, body)

    def payload(self, email: OutboundEmail) -> dict[str, Any]:
        """One email of the batch request."""
        tags = [{"name": MESSAGE_ID_KEY, "value": str(email.message_id)}]
        if email.tag:
            tags.append({"name": TAG_KEY, "value": _TAG_UNSAFE.sub("_", email.tag)[:256]})
        payload: dict[str, Any] = {
            "from": email.sender,
            "to": [email.recipient],
            "subject": email.subject,
            "html": email.html,
            # An empty string stops Resend from deriving a text part from the HTML.
            "text": email.text,
            "tags": tags,
        }
        if email.headers:
            payload["headers"] = dict(email.headers)
        if email.reply_to:
            payload["reply_to"] = email.reply_to
        return payload

    def _results(
        self, emails: Sequence[OutboundEmail], response: httpx.Response, body: Any
    ) -> list[SendResult]:
        data = body.get("data") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        refused: dict[int, str] = {}
        for error in errors if isinstance(errors, list) else []:
            index = error.get("index") if isinstance(error, dict) else None
            if isinstance(index, int) and 0 <= index < len(emails):
                refused[index] = str(error.get("message") or "invalid")
        created = [i for i in range(len(emails)) if i not in refused]
        ids = [item.get("id") if isinstance(item, dict) else None for item in data or []]
        readable = (
            isinstance(data, list)
            and len(ids) == len(created)
            and all(isinstance(i, str) and i for i in ids)
        )
        results: dict[int, SendResult] = {
            i: SendResult(emails[i].message_id, False, error=f"{self.name}: {message}")
            for i, message in refused.items()
        }
        found = ids if readable else [None] * len(created)
        for index, provider_id in zip(created, found, strict=True):
            if provider_id is None:
                # A success we cannot read: some or all may be queued, and nothing says which.
                results[index] = SendResult(
                    emails[index].message_id,
                    False,
                    error=f"{self.name}: HTTP {response.status_code} with an unreadable answer: "
                    f"{response.text[:200]}",
                    unknown=True,
                )
            else:
                results[index] = SendResult(
                    emails[index].message_id, True, provider_message_id=str(provider_id)
                )
        return [results[i] for i in range(len(emails))]

    def _refusal(
        self, response: httpx.Response, body: Any
    ) -> PermanentProviderError | OutcomeUnknownError:
        name = str(body.get("name") or "") if isinstance(body, dict) else ""
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        detail = f"{name}: {message}" if name else message or response.text[:300].strip()
        status = response.status_code
        if status == 409 and name == "concurrent_idempotent_requests":
            return OutcomeUnknownError(
                f"{self.name}: the first request with this idempotency key is still in "
                f"progress ({detail})",
                status_code=status,
            )
        if status == 409:
            return PermanentProviderError(
                f"{self.name}: idempotency key already used for a different request, which "
                f"may have been delivered; check before sending again ({detail})",
                status_code=status,
            )
        return PermanentProviderError(
            f"{self.name}: request refused (HTTP {status}): {detail or response.reason_phrase}",
            status_code=status,
        )


def idempotency_key(batch_key: str) -> str:
    """``batch_key`` as Resend takes it: at most 256 characters, the same every time."""
    if len(batch_key) <= MAX_KEY_LENGTH:
        return batch_key
    return "distro-" + hashlib.sha256(batch_key.encode()).hexdigest()


def build_adapter(
    settings: Settings,
    name: str,
    config: ProviderSettings,
    transport: httpx.BaseTransport | None,
) -> ResendProvider:
    """Resend with a Bearer API key (``re_...``)."""
    if not isinstance(config, ResendSettings):
        raise TypeError(f"providers.{name} is a {config.type} provider, not Resend")
    bearer = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"}
    client = provider_client(settings, config, bearer, transport)
    return ResendProvider(name, client)
