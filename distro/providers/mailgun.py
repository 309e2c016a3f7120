"""Mailgun: ``POST /v3/{domain}/messages`` (multipart form), one call for a whole batch.

Batch sending: several ``to`` plus ``recipient-variables`` (a JSON object keyed by address) make
Mailgun send one separate message per recipient, each seeing only its own address. A call has one
subject, body and header set, personalised only through ``%recipient.KEY%`` placeholders, which
Mailgun fills in (without HTML escaping) in the subject, bodies, ``h:`` headers and ``v:``
variables. Copying each email's whole subject, HTML and text into its recipient variables would
be simplest, but a 1000-recipient batch would repeat a 50 KB body a thousand times and pass
Mailgun's 25 MB message limit. So, as for SendGrid, the batch's fields are split into shared
literal text and per-recipient slots (``distro.providers.shared_template.plan_groups``, which
checks that every recipient's subject, HTML, text and headers are rebuilt exactly): the call
carries the literals with ``%recipient.sN%`` in the slots and each recipient's variables carry
its values. Our id travels as ``v:distro_message_id=%recipient.distro_message_id%`` so every
message's events carry its own id in ``user-variables``. Emails that do not fit the split with
the others go in further calls.

An email whose own text contains ``%recipient`` would have it replaced by Mailgun, so it goes
alone, without recipient variables. A repeated address in a batch gets a retryable result (the
variables are keyed by address), so it goes again in a later batch.

Mailgun answers ``{"id": "<...@domain>", "message": "Queued. Thank you."}``: one id for the call,
kept without the angle brackets, as events show it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from urllib.parse import quote

import httpx

from distro.config import Settings
from distro.config_providers import MailgunProvider as MailgunSettings
from distro.config_providers import ProviderSettings
from distro.errors import ConfigError, PermanentProviderError, ProviderError
from distro.providers.base import (
    MESSAGE_ID_KEY,
    HttpProvider,
    OutboundEmail,
    SendResult,
    json_or_none,
    provider_client,
)
from distro.providers.batch_requests import repeated_addresses, send_groups, settle
from distro.providers.shared_template import SharedTemplate, TemplateGroup, plan_groups

#: Bound on one recipient's variables: keeps a full batch's call well under Mailgun's 25 MB.
MAX_VARIABLE_BYTES = 10_000
MAX_SLOTS = 100
#: distro tracks opens and clicks itself with signed links.
TRACKING_OFF = (("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no"))
PLACEHOLDER = "%recipient"
MAX_TAG_LENGTH = 128


class MailgunProvider(HttpProvider):
    max_batch = 1000
    # Mailgun documents SMTPUTF8 support: a non-ASCII local part goes out as it is.
    accepts_non_ascii_local_part = True

    def __init__(self, name: str, client: httpx.Client, *, domain: str) -> None:
        super().__init__(name, client)
        self.domain = domain
        self.path = f"/v3/{quote(domain, safe='')}/messages"

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"Mailgun takes at most {self.max_batch} messages a batch")
        outcomes: dict[int, SendResult | ProviderError] = {}
        requests: list[tuple[list[int], TemplateGroup]] = []
        # One call shares sender, reply-to, tag and header names; header values may differ.
        parts: dict[tuple[str, str, str, tuple[str, ...]], list[int]] = {}
        for index, duplicate in enumerate(repeated_addresses(emails)):
            email_ = emails[index]
            if duplicate:
                outcomes[index] = SendResult(
                    email_.message_id,
                    False,
                    error=f"{self.name}: {email_.to_email} is already in this call "
                    "(recipient variables are keyed by address); sent again later",
                    retryable=True,
                )
            elif _has_placeholder(email_):
                requests.append(([index], _literal(email_)))
            else:
                key = (email_.sender, email_.reply_to, email_.tag, tuple(email_.headers))
                parts.setdefault(key, []).append(index)
        for indices in parts.values():
            fields = [_fields(emails[i]) for i in indices]
            for group in plan_groups(fields, max_bytes=MAX_VARIABLE_BYTES, max_slots=MAX_SLOTS):
                requests.append(([indices[m] for m in group.members], group))
        requests.sort(key=lambda request: request[0][0])
        send_groups(emails, requests, self._send_group, outcomes)
        return settle(emails, outcomes)

    def _send_group(
        self, emails: Sequence[OutboundEmail], group: TemplateGroup
    ) -> list[SendResult]:
        response = self.post(self.path, files=[(k, (None, v)) for k, v in self.form(emails, group)])
        body = json_or_none(response)
        if not response.is_success:
            message = body.get("message") if isinstance(body, dict) else None
            raise PermanentProviderError(
                f"{self.name}: request refused (HTTP {response.status_code}): "
                f"{message or response.text[:300].strip() or response.reason_phrase}",
                status_code=response.status_code,
            )
        provider_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(provider_id, str) and provider_id.strip("<>"):
            return [
                SendResult(e.message_id, True, provider_message_id=provider_id.strip("<>"))
                for e in emails
            ]
        if "Mailgun Magnificent API" in response.text:
            # Mailgun's greeting for paths it does not serve: nothing was sent.
            raise PermanentProviderError(
                f"{self.name}: {response.request.url} is not Mailgun's messages API; "
                "check base_url and domain",
                status_code=response.status_code,
            )
        # A success without an id: it may have been queued, but nothing says so for sure.
        error = f"{self.name}: HTTP {response.status_code} without a message id"
        return [SendResult(e.message_id, False, error=error, unknown=True) for e in emails]

    def form(self, emails: Sequence[OutboundEmail], group: TemplateGroup) -> list[tuple[str, str]]:
        """The form fields for ``emails``, which share sender, reply-to, tag and header names."""
        first = emails[0]
        # Recipient variables, unless Mailgun would also replace the email's own "%recipient".
        batched = not any(_has_placeholder(e) for e in emails)
        keys = [f"s{n}" for n in range(sum(t.slots for t in group.templates))]
        rendered, offset = [], 0
        for template in group.templates:
            slot_keys = keys[offset : offset + template.slots]
            rendered.append(template.render([f"{PLACEHOLDER}.{k}%" for k in slot_keys]))
            offset += template.slots
        subject, text, html, *header_values = rendered
        form = [("from", first.sender)]
        form += [("to", e.recipient) for e in emails]
        form.append(("subject", subject))
        if any(e.text for e in emails):
            form.append(("text", text))
        if any(e.html for e in emails) or not any(e.text for e in emails):
            form.append(("html", html))
        if first.reply_to:
            form.append(("h:Reply-To", first.reply_to))
        form += [
            (f"h:{name}", value) for name, value in zip(first.headers, header_values, strict=True)
        ]
        if batched:
            form.append((f"v:{MESSAGE_ID_KEY}", f"{PLACEHOLDER}.{MESSAGE_ID_KEY}%"))
        else:
            form.append((f"v:{MESSAGE_ID_KEY}", str(first.message_id)))
        if first.tag:
            form.append(("o:tag", first.tag[:MAX_TAG_LENGTH]))
        form += TRACKING_OFF
        if batched:
            variables = {
                e.to_email: {
                    MESSAGE_ID_KEY: str(e.message_id),
                    **dict(
                        zip(keys, [v for t in group.templates for v in t.values[m]], strict=True)
                    ),
                }
                for m, e in enumerate(emails)
            }
            form.append(("recipient-variables", json.dumps(variables, ensure_ascii=False)))
        return form


def _fields(email_: OutboundEmail) -> tuple[str, ...]:
    """Everything a recipient sees that may differ per recipient, in a fixed order."""
    return (email_.subject, email_.text, email_.html, *email_.headers.values())


def _has_placeholder(email_: OutboundEmail) -> bool:
    texts = (*_fields(email_), email_.sender, email_.reply_to, email_.tag)
    return any(PLACEHOLDER in text for text in texts)


def _literal(email_: OutboundEmail) -> TemplateGroup:
    """A group of one whose fields are sent exactly as they are."""
    return TemplateGroup((0,), tuple(SharedTemplate((f,), ((),)) for f in _fields(email_)))


def build_adapter(
    settings: Settings,
    name: str,
    config: ProviderSettings,
    transport: httpx.BaseTransport | None,
) -> MailgunProvider:
    """Mailgun (US or EU base URL) for one sending domain, with HTTP Basic ``api:KEY``."""
    if not isinstance(config, MailgunSettings):
        raise TypeError(f"providers.{name} is a {config.type} provider, not Mailgun")
    if not config.domain.strip() or "/" in config.domain:
        # Mailgun answers 200 "Mailgun Magnificent API" to such paths instead of an error.
        raise ConfigError(
            f"providers.{name}.domain must be a sending domain, not {config.domain!r}"
        )
    credentials = base64.b64encode(f"api:{config.api_key.get_secret_value()}".encode()).decode()
    client = provider_client(settings, config, {"Authorization": f"Basic {credentials}"}, transport)
    return MailgunProvider(name, client, domain=config.domain.strip())
