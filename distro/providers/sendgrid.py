"""SendGrid: ``POST /v3/mail/send``, one request per batch, one personalization per email.

How per-recipient content travels. A personalization carries its own recipient, ``subject``,
``headers`` (the signed List-Unsubscribe) and ``custom_args`` (our message id), but the HTML and
text bodies (``content``) are one per request. distro's bodies differ per recipient in only a
few places (greeting, outlet, local embargo time, signed links), so the batch's bodies are split
into shared literal text and per-recipient slots (``plan_groups``): the request's ``content``
holds the literal text with a unique substitution key in each slot, and each personalization's
``substitutions`` map the keys to that recipient's values (v3 substitutions apply to content,
subject and reply-to; the keys never occur in any of those, so nothing else is touched). Every
recipient's body is rebuilt from the split and compared with the original before anything is
sent, so a bad split can only cost an extra request, never a wrong email. Emails that do not fit
SendGrid's limits for substitutions (100 keys and 10,000 bytes per personalization) together with
the others go in further requests, down to one request per email. One request per email was the
alternative: always correct, but a thousand requests where one does.

``plan_groups`` (distro.providers.shared_template) and the multi-request helpers
(distro.providers.batch_requests) are shared with the Mailgun adapter.

Every address appears once per request (SendGrid refuses the whole request otherwise): a repeated
address in a batch gets a retryable result so it goes again in a later batch. 202 means every
personalization was accepted; the ``X-Message-Id`` header names the request, and SendGrid's event
ids start with it, so it is every message's provider id while ``custom_args`` tell them apart.
"""

from __future__ import annotations

import email.utils
import re
import secrets
from collections.abc import Sequence
from typing import Any

import httpx

from distro.config import Settings
from distro.config_providers import ProviderSettings
from distro.config_providers import SendgridProvider as SendgridSettings
from distro.errors import (
    PermanentProviderError,
    ProviderError,
)
from distro.providers.base import (
    MESSAGE_ID_KEY,
    HttpProvider,
    OutboundEmail,
    SendResult,
    json_content,
    json_or_none,
    provider_client,
)
from distro.providers.batch_requests import repeated_addresses, send_groups, settle
from distro.providers.shared_template import TemplateGroup, plan_groups
from distro.single_line import single_line

SEND_PATH = "/v3/mail/send"
#: SendGrid's documented caps on one personalization's substitutions; bytes kept under 10,000
#: with room for JSON escaping.
MAX_SUBSTITUTIONS = 100
MAX_SUBSTITUTION_BYTES = 9_000

# distro tracks opens and clicks itself with signed links; SendGrid must not rewrite links or add
# its own unsubscribe footer (ganalytics would append utm parameters to every link).
TRACKING_OFF: dict[str, Any] = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
    "ganalytics": {"enable": False},
}

# SendGrid refuses these characters in a recipient's name.
_NAME_UNSAFE = re.compile(r"[;,]")


