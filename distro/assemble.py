"""Assembling a serving process: app context, the app, and the in-process sandbox if used."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from distro.config import Settings, secret_key
from distro.config_providers import SandboxProvider
from distro.providers import SANDBOX_MOUNT, sandbox_webhook_password
from distro.rendering import make_environment
from distro.sandbox import APIS, Sandbox, SandboxOptions, WebhookOptions, create_sandbox_app
from distro.sandbox.exposure import check_exposure
from distro.tracking.inbound import webhook_sources
from distro.tracking.links import LinkSigner
from distro.web.app import create_app
from distro.web.context import AppContext
from distro.web.server import is_loopback


def mounted_sandbox_provider(settings: Settings) -> SandboxProvider | None:
    """The sandbox provider served inside `distro serve` (one with no base_url), if any."""
    for config in settings.providers.values():
        if isinstance(config, SandboxProvider) and not config.base_url:
            return config
    return None


def served_sandbox_provider(settings: Settings, *, expose: bool) -> SandboxProvider | None:
    """The sandbox to mount in a `distro serve` listening on ``settings.server.host``, if any.

    Beyond loopback, without ``expose``, a sandbox that is the sending provider is refused
    (ConfigError) and one that is merely configured (the built-in one) is left out.
    """
    config = mounted_sandbox_provider(settings)
    if config is None or expose or is_loopback(settings.server.host):
        return config
    if settings.provider() is config:
        check_exposure(settings.server.host, expose)
    return None


def sandbox_options(
    settings: Settings, config: SandboxProvider, app_url: str, *, expose: bool = False
) -> SandboxOptions:
    """Options for the sandbox mounted in the distro app at ``app_url``, posting every API's
    webhooks to that app; it listens where the app does (``server.host``)."""
    return SandboxOptions(
        server_tokens=frozenset({config.server_token.get_secret_value()}),
        max_body_bytes=settings.limits.sandbox_body,
        listen_host=settings.server.host,
        expose_beyond_loopback=expose,
        webhooks=WebhookOptions(
            urls={api: f"{app_url}/webhooks/{api}" for api in APIS},
            basic_username=config.webhook_username,
            basic_password=sandbox_webhook_password(settings, config),
            public_base_url=app_url + SANDBOX_MOUNT,
        ),
    )


def build_app(
    settings: Settings,
    engine: Engine,
    local_url: str,
    *,
    expose_sandbox: bool = False,
    webhook_transport: httpx.BaseTransport | None = None,
) -> tuple[FastAPI, Sandbox | None]:
    """The distro app for ``settings``; ``local_url`` is where it listens (for the sandbox).

    The app listens on ``settings.server.host``: beyond loopback the sandbox is only mounted
    with ``expose_sandbox`` (see ``served_sandbox_provider``). ``webhook_transport`` carries the
    SNS certificate and subscription requests (tests mock it).
    """
    sandbox_config = served_sandbox_provider(settings, expose=expose_sandbox)
    sandbox_app, sandbox = (None, None)
    if sandbox_config is not None:
        sandbox_app, sandbox = create_sandbox_app(
            sandbox_options(settings, sandbox_config, local_url, expose=expose_sandbox)
        )
    context = AppContext(
        settings=settings,
        engine=engine,
        signer=LinkSigner(secret_key(settings)),
        pages=make_environment(settings.templates.folder),
        webhooks=webhook_sources(settings, transport=webhook_transport),
        sandbox_mounted=sandbox is not None,
    )
    return create_app(context, sandbox_app=sandbox_app), sandbox
