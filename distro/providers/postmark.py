"""Postmark: ``POST /email/batch``, up to 500 messages a request, one result per message."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import httpx

from distro.config import Settings
from distro.config_providers import PostmarkProvider as PostmarkSettings
from distro.config_providers import ProviderSettings
from distro.config_providers import SandboxProvider as SandboxSettings
from distro.errors import PermanentProviderError
from distro.providers.base import (
    MESSAGE_ID_KEY,
    HttpProvider,
    OutboundEmail,
    SendResult,
    format_address,
    json_content,
    json_or_none,
    provider_client,
)

# Per-message ErrorCodes worth retrying later; every other non-zero code is final.
RETRYABLE_ERROR_CODES = frozenset({429})


class PostmarkProvider(HttpProvider):
    max_batch = 500
    # Postmark's outbound message search filters on our metadata: lost answers are reconciled.
    offers_lookup = True

    def __init__(self, name: str, client: httpx.Client, *, message_stream: str) -> None:
        super().__init__(name, client)
        self.message_stream = message_stream

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"Postmark takes at most {self.max_batch} messages a batch")
        response = self.post("/email/batch", **json_content([self._payload(e) for e in emails]))
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, list) or len(body) != len(emails):
            detail = body.get("Message") if isinstance(body, dict) else response.text[:300]
            raise PermanentProviderError(
                f"{self.name}: batch refused (HTTP {response.status_code}): {detail}",
                status_code=response.status_code,
            )
        return [_result(e, item) for e, item in zip(emails, body, strict=True)]

    def lookup(self, message_ids: Sequence[int]) -> dict[int, str | None]:
        """Search sent messages by our metadata, one query per message (reconciling is rare)."""
        found: dict[int, str | None] = {}
        for message_id in message_ids:
            response = self.request(
                "GET",
                "/messages/outbound",
                params={
                    "count": 1,
                    "offset": 0,
                    f"metadata_{MESSAGE_ID_KEY}": str(message_id),
                },
            )
            body = json_or_none(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise PermanentProviderError(
                    f"{self.name}: message search refused (HTTP {response.status_code})",
                    status_code=response.status_code,
                )
            messages = body.get("Messages") or []
            first = messages[0] if messages and isinstance(messages[0], dict) else None
            found[message_id] = (
                str(first["MessageID"]) if first and first.get("MessageID") else None
            )
        return found

    @staticmethod
    def _sender(name: str, address: str) -> str:
        # The same for every message of a send; formatting it each time costs per message.
        return _formatted_sender(name, address)

    def _payload(self, email: OutboundEmail) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "From": self._sender(email.from_name, email.from_email),
            "To": email.recipient,
            "Subject": email.subject,
            "HtmlBody": email.html,
            "TextBody": email.text,
            "Headers": [{"Name": k, "Value": v} for k, v in email.headers.items()],
            "Metadata": {MESSAGE_ID_KEY: str(email.message_id)},
            "MessageStream": self.message_stream,
            # distro tracks opens and clicks itself, with signed links.
            "TrackOpens": False,
            "TrackLinks": "None",
        }
        if email.reply_to:
            payload["ReplyTo"] = email.reply_to
        if email.tag:
            payload["Tag"] = email.tag
        return payload


@functools.lru_cache(maxsize=64)
def _formatted_sender(name: str, address: str) -> str:
    return format_address(name, address)


def _result(email: OutboundEmail, item: Any) -> SendResult:
    if not isinstance(item, dict):
        return SendResult(email.message_id, accepted=False, error=f"unreadable result {item!r}")
    code = item.get("ErrorCode")
    if code == 0 and item.get("MessageID"):
        return SendResult(email.message_id, True, provider_message_id=str(item["MessageID"]))
    return SendResult(
        email.message_id,
        accepted=False,
        error=f"Postmark error {code}: {item.get('Message', '')}",
        retryable=code in RETRYABLE_ERROR_CODES,
    )


def build_adapter(
    settings: Settings,
    name: str,
    config: ProviderSettings,
    transport: httpx.BaseTransport | None,
) -> PostmarkProvider:
    """Postmark itself, or the built-in sandbox (which speaks Postmark's API)."""
    from distro.providers import sandbox_base_url

    if isinstance(config, SandboxSettings):
        base_url, stream = sandbox_base_url(settings, config), "broadcast"
    elif isinstance(config, PostmarkSettings):
        base_url, stream = config.base_url, config.message_stream
    else:
        raise TypeError(f"providers.{name} is a {config.type} provider, not Postmark")
    token = {"X-Postmark-Server-Token": config.server_token.get_secret_value()}
    client = provider_client(settings, config, token, transport, base_url=base_url)
    return PostmarkProvider(name, client, message_stream=stream)
