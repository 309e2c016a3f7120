"""``POST /webhooks/{format}``: authenticate, parse, store, answer as providers expect.

2xx once stored (repeats included), 401 when authentication fails (nothing stored), 400 for a
body that cannot be parsed (logged with the raw body), 5xx only when storing failed, so that the
provider retries exactly the deliveries worth retrying.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from distro.tracking.events import store_events
from distro.tracking.inbound import WebhookAuthError, WebhookPayloadError
from distro.web.context import ContextDep

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/webhooks/{wire_format}")
async def receive_webhook(wire_format: str, request: Request, context: ContextDep) -> JSONResponse:
    source = context.webhooks.get(wire_format)
    if source is None:
        return JSONResponse({"error": f"no webhook format {wire_format!r}"}, status_code=404)
    body = await request.body()
    try:
        provider = source.authenticate(request.headers, body)
    except WebhookAuthError as exc:
        log.warning("webhook %s refused: %s", wire_format, exc)
        return JSONResponse(
            {"error": "authentication failed"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="distro webhooks"'},
        )
    try:
        events = source.parse(body)
    except WebhookPayloadError as exc:
        log.warning(
            "webhook %s from %s unreadable (%s): %r", wire_format, provider, exc, body[:4000]
        )
        return JSONResponse({"error": f"unreadable payload: {exc}"}, status_code=400)
    try:
        stored = await run_in_threadpool(store_events, context.engine, provider, events)
    except SQLAlchemyError:
        log.exception("webhook %s from %s could not be stored", wire_format, provider)
        return JSONResponse({"error": "storage failed, retry later"}, status_code=503)
    return JSONResponse({"received": len(events), "stored": stored})
