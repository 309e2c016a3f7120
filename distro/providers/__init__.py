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


# Provider types with an adapter in this version; the config accepts every documented type.
ADAPTER_TYPES = frozenset({"postmark", "sandbox"})


def check_adapter(settings: Settings, name: str | None = None) -> None:
    """Raise ConfigError unless provider ``name`` exists and has an adapter (before sending)."""
    key = name or settings.sending.provider
    config = settings.provider(key)
    if config.type not in ADAPTER_TYPES:
        raise ConfigError(
            f"providers.{key}: the {config.type} adapter is not available in this version of "
            f"distro (available: {', '.join(sorted(ADAPTER_TYPES))})"
        )


def build_provider(
    settings: Settings, name: str | None = None, *, transport: httpx.BaseTransport | None = None
) -> Provider:
    """The adapter for provider ``name`` (default: sending.provider)."""
    check_adapter(settings, name)
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
    raise AssertionError(f"no adapter for {config.type}")  # check_adapter ruled this out


__all__ = ["OutboundEmail", "Provider", "SendResult", "build_provider"]
