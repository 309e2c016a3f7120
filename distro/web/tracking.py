"""The open pixel and the click redirect: ``GET /o/{token}.gif`` and ``GET /c/{click}/{link}?u=``.

Every hit is stored as an ``opened`` or ``clicked`` event from provider "distro", with the user
agent, the address and, for a click, the URL, and classed as a person's or a machine's (see
``distro.tracking.machine``). Reports count opens in total and per recipient, so each hit is an
event of its own; only the same client hitting the same link twice within a second (a double
click, a client fetching an image twice) is stored once.

The redirect goes to ``u`` only when the link token signs it for the send the click token's
message belongs to: never to a URL that was not in that message. A person is redirected even
when the event could not be stored: the click matters more to them than to the report.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from distro.db import reading
from distro.models import Event, EventType, Message
from distro.models.types import utcnow
from distro.tracking.event import NormalisedEvent
from distro.tracking.events import store_events
from distro.tracking.links import LinkPurpose
from distro.tracking.machine import classify
from distro.tracking.rewrite import URL_PARAMETER
from distro.web.context import AppContext, ContextDep

log = logging.getLogger(__name__)
router = APIRouter()

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
# A 1x1 transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Every open and click must reach us, not a cache.
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}


@router.get("/o/{token}.gif")
def open_pixel(token: str, request: Request, context: ContextDep) -> Response:
    message_id = context.signer.verify(LinkPurpose.OPEN, token)
    if message_id is None:
        return Response(PIXEL, status_code=404, media_type="image/gif", headers=NO_CACHE)
    try:
        found = _message(context, message_id)
        _record(context, request, EventType.OPENED, message_id, found[1] if found else None)
    except SQLAlchemyError:
        log.exception("open of message %s could not be stored", message_id)
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@router.get("/c/{click_token}/{link_token}", response_model=None)
def click(
    click_token: str, link_token: str, request: Request, context: ContextDep
) -> RedirectResponse | HTMLResponse:
    targets = request.query_params.getlist(URL_PARAMETER)
    url = targets[0] if len(targets) == 1 else ""
    message_id = context.signer.verify(LinkPurpose.CLICK, click_token)
    send_id = context.signer.verify_link(link_token, url) if url else None
    if message_id is None or send_id is None or not url.lower().startswith(("http:", "https:")):
        return _invalid(context)
    try:
        found = _message(context, message_id)
    except SQLAlchemyError:  # the URL is one we signed: let the person through, unrecorded
        log.exception("click of message %s could not be checked or stored", message_id)
        return RedirectResponse(url, status_code=302, headers=NO_CACHE)
    if found is None or found[0] != send_id:
        return _invalid(context)  # tokens of two different messages put together
    try:
        _record(context, request, EventType.CLICKED, message_id, found[1], url)
    except SQLAlchemyError:
        log.exception("click of message %s could not be stored", message_id)
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


def _message(context: AppContext, message_id: int) -> tuple[int, datetime | None] | None:
    """The message's send and when it was delivered (or handed over, before any report)."""
    delivered = (
        select(func.min(EVENTS.c.occurred_at))
        .where(EVENTS.c.message_id == message_id, EVENTS.c.type == EventType.DELIVERED)
        .scalar_subquery()
    )
    with reading(context.engine) as conn:
        row = conn.execute(
            select(MESSAGES.c.send_id, MESSAGES.c.sent_at, delivered).where(
                MESSAGES.c.id == message_id
            )
        ).one_or_none()
    if row is None:
        return None
    return int(row[0]), row[2] or row[1]


def _record(
    context: AppContext,
    request: Request,
    kind: EventType,
    message_id: int,
    delivered_at: datetime | None,
    url: str = "",
) -> None:
    now = utcnow()
    agent = request.headers.get("user-agent", "")
    address = request.client.host if request.client else ""
    verdict = classify(agent, now, delivered_at, context.settings.tracking.machine_seconds)
    client = hashlib.sha256(f"{agent}\n{address}\n{url}".encode()).hexdigest()[:16]
    event = NormalisedEvent(
        type=kind,
        provider_event_id=f"{kind}:{message_id}:{int(now.timestamp())}:{client}",
        occurred_at=now,
        message_id=message_id,
        click_url=url,
        user_agent=agent,
        ip=address,
        machine=verdict.machine,
        machine_reason=verdict.reason if verdict.machine else "",
        signed_link=True,
    )
    store_events(context.engine, "distro", [event])


def _invalid(context: AppContext) -> HTMLResponse:
    html = context.pages.get_template("web/link_invalid.html").render(
        sender=context.settings.sending.from_name
    )
    return HTMLResponse(html, status_code=404, headers=NO_CACHE)
