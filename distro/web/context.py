"""What request handlers share, reached through ``ContextDep``; built by the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jinja2
from fastapi import Depends, Request
from sqlalchemy import Engine

from distro.config import Settings
from distro.tracking.inbound import WebhookSource
from distro.tracking.links import LinkSigner


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    signer: LinkSigner
    pages: jinja2.Environment
    webhooks: dict[str, WebhookSource]
    sandbox_mounted: bool = False


def get_context(request: Request) -> AppContext:
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]
