"""``POST /webhooks/{format}``: authenticate, parse, store, answer as providers expect.

2xx once stored (repeats included); 401/403 when authentication fails (nothing stored); for a body
that cannot be parsed 400, or the format's own refusal (Mailgun: 406, its "stop retrying"),
logged with the raw body; 503 only when storing failed or a verified SNS subscription could not
be confirmed yet, so that the provider retries exactly the deliveries worth retrying. (An SNS
message whose certificate cannot be fetched is refused, not deferred: see distro.tracking.sns.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from distro.errors import WebhookPayloadError
from distro.tracking.events import store_events
from distro.tracking.inbound import WebhookAuthError, WebhookSource, WebhookUnavailable
from distro.web.context import AppContext, ContextDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks")
#: How much of a refused body goes into the log.
LOGGED_BODY = 4000


@router.post("/{wire_format}")
async def receive_webhook(wire_format: str, request: Request, context: ContextDep) -> JSONResponse:
    source = context.webhooks.get(wire_format)
    if source is None:
        return JSONResponse({"error": f"no webhook format {wire_format!r}"}, status_code=404)
    body = await request.body()
    # One thread hop for all of it: verifying, parsing a 1000-event array and storing it all
    # block, and SNS verification may fetch a certificate.
    return await run_in_threadpool(handle, context, wire_format, source, request.headers, body)


def handle(
    context: AppContext,
    wire_format: str,
    source: WebhookSource,
    headers: Mapping[str, str],
    body: bytes,
) -> JSONResponse:
    try:
        received = source.receive(headers, body)
    except WebhookAuthError as exc:
        log.warning("webhook %s refused: %s", wire_format, exc)
        challenge = {"WWW-Authenticate": source.challenge} if source.challenge else None
        return JSONResponse(
            {"error": "authentication failed"}, status_code=exc.status, headers=challenge
        )
    except WebhookPayloadError as exc:
        log.warning("webhook %s unreadable (%s): %r", wire_format, exc, body[:LOGGED_BODY])
        return JSONResponse(
            {"error": f"unreadable payload: {exc}"}, status_code=source.unreadable_status
        )
    except WebhookUnavailable as exc:
        log.error("webhook %s cannot be verified now: %s", wire_format, exc)
        return JSONResponse({"error": "cannot verify now, retry later"}, status_code=503)
    for reason in received.skipped:
        log.warning("webhook %s from %s: skipped %s", wire_format, received.provider, reason)
    try:
        stored = store_events(
            context.engine, received.provider, received.events, rules=context.settings.suppression
        )
    except SQLAlchemyError:
        log.exception("webhook %s from %s could not be stored", wire_format, received.provider)
        return JSONResponse({"error": "storage failed, retry later"}, status_code=503)
    answer: dict[str, object] = {"received": len(received.events), "stored": stored}
    if received.skipped:
        answer["skipped"] = len(received.skipped)
    return JSONResponse({**answer, **received.answer})
