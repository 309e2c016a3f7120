"""SendGrid's v3 Mail Send endpoint, ``POST /v3/mail/send``.

A request is accepted whole or refused whole: 202 with an empty body and the request's id in
``X-Message-Id``, or 400 with every problem in ``{"errors": [...]}``. Each personalization
becomes one stored message whose provider id is ``{X-Message-Id}.{suffix}``, the shape of the
``sg_message_id`` that SendGrid's events carry.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from distro.providers.base import MESSAGE_ID_KEY
from distro.sandbox.auth import bearer_token, secret_matches
from distro.sandbox.sendgrid_payload import Personalized, SendGridError, read_mail_send
from distro.sandbox.store import StoredMessage

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox

SENDING_PATH = re.compile(r"/v3/mail/send")
RATE_LIMIT = 600  # what X-RateLimit-Limit says on an injected 429

_FAULT_TEXT = {429: "too many requests", 500: "internal error", 503: "service unavailable"}


def _errors(status: int, *errors: SendGridError) -> JSONResponse:
    return JSONResponse({"errors": [e.to_json() for e in errors]}, status_code=status)


def _refusal(status: int, message: str) -> JSONResponse:
    return _errors(status, SendGridError(message, None, None))


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """An injected failure in SendGrid's ``errors`` shape, with its rate-limit headers."""
    response = _refusal(status, _FAULT_TEXT.get(status, "error"))
    if status == 429:
        response.headers.update(
            {
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + retry_after),
            }
        )
    return response


def _message_id() -> str:
    """A 22-character id like SendGrid's X-Message-Id."""
    return secrets.token_urlsafe(16)[:22]


def _stored(message: Personalized, provider_id: str, now: datetime) -> StoredMessage:
    return StoredMessage(
        message_id=provider_id,
        received_at=now,
        from_=message.from_,
        to=message.to,
        recipients=message.recipients,
        cc=message.cc,
        bcc=message.bcc,
        reply_to=message.reply_to,
        subject=message.subject,
        html_body=message.html,
        text_body=message.text,
        headers=message.headers,
        tag=message.tag,
        message_stream="",
        api="sendgrid",
        custom_id=message.custom_args.get(MESSAGE_ID_KEY, ""),
        custom_args=message.custom_args,
    )


def build_sendgrid_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    tokens = sandbox.options.server_tokens

    @router.post("/v3/mail/send")
    async def mail_send(request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            return _refusal(401, "authorization required")
        if not secret_matches(token, tokens):
            return _refusal(401, "The provided authorization grant is invalid, expired, or revoked")
        try:
            body: Any = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _refusal(400, "Bad Request")
        messages, errors = read_mail_send(body)
        if errors:
            return _errors(400, *errors)
        request_id, now = _message_id(), datetime.now(UTC)
        for index, message in enumerate(messages):
            sandbox.accept(_stored(message, f"{request_id}.filterdrecv-{index}.0", now))
        return Response(status_code=202, headers={"X-Message-Id": request_id})

    return router
