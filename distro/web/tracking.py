"""The open pixel and the click redirect: ``GET /o/{token}.gif`` and ``GET /c/{click}/{link}?u=``.

The routes read the request (tokens, user agent, address) and hand the hit to
``distro.tracking.hits``, which stores it as an event; they only choose the answer.

The redirect goes to ``u`` only when the link token signs it for the send the click token's
message belongs to: never to a URL that was not in that message. A person is redirected even
when the event could not be stored: the click matters more to them than to the report.
"""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from distro.tracking.hits import Click, Hit, record_click, record_open
from distro.tracking.links import LinkPurpose
from distro.tracking.rewrite import URL_PARAMETER
from distro.web.context import AppContext, ContextDep

router = APIRouter()

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
    record_open(context.engine, _hit(request, message_id), _machine_seconds(context))
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
    answer = record_click(
        context.engine,
        _hit(request, message_id),
        send_id=send_id,
        url=url,
        machine_seconds=_machine_seconds(context),
    )
    if answer == Click.REFUSE:
        return _invalid(context)
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


def _hit(request: Request, message_id: int) -> Hit:
    address = request.client.host if request.client else ""
    return Hit(message_id, request.headers.get("user-agent", ""), address)


def _machine_seconds(context: AppContext) -> float:
    return context.settings.tracking.machine_seconds


def _invalid(context: AppContext) -> HTMLResponse:
    html = context.pages.get_template("web/link_invalid.html").render(
        sender=context.settings.sending.from_name
    )
    return HTMLResponse(html, status_code=404, headers=NO_CACHE)
