"""Postmark's outbound message search, ``GET /messages/outbound``, and message details.

distro asks it which messages of a batch Postmark accepted when the answer to the send was lost,
filtering on ``metadata_distro_message_id`` as Postmark documents ``metadata_{key}`` filters.
Only messages accepted by the Postmark API are searched: the others belong to other providers.

Deviation: Postmark reads ``fromdate``/``todate`` in US Eastern time; the sandbox reads dates
without an offset as UTC.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from distro.sandbox.postmark_api import authenticate
from distro.sandbox.store import StoredMessage
from distro.sandbox.validation import INVALID_EMAIL_REQUEST, PostmarkError

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox

MAX_COUNT = 500
MAX_WINDOW = 10_000  # count + offset
MESSAGE_NOT_FOUND = 701
METADATA_PREFIX = "metadata_"

Filter = Callable[[StoredMessage], bool]


class _BadQuery(Exception):
    pass


def _people(value: str) -> list[dict[str, str]]:
    return [
        {"Email": address, "Name": name}
        for name, address in email.utils.getaddresses([value])
        if address
    ]


def search_entry(message: StoredMessage) -> dict[str, Any]:
    """One message as Postmark's search lists it (no bodies)."""
    return {
        "Tag": message.tag,
        "MessageID": message.message_id,
        "MessageStream": message.message_stream,
        "To": _people(message.to),
        "Cc": _people(message.cc),
        "Bcc": _people(message.bcc),
        "Recipients": list(message.recipients),
        "ReceivedAt": message.received_at.isoformat(),
        "From": message.from_,
        "Subject": message.subject,
        "Attachments": [],
        "Status": "Sent",
        "TrackOpens": False,
        "TrackLinks": "None",
        "Metadata": dict(message.metadata),
        "Sandboxed": False,
    }


def _integer(params: Mapping[str, str], name: str, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or not raw.strip().lstrip("-").isdigit():
        raise _BadQuery(f"The '{name}' parameter is required and must be a number.")
    value = int(raw)
    if not low <= value <= high:
        raise _BadQuery(f"The '{name}' parameter must be between {low} and {high}.")
    return value


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _BadQuery(f"The '{name}' parameter must be a date such as 2024-01-31.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filters(params: Mapping[str, str]) -> list[Filter]:
    found: list[Filter] = []
    recipient = params.get("recipient", "").strip().lower()
    if recipient:
        found.append(lambda m: recipient in m.recipients)
    sender = params.get("fromemail", "").strip().lower()
    if sender:
        found.append(lambda m: email.utils.parseaddr(m.from_)[1].lower() == sender)
    tag = params.get("tag")
    if tag:
        found.append(lambda m: m.tag == tag)
    subject = params.get("subject", "").lower()
    if subject:
        found.append(lambda m: subject in m.subject.lower())
    stream = params.get("messagestream")
    if stream:
        found.append(lambda m: m.message_stream == stream)
    status = params.get("status", "").lower()
    if status and status != "sent":  # everything the sandbox accepted counts as sent
        found.append(lambda m: False)
    since, until = _moment(params, "fromdate"), _moment(params, "todate")
    if since is not None:
        found.append(lambda m: m.received_at >= since)
    if until is not None:
        found.append(lambda m: m.received_at <= until)
    wanted = {
        key[len(METADATA_PREFIX) :]: value
        for key, value in params.items()
        if key.startswith(METADATA_PREFIX) and len(key) > len(METADATA_PREFIX)
    }
    if wanted:
        found.append(lambda m: all(m.metadata.get(k) == v for k, v in wanted.items()))
    return found


def search(messages: list[StoredMessage], params: Mapping[str, str]) -> dict[str, Any]:
    """Postmark's search answer for ``params``; raises _BadQuery for a malformed query."""
    count = _integer(params, "count", 1, MAX_COUNT)
    offset = _integer(params, "offset", 0, MAX_WINDOW)
    if count + offset > MAX_WINDOW:
        raise _BadQuery(f"'count' and 'offset' together cannot exceed {MAX_WINDOW}.")
    filters = _filters(params)
    matching = [m for m in messages if m.api == "postmark" and all(f(m) for f in filters)]
    return {
        "TotalCount": len(matching),
        "Messages": [search_entry(m) for m in matching[offset : offset + count]],
    }


def build_search_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    tokens = sandbox.options.server_tokens
    store = sandbox.store

    @router.get("/messages/outbound")
    def search_outbound(request: Request) -> JSONResponse:
        refused = authenticate(request, tokens)
        if refused is not None:
            return refused
        try:
            answer = search(store.messages(), request.query_params)
        except _BadQuery as exc:
            error = PostmarkError(INVALID_EMAIL_REQUEST, str(exc))
            return JSONResponse(error.to_json(), status_code=422)
        return JSONResponse(answer)

    @router.get("/messages/outbound/{message_id}/details")
    def outbound_details(request: Request, message_id: str) -> JSONResponse:
        refused = authenticate(request, tokens)
        if refused is not None:
            return refused
        message = store.get(message_id)
        if message is None or message.api != "postmark":
            error = PostmarkError(
                MESSAGE_NOT_FOUND, "This message was not found or is not available."
            )
            return JSONResponse(error.to_json(), status_code=422)
        details = {
            **search_entry(message),
            "TextBody": message.text_body,
            "HtmlBody": message.html_body,
            "Headers": [{"Name": n, "Value": v} for n, v in message.headers],
            "MessageEvents": [],
        }
        return JSONResponse(details)

    return router