class SendgridProvider(HttpProvider):
    max_batch = 1000

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"SendGrid takes at most {self.max_batch} messages a batch")
        outcomes: dict[int, SendResult | ProviderError] = {}
        # Everything a request shares must be equal within it: sender, reply-to and category.
        parts: dict[tuple[str, str, str, str], list[int]] = {}
        for index, duplicate in enumerate(repeated_addresses(emails)):
            email_ = emails[index]
            if duplicate:
                outcomes[index] = SendResult(
                    email_.message_id,
                    False,
                    error=f"{self.name}: {email_.to_email} is already in this request "
                    "(SendGrid takes each address once); sent again later",
                    retryable=True,
                )
                continue
            key = (email_.from_email, email_.from_name, email_.reply_to, email_.tag)
            parts.setdefault(key, []).append(index)
        requests: list[tuple[list[int], TemplateGroup]] = []
        for indices in parts.values():
            fields = [(emails[i].text, emails[i].html) for i in indices]
            for group in plan_groups(
                fields, max_bytes=MAX_SUBSTITUTION_BYTES, max_slots=MAX_SUBSTITUTIONS
            ):
                requests.append(([indices[m] for m in group.members], group))
        send_groups(emails, requests, self._send_group, outcomes)
        return settle(emails, outcomes)

    def _send_group(
        self, emails: Sequence[OutboundEmail], group: TemplateGroup
    ) -> list[SendResult]:
        response = self.post(SEND_PATH, **json_content(self.payload(emails, group)))
        if not response.is_success:
            raise PermanentProviderError(
                f"{self.name}: request refused (HTTP {response.status_code}): "
                f"{_error_detail(response)}",
                status_code=response.status_code,
            )
        provider_id = response.headers.get("X-Message-Id") or None
        return [SendResult(e.message_id, True, provider_message_id=provider_id) for e in emails]

    def payload(self, emails: Sequence[OutboundEmail], group: TemplateGroup) -> dict[str, Any]:
        """The mail/send body for ``emails``, which share sender, reply-to and tag."""
        text, html = group.templates
        keys = _substitution_keys(emails, text.slots + html.slots)
        text_keys, html_keys = keys[: text.slots], keys[text.slots :]
        personalizations = []
        for member, email_ in enumerate(emails):
            personalization: dict[str, Any] = {
                "to": [_address(email_.to_email, _NAME_UNSAFE.sub(" ", email_.to_name))],
                "subject": email_.subject,
                "custom_args": {MESSAGE_ID_KEY: str(email_.message_id)},
            }
            if email_.headers:
                personalization["headers"] = dict(email_.headers)
            values = text.values[member] + html.values[member]
            if values:
                personalization["substitutions"] = dict(zip(keys, values, strict=True))
            personalizations.append(personalization)
        first = emails[0]
        content = []
        # SendGrid wants text/plain before text/html.
        if any(e.text for e in emails):
            content.append({"type": "text/plain", "value": text.render(text_keys)})
        if any(e.html for e in emails) or not content:
            content.append({"type": "text/html", "value": html.render(html_keys)})
        payload: dict[str, Any] = {
            "personalizations": personalizations,
            "from": _address(first.from_email, first.from_name),
            "content": content,
            "tracking_settings": TRACKING_OFF,
        }
        if first.reply_to:
            name, address = email.utils.parseaddr(first.reply_to)
            payload["reply_to"] = _address(address or first.reply_to, name)
        if first.tag:
            payload["categories"] = [first.tag[:255]]
        return payload


def _address(address: str, name: str) -> dict[str, str]:
    name = " ".join(single_line(name).split())
    return {"email": address, "name": name} if name else {"email": address}


def _substitution_keys(emails: Sequence[OutboundEmail], count: int) -> list[str]:
    """``count`` keys that occur nowhere in the emails' content, subjects or reply-to."""
    texts = [t for e in emails for t in (e.text, e.html, e.subject, e.reply_to)]
    while True:
        marker = f"-d{secrets.token_hex(4)}"
        if not any(marker in t for t in texts):
            # The closing dash keeps "-d..s1-" from matching inside "-d..s10-".
            return [f"{marker}s{n}-" for n in range(count)]


def _error_detail(response: httpx.Response) -> str:
    """SendGrid's ``{"errors": [{"field", "message"}]}`` as one line."""
    body = json_or_none(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list):
        parts = []
        for error in errors:
            if isinstance(error, dict):
                field, message = error.get("field"), error.get("message") or ""
                parts.append(f"{field}: {message}" if field else str(message))
        if parts:
            return "; ".join(parts)
    return response.text[:300].strip() or response.reason_phrase


def build_adapter(
    settings: Settings,
    name: str,
    config: ProviderSettings,
    transport: httpx.BaseTransport | None,
) -> SendgridProvider:
    """SendGrid at its global or EU base URL (or a stand-in), with a Bearer API key."""
    if not isinstance(config, SendgridSettings):
        raise TypeError(f"providers.{name} is a {config.type} provider, not SendGrid")
    bearer = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"}
    client = provider_client(settings, config, bearer, transport)
    return SendgridProvider(name, client)
