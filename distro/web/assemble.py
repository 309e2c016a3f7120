"""Assembling a serving process: app context, the app, and the in-process sandbox if used."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from distro.config import SandboxProvider, Settings, secret_key
from distro.providers import SANDBOX_MOUNT, sandbox_webhook_password
from distro.rendering import make_environment
from distro.sandbox import APIS, Sandbox, SandboxOptions, WebhookOptions, create_sandbox_app
from distro.tracking.inbound import webhook_sources
from distro.tracking.links import LinkSigner
from distro.web.app import create_app
from distro.web.context import AppContext


def mounted_sandbox_provider(settings: Settings) -> SandboxProvider | None:
    """The sandbox provider served inside `distro serve` (one with no base_url), if any."""
    for config in settings.providers.values():
        if isinstance(config, SandboxProvider) and not config.base_url:
            return config
    return None


def sandbox_options(settings: Settings, config: SandboxProvider, app_url: str) -> SandboxOptions:
    """Options for the sandbox mounted in the distro app at ``app_url``, posting every API's
    webhooks to that app."""
    return SandboxOptions(
        server_tokens=frozenset({config.server_token.get_secret_value()}),
        max_body_bytes=settings.limits.sandbox_body,
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
    webhook_transport: httpx.BaseTransport | None = None,
) -> tuple[FastAPI, Sandbox | None]:
    """The distro app for ``settings``; ``local_url`` is where it listens (for the sandbox).

    ``webhook_transport`` carries the SNS certificate and subscription requests (tests mock it).
    """
    sandbox_config = mounted_sandbox_provider(settings)
    sandbox_app, sandbox = (None, None)
    if sandbox_config is not None:
        sandbox_app, sandbox = create_sandbox_app(
            sandbox_options(settings, sandbox_config, local_url)
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
