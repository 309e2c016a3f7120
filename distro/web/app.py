"""The FastAPI app factory: public pages, webhooks, and the sandbox when it is the provider."""

from __future__ import annotations

from fastapi import FastAPI

import distro
from distro.providers import SANDBOX_MOUNT
from distro.web import public, releases, tracking, webhooks
from distro.web.context import AppContext


def create_app(context: AppContext, *, sandbox_app: FastAPI | None = None) -> FastAPI:
    app = FastAPI(
        title="distro",
        version=distro.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.context = context
    app.include_router(public.router)
    app.include_router(webhooks.router)
    app.include_router(releases.router)
    app.include_router(tracking.router)
    if sandbox_app is not None:
        app.mount(SANDBOX_MOUNT, sandbox_app)
    return app
