"""Provider adapters, built by type from the ``[providers.NAME]`` config tables.

Each adapter module exposes ``build_adapter``: ``(settings, name, config, transport)`` for the
HTTP APIs, whose transport tests and the in-process sandbox replace, and ``(settings, name,
config)`` for SMTP, which speaks over a socket of its own. Modules are imported only when a
provider of their type is first used, so an SMTP-only set-up never loads the AWS signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
from typing import Protocol

import httpx

from distro.config import Settings
from distro.config import secret_key as configured_secret_key
from distro.config_providers import ProviderSettings
from distro.config_providers import SandboxProvider as SandboxSettings
from distro.providers.base import OutboundEmail, Provider, SendResult

SANDBOX_MOUNT = "/sandbox"

#: Provider type -> module whose ``build_adapter`` makes its adapter.
ADAPTER_MODULES: dict[str, str] = {
    "postmark": "distro.providers.postmark",
    "sandbox": "distro.providers.postmark",  # the built-in sandbox speaks Postmark's API
    "sendgrid": "distro.providers.sendgrid",
    "mailgun": "distro.providers.mailgun",
    "ses": "distro.providers.ses",
    "resend": "distro.providers.resend",
    "smtp": "distro.providers.smtp",
}
ADAPTER_TYPES = frozenset(ADAPTER_MODULES)
#: Provider types whose adapter is not an HTTP client (``HttpProvider``) and takes no transport.
SOCKET_TYPES = frozenset({"smtp"})


class HttpAdapterBuilder(Protocol):
    def __call__(
        self,
        settings: Settings,
        name: str,
        config: ProviderSettings,
        transport: httpx.BaseTransport | None,
    ) -> Provider: ...


class SocketAdapterBuilder(Protocol):
    def __call__(self, settings: Settings, name: str, config: ProviderSettings) -> Provider: ...


def sandbox_base_url(settings: Settings, provider: SandboxSettings) -> str:
    """Where a sandbox provider's API lives: its own base_url or the one inside `serve`."""
    return provider.base_url or settings.server.base_url + SANDBOX_MOUNT


def sandbox_webhook_password(settings: Settings, provider: SandboxSettings) -> str:
    """The sandbox's webhook password: configured, or derived from the secret key."""
    configured = provider.webhook_password.get_secret_value()
    if configured:
        return configured
    key = configured_secret_key(settings).encode()
    return hmac.new(key, b"distro sandbox webhook", hashlib.sha256).hexdigest()[:32]


def check_adapter(settings: Settings, name: str | None = None) -> None:
    """Raise ConfigError unless provider ``name`` exists (before sending)."""
    settings.provider(name)


def build_provider(
    settings: Settings, name: str | None = None, *, transport: httpx.BaseTransport | None = None
) -> Provider:
    """The adapter for provider ``name`` (default: sending.provider).

    ``transport`` replaces an HTTP adapter's network (tests, the sandbox inside ``serve``); an
    SMTP relay has no HTTP client for it to replace.
    """
    key = name or settings.sending.provider
    config = settings.provider(key)
    module = importlib.import_module(ADAPTER_MODULES[config.type])
    if config.type in SOCKET_TYPES:
        socket_builder: SocketAdapterBuilder = module.build_adapter
        return socket_builder(settings, key, config)
    builder: HttpAdapterBuilder = module.build_adapter
    return builder(settings, key, config, transport)


__all__ = ["OutboundEmail", "Provider", "SendResult", "build_provider"]
