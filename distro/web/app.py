"""The FastAPI app factory: public pages, webhooks, and the sandbox when it is the provider."""

from __future__ import annotations

from fastapi import FastAPI

import distro
from distro.config_sections import LimitsSettings
from distro.providers import SANDBOX_MOUNT
from distro.web import public, releases, tracking, webhooks
from distro.web.body_limit import RouteLimits
from distro.web.context import AppContext
from distro.web.hardening import HardenedApp
from distro.web.security_headers import DISTRO_HEADERS


def route_limits(limits: LimitsSettings) -> RouteLimits:
    """The largest request body of each class of route (see ``[limits]``)."""
    return RouteLimits(
        prefixes=(
            (webhooks.router.prefix + "/", limits.webhook_body),
            (public.forms.prefix + "/", limits.form_body),
            (SANDBOX_MOUNT + "/", limits.sandbox_body),
        ),
        default=limits.other_body,
    )


def create_app(context: AppContext, *, sandbox_app: FastAPI | None = None) -> FastAPI:
    app = HardenedApp(
        security_headers=DISTRO_HEADERS,
        body_limit=route_limits(context.settings.limits),
        title="distro",
        version=distro.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.context = context
    app.include_router(public.router)
    app.include_router(public.forms)
    app.include_router(webhooks.router)
    app.include_router(releases.router)
    app.include_router(tracking.router)
    if sandbox_app is not None:
        app.mount(SANDBOX_MOUNT, sandbox_app)
    return app
