"""The Postmark-compatible sending endpoints: ``POST /email`` and ``POST /email/batch``.

Answers follow Postmark's documented shapes: 401 with ErrorCode 10 for a missing or unknown
server token, 422 with an ErrorCode for a request that cannot be read, and for a batch HTTP 200
with one result per message in request order, so one bad message does not sink the others.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from distro.providers.base import MESSAGE_ID_KEY
from distro.sandbox.auth import secret_matches
from distro.sandbox.ids import new_message_id
from distro.sandbox.store import StoredMessage
from distro.sandbox.validation import (
    BAD_TOKEN,
    INCOMPATIBLE_JSON,
    INVALID_JSON,
    JSON_REQUIRED,
    MAX_BATCH,
    TOO_MANY_BATCH_MESSAGES,
    Invalid,
    PostmarkError,
    ValidMessage,
    validate_message,
)

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox

TOKEN_HEADER = "X-Postmark-Server-Token"  # noqa: S105 - a header name
NO_CREDENTIALS_TEXT = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for "
    "either X-Postmark-Server-Token or X-Postmark-Account-Token."
)
REFUSED_CREDENTIALS_TEXT = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. "
    "Please verify that you are using a valid token."
)
#: The sending endpoints, for fault injection.
SENDING_PATH = re.compile(r"/email(/batch)?")
RATE_LIMITED = 429  # Postmark's ErrorCode for "rate limit exceeded", also its HTTP status

_FAULT_TEXT = {
    429: "Rate limit exceeded: slow down and retry later.",
    500: "Internal Server Error",
    503: "Service Unavailable: Postmark is down for maintenance, please retry later.",
}


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(PostmarkError(code, message).to_json(), status_code=status)


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """An injected failure in Postmark's ``{ErrorCode, Message}`` shape."""
    response = _error(status, status, _FAULT_TEXT.get(status, "Error"))
    if status == RATE_LIMITED:
        response.headers["Retry-After"] = str(retry_after)
    return response


def authenticate(request: Request, tokens: frozenset[str]) -> JSONResponse | None:
    """None when the server token is known, else Postmark's 401 answer."""
    token = request.headers.get(TOKEN_HEADER)
    if not token:
        return _error(401, BAD_TOKEN, NO_CREDENTIALS_TEXT)
    if not secret_matches(token, tokens):
        return _error(401, BAD_TOKEN, REFUSED_CREDENTIALS_TEXT)
    return None


async def _read_json(request: Request) -> tuple[Any, JSONResponse | None]:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        return None, _error(
            422,
            JSON_REQUIRED,
            "JSON required: set the Content-Type header of the request to application/json.",
        )
    try:
        # orjson: batches of 500 messages arrive many times a second in benchmarks.
        return orjson.loads(await request.body()), None
    except (ValueError, UnicodeDecodeError):
        return None, _error(422, INVALID_JSON, "Received invalid JSON input.")


def _accept(sandbox: Sandbox, valid: ValidMessage, now: datetime) -> dict[str, Any]:
    stored = StoredMessage(
        message_id=new_message_id(),
        received_at=now,
        from_=valid.from_,
        to=valid.to,
        recipients=valid.recipients,
        cc=valid.cc,
        bcc=valid.bcc,
        reply_to=valid.reply_to,
        subject=valid.subject,
        html_body=valid.html_body,
        text_body=valid.text_body,
        headers=valid.headers,
        metadata=valid.metadata,
        tag=valid.tag,
        message_stream=valid.message_stream,
        api="postmark",
        custom_id=valid.metadata.get(MESSAGE_ID_KEY, ""),
        custom_args=valid.metadata,
    )
    sandbox.accept(stored)
    return {
        "To": valid.to,
        "SubmittedAt": _iso(now),
        "MessageID": stored.message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def _one(sandbox: Sandbox, raw: Any, now: datetime) -> tuple[int, dict[str, Any]]:
    try:
        valid = validate_message(raw)
    except Invalid as exc:
        return 422, exc.error.to_json()
    return 200, _accept(sandbox, valid, now)


@functools.lru_cache(maxsize=4)
def _iso(moment: datetime) -> str:
    return moment.isoformat()


async def _authorised_json(
    request: Request, tokens: frozenset[str]
) -> tuple[Any, JSONResponse | None]:
    """The parsed body, or the refusal Postmark would give (token first, then the JSON)."""
    refused = authenticate(request, tokens)
    if refused is not None:
        return None, refused
    return await _read_json(request)


def build_api_router(sandbox: Sandbox) -> APIRouter:
    """Routes bound to one sandbox's token set and store."""
    router = APIRouter()
    tokens = sandbox.options.server_tokens

    @router.post("/email")
    async def send_email(request: Request) -> JSONResponse:
        body, problem = await _authorised_json(request, tokens)
        if problem is not None:
            return problem
        status, answer = _one(sandbox, body, datetime.now(UTC))
        return JSONResponse(answer, status_code=status)

    @router.post("/email/batch")
    async def send_batch(request: Request) -> Response:
        body, problem = await _authorised_json(request, tokens)
        if problem is not None:
            return problem
        if not isinstance(body, list):
            return _error(
                422,
                INCOMPATIBLE_JSON,
                "Incompatible JSON: the batch endpoint expects a JSON array of messages.",
            )
        if len(body) > MAX_BATCH:
            return _error(
                422,
                TOO_MANY_BATCH_MESSAGES,
                f"Too many batch messages: {len(body)} were sent, "
                f"the maximum is {MAX_BATCH} per request.",
            )
        now = datetime.now(UTC)
        answers = [_one(sandbox, raw, now)[1] for raw in body]
        return Response(orjson.dumps(answers), media_type="application/json")

    return router
