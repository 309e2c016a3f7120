"""Pages for people who are not staff: the landing page and the unsubscribe link.

Unsubscribing follows RFC 8058: a POST to the link (which mail clients send with the body
``List-Unsubscribe=One-Click`` and no cookies) unsubscribes at once and answers 200, never a
redirect. A GET only shows a page with a button, because link scanners fetch URLs on their own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

import distro
from distro.models import EventType, Message
from distro.models.types import utcnow
from distro.tracking.events import NormalisedEvent, store_events
from distro.tracking.links import LinkPurpose
from distro.web.context import AppContext, ContextDep

router = APIRouter()


def _page(context: AppContext, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = context.pages.get_template(f"web/{name}").render(
        sender=context.settings.sending.from_name, version=distro.__version__, **values
    )
    return HTMLResponse(html, status_code=status)


@router.get("/", response_class=HTMLResponse)
def landing(context: ContextDep) -> HTMLResponse:
    return _page(context, "index.html", sandbox=context.sandbox_mounted)


@router.get("/healthz")
def health(context: ContextDep) -> dict[str, str]:
    with context.engine.connect() as conn:
        conn.execute(select(1))
    return {"status": "ok", "version": distro.__version__}


def _message_email(context: AppContext, token: str) -> tuple[int, str] | None:
    message_id = context.signer.verify(LinkPurpose.UNSUBSCRIBE, token)
    if message_id is None:
        return None
    with context.engine.connect() as conn:
        email = conn.scalar(select(col(Message.email)).where(col(Message.id) == message_id))
    return None if email is None else (message_id, email)


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, context: ContextDep) -> HTMLResponse:
    found = await run_in_threadpool(_message_email, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    return _page(context, "unsubscribe.html", email=found[1], action=f"/u/{token}")


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, context: ContextDep) -> HTMLResponse:
    found = await run_in_threadpool(_message_email, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    message_id, email = found
    event = NormalisedEvent(
        type=EventType.UNSUBSCRIBED,
        provider_event_id=f"unsubscribe:{message_id}",
        occurred_at=utcnow(),
        recipient=email,
        message_id=message_id,
        detail={"description": "unsubscribe link"},
    )
    await run_in_threadpool(store_events, context.engine, "distro", [event])
    return _page(context, "unsubscribed.html", email=email)
