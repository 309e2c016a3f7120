"""Resend's sending endpoints, ``POST /emails`` and ``POST /emails/batch`` (at most 100).

Both honour ``Idempotency-Key`` as Resend documents it: a repeat within 24 hours returns the
first answer and sends nothing, a different request under a used key is a 409
``invalid_idempotent_request``. A batch is validated whole by default (strict mode: one bad
email refuses them all); with ``x-batch-validation: permissive`` the valid emails are sent, the
answer's ``data`` lists their ids in request order and ``errors`` the ``index`` and ``message``
of each refused one.

Deviations: ``scheduled_at`` is ignored (sent at once) and attachments are not stored.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from distro.providers.base import MESSAGE_ID_KEY
from distro.sandbox.auth import bearer_token, secret_matches
from distro.sandbox.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyCache,
    IdempotencyConflict,
    fingerprint,
)
from distro.sandbox.resend_payload import ResendEmail, ResendInvalid, read_email
from distro.sandbox.store import StoredMessage

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox

SENDING_PATH = re.compile(r"/emails(/batch)?")
MAX_BATCH = 100
RATE_LIMIT = 2  # requests a second, Resend's default

_FAULTS = {
    429: (
        "rate_limit_exceeded",
        "Too many requests. You can only make 2 requests per second. See rate limit response "
        "headers for more information. Or contact support to increase rate limit.",
    ),
    500: ("application_error", "An unexpected error occurred, please try again later."),
    503: ("application_error", "The service is temporarily unavailable, please try again later."),
}


def error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"statusCode": status, "name": name, "message": message}, status_code=status
    )


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """An injected failure in Resend's error shape, with its rate-limit headers on a 429."""
    name, message = _FAULTS.get(status, ("application_error", "Error"))
    response = error(status, name, message)
    if status == 429:
        response.headers.update(
            {
                "retry-after": str(retry_after),
                "ratelimit-limit": str(RATE_LIMIT),
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(retry_after),
            }
        )
    return response


def _authenticate(request: Request, tokens: frozenset[str]) -> JSONResponse | None:
    token = bearer_token(request)
    if token is None:
        return error(401, "missing_api_key", "Missing API key in the authorization header.")
    if not secret_matches(token, tokens):
        return error(403, "invalid_api_key", "API key is invalid.")
    return None


def _stored(found: ResendEmail, now: datetime) -> StoredMessage:
    return StoredMessage(
        message_id=str(uuid.uuid4()),
        received_at=now,
        from_=found.from_,
        to=", ".join(found.to),
        recipients=found.recipients,
        cc=", ".join(found.cc),
        bcc=", ".join(found.bcc),
        reply_to=", ".join(found.reply_to),
        subject=found.subject,
        html_body=found.html,
        text_body=found.text,
        headers=found.headers,
        message_stream="",
        api="resend",
        custom_id=found.tags.get(MESSAGE_ID_KEY, ""),
        custom_args=found.tags,
    )


def _read_batch(body: Any, permissive: bool) -> tuple[list[ResendEmail], list[dict[str, Any]]]:
    """The emails to send and, in permissive mode, ``{index, message}`` for each refused one."""
    if not isinstance(body, list) or not body:
        raise ResendInvalid("validation_error", "The request body must be an array of emails.")
    if len(body) > MAX_BATCH:
        raise ResendInvalid(
            "validation_error",
            f"Too many emails in one batch: {len(body)} were sent, the maximum is {MAX_BATCH}.",
        )
    found: list[ResendEmail] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(body):
        try:
            found.append(read_email(raw))
        except ResendInvalid as exc:
            if not permissive:
                raise ResendInvalid(exc.name, f"emails[{index}]: {exc.message}") from None
            errors.append({"index": index, "message": exc.message})
    return found, errors


def _validation_mode(request: Request) -> bool | None:
    """True for permissive batch validation, False for strict, None for an unknown mode."""
    mode = request.headers.get("x-batch-validation", "strict").strip().lower()
    return {"strict": False, "permissive": True}.get(mode)


def build_resend_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    tokens = sandbox.options.server_tokens
    remembered = IdempotencyCache()

    async def handle(request: Request, batch: bool) -> JSONResponse:
        refused = _authenticate(request, tokens)
        if refused is not None:
            return refused
        try:
            body: Any = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return error(422, "validation_error", "The request body is not valid JSON.")
        key = request.headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            return error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        print_ = fingerprint(request.url.path, body)
        if key is not None:
            try:
                earlier = remembered.replay(key, print_)
            except IdempotencyConflict:
                return error(
                    409,
                    "invalid_idempotent_request",
                    "Same idempotency key used with a different request payload.",
                )
            if earlier is not None:
                return JSONResponse(earlier.body, status_code=earlier.status)
        permissive = _validation_mode(request)
        if permissive is None:
            return error(
                422, "validation_error", "x-batch-validation must be 'strict' or 'permissive'."
            )
        try:
            emails, errors = _read_batch(body, permissive) if batch else ([read_email(body)], [])
        except ResendInvalid as exc:
            return error(422, exc.name, exc.message)
        now = datetime.now(UTC)
        stored = [_stored(found, now) for found in emails]
        for message in stored:
            sandbox.accept(message)
        ids = [{"id": message.message_id} for message in stored]
        answer: dict[str, Any] = {"data": ids} if batch else ids[0]
        if batch and permissive:
            answer["errors"] = errors
        if key is not None:
            remembered.remember(key, print_, 200, answer)
        return JSONResponse(answer)

    @router.post("/emails")
    async def send_email(request: Request) -> JSONResponse:
        return await handle(request, batch=False)

    @router.post("/emails/batch")
    async def send_batch(request: Request) -> JSONResponse:
        return await handle(request, batch=True)

    return router
