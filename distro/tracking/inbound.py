"""Which webhook formats distro accepts, and which configured provider sent a request.

A webhook URL names a wire format (``/webhooks/postmark``); the credentials or signature on the
request tell which configured provider it came from, so two accounts of one provider stay apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from distro.config import PostmarkProvider, SandboxProvider, Settings
from distro.providers import sandbox_webhook_password
from distro.tracking import postmark
from distro.tracking.events import NormalisedEvent


class WebhookAuthError(Exception):
    """The request did not prove it came from a configured provider."""


class WebhookPayloadError(Exception):
    """The request was authentic but its body cannot be understood."""


@dataclass(frozen=True, slots=True)
class PostmarkWebhooks:
    """Postmark's format, posted by real Postmark accounts and by distro's sandbox."""

    accounts: tuple[tuple[str, str, str], ...]  # (provider name, username, password)

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> str:
        given = postmark.basic_credentials(headers)
        if given is not None:
            for name, username, password in self.accounts:
                if postmark.credentials_match(given, (username, password)):
                    return name
        raise WebhookAuthError("HTTP Basic credentials missing or wrong")

    def parse(self, body: bytes) -> list[NormalisedEvent]:
        try:
            return postmark.parse(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookPayloadError(str(exc)) from None


def webhook_sources(settings: Settings) -> dict[str, PostmarkWebhooks]:
    accounts: list[tuple[str, str, str]] = []
    for name, config in settings.providers.items():
        if isinstance(config, PostmarkProvider):
            accounts.append(
                (name, config.webhook_username, config.webhook_password.get_secret_value())
            )
        elif isinstance(config, SandboxProvider):
            accounts.append(
                (name, config.webhook_username, sandbox_webhook_password(settings, config))
            )
    return {"postmark": PostmarkWebhooks(tuple(accounts))}
