"""Provider adapters, built by type from the ``[providers.NAME]`` config tables."""

from __future__ import annotations

import hashlib
import hmac

import httpx

from distro.config import PostmarkProvider as PostmarkSettings
from distro.config import SandboxProvider as SandboxSettings
from distro.config import Settings
from distro.config import secret_key as configured_secret_key
from distro.errors import ConfigError
from distro.providers.base import OutboundEmail, Provider, SendResult, make_client
from distro.providers.postmark import PostmarkProvider

SANDBOX_MOUNT = "/sandbox"


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


def build_provider(
    settings: Settings, name: str | None = None, *, transport: httpx.BaseTransport | None = None
) -> Provider:
    """The adapter for provider ``name`` (default: sending.provider)."""
    key = name or settings.sending.provider
    config = settings.provider(key)
    connections = max(4, settings.sending.concurrency * 2)
    if isinstance(config, PostmarkSettings | SandboxSettings):
        base_url = (
            sandbox_base_url(settings, config)
            if isinstance(config, SandboxSettings)
            else config.base_url
        )
        stream = config.message_stream if isinstance(config, PostmarkSettings) else "broadcast"
        client = make_client(
            base_url,
            {
                "X-Postmark-Server-Token": config.server_token.get_secret_value(),
                "Accept": "application/json",
            },
            transport=transport,
            max_connections=connections,
        )
        return PostmarkProvider(key, client, message_stream=stream)
    raise ConfigError(
        f"providers.{key}: the {config.type} adapter is not available in this version of distro"
    )


__all__ = ["OutboundEmail", "Provider", "SendResult", "build_provider"]
