"""Postmark: ``POST /email/batch``, up to 500 messages a request, one result per message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from distro.errors import PermanentProviderError
from distro.providers.base import MESSAGE_ID_KEY, OutboundEmail, Provider, SendResult

# Per-message ErrorCodes worth retrying later; every other non-zero code is final.
RETRYABLE_ERROR_CODES = frozenset({429})


class PostmarkProvider(Provider):
    max_batch = 500

    def __init__(self, name: str, client: httpx.Client, *, message_stream: str) -> None:
        super().__init__(name, client)
        self.message_stream = message_stream

    def send_batch(self, emails: Sequence[OutboundEmail]) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"Postmark takes at most {self.max_batch} messages a batch")
        response = self.post("/email/batch", json=[self._payload(e) for e in emails])
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, list) or len(body) != len(emails):
            detail = body.get("Message") if isinstance(body, dict) else response.text[:300]
            raise PermanentProviderError(
                f"{self.name}: batch refused (HTTP {response.status_code}): {detail}",
                status_code=response.status_code,
            )
        return [_result(e, item) for e, item in zip(emails, body, strict=True)]

    def _payload(self, email: OutboundEmail) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "From": email.sender,
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


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


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
