"""Mailgun's sending endpoint, ``POST /v3/{domain}/messages`` (form or multipart).

With ``recipient-variables`` Mailgun sends one message per ``to`` address (batch sending),
substituting ``%recipient.KEY%`` from that address's variables in the subject, bodies, ``h:``
headers and ``v:`` variables; without it, one message goes to every address together. One id
answers the whole call and every message of a batch carries it, as Mailgun's events show, so
batch messages get their own sandbox ``key`` for pages and the JSON API.

Deviations: ``cc``/``bcc`` with ``recipient-variables`` are refused (Mailgun does not document
how they combine); stored templates are not emulated; any domain is accepted.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from distro.providers.addresses import display_address
from distro.providers.base import MESSAGE_ID_KEY
from distro.sandbox.addresses import parse_mailbox, parse_mailbox_list
from distro.sandbox.auth import basic_credentials, secret_matches
from distro.sandbox.store import StoredMessage

if TYPE_CHECKING:
    from starlette.datastructures import FormData

    from distro.sandbox.app import Sandbox

SENDING_PATH = re.compile(r"/v3/[^/]+/messages")
MAX_BATCH_RECIPIENTS = 1000
MAX_TAGS = 3
MAX_FIELDS = 20_000
MAX_PART_BYTES = 25 * 1024 * 1024  # Mailgun's message size limit
VARIABLES_HEADER = "X-Mailgun-Variables"
_PLACEHOLDER = re.compile(r"%recipient\.([A-Za-z0-9_.\-]+)%")

_FAULT_TEXT = {429: "Too many requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class _Refused(Exception):
    """A 400 with Mailgun's ``{"message": ...}``."""


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """An injected failure in Mailgun's ``{"message"}`` shape."""
    response = JSONResponse({"message": _FAULT_TEXT.get(status, "Error")}, status_code=status)
    if status == 429:
        response.headers["Retry-After"] = str(retry_after)
    return response


@dataclass(frozen=True, slots=True)
class _Call:
    """One sending call's fields, before per-recipient substitution."""

    from_: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    subject: str
    text: str
    html: str
    headers: list[tuple[str, str]]
    variables: dict[str, str]
    tags: list[str]
    recipient_variables: dict[str, dict[str, Any]] | None


def _strings(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def _first(form: FormData, name: str) -> str:
    values = _strings(form, name)
    return values[0] if values else ""


def _mailboxes(form: FormData, name: str, required: bool) -> list[tuple[str, str]]:
    values = [v for v in _strings(form, name) if v.strip()]
    if not values:
        if required:
            raise _Refused(f"'{name}' parameter is missing")
        return []
    found = parse_mailbox_list(", ".join(values), utf8_local_part=True)
    if found is None:
        raise _Refused(f"'{name}' parameter is not a valid address. please check documentation")
    return found


def _recipient_variables(form: FormData) -> dict[str, dict[str, Any]] | None:
    raw = _first(form, "recipient-variables")
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(v, dict) for v in parsed.values()):
        raise _Refused("'recipient-variables' parameter is not a valid JSON")
    return {str(address).lower(): values for address, values in parsed.items()}


def _read(form: FormData) -> _Call:
    sender = _first(form, "from")
    if not sender.strip():
        raise _Refused("'from' parameter is missing")
    if parse_mailbox(sender, utf8_local_part=True) is None:
        raise _Refused("'from' parameter is not a valid address. please check documentation")
    to = _mailboxes(form, "to", required=True)
    cc, bcc = _mailboxes(form, "cc", False), _mailboxes(form, "bcc", False)
    text, html = _first(form, "text"), _first(form, "html")
    if _first(form, "template"):
        raise _Refused("The sandbox does not emulate stored templates: send 'text' or 'html'")
    if not text and not html and not _first(form, "amp-html"):
        raise _Refused(
            "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"
        )
    tags = _strings(form, "o:tag")
    if len(tags) > MAX_TAGS:
        raise _Refused(f"Too many tags: at most {MAX_TAGS} 'o:tag' values per message")
    variables: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if name.startswith("v:") and len(name) > 2:
            variables[name[2:]] = value
        elif name.startswith("h:") and len(name) > 2:
            headers.append((name[2:], value))
    recipient_variables = _recipient_variables(form)
    if recipient_variables is not None:
        if cc or bcc:
            raise _Refused("The sandbox does not combine 'cc' or 'bcc' with recipient-variables")
        if len(to) > MAX_BATCH_RECIPIENTS:
            raise _Refused(
                f"Too many recipients: batch sending takes at most {MAX_BATCH_RECIPIENTS}"
            )
    return _Call(
        from_=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=_first(form, "subject"),
        text=text,
        html=html,
        headers=headers,
        variables=variables,
        tags=tags,
        recipient_variables=recipient_variables,
    )


def _substituter(values: Mapping[str, Any]) -> Callable[[str], str]:
    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                return match.group(0)  # left as written
            value = values[match.group(1)]
            return value if isinstance(value, str) else json.dumps(value)

        return _PLACEHOLDER.sub(one, text)

    return fill


def _message(
    call: _Call, people: list[tuple[str, str]], values: Mapping[str, Any]
) -> dict[str, Any]:
    """StoredMessage fields for ``people`` with ``values`` substituted."""
    fill = _substituter(values)
    variables = {k: fill(v) for k, v in call.variables.items()}
    headers: list[tuple[str, str]] = []
    reply_to = ""
    for name, value in call.headers:
        value = fill(value)
        if name.lower() == "reply-to":
            reply_to = value
        elif name.lower() == VARIABLES_HEADER.lower():
            try:
                extra = json.loads(value)
            except ValueError:
                extra = None
            if isinstance(extra, dict):
                variables.update({str(k): str(v) for k, v in extra.items()})
            headers.append((name, value))
        else:
            headers.append((name, value))
    everyone = [*people, *call.cc, *call.bcc]
    return {
        "from_": call.from_,
        "to": ", ".join(display_address(*p) for p in people),
        "cc": ", ".join(display_address(*p) for p in call.cc),
        "bcc": ", ".join(display_address(*p) for p in call.bcc),
        "recipients": tuple(address.lower() for _name, address in everyone),
        "reply_to": reply_to,
        "subject": fill(call.subject),
        "html_body": fill(call.html),
        "text_body": fill(call.text),
        "headers": tuple(headers),
        "tag": call.tags[0] if call.tags else "",
        "message_stream": "",
        "api": "mailgun",
        "custom_id": variables.get(MESSAGE_ID_KEY, ""),
        "custom_args": variables,
    }


def _messages(call: _Call, message_id: str, now: datetime) -> list[StoredMessage]:
    if call.recipient_variables is None:
        fields = _message(call, call.to, {})
        return [StoredMessage(message_id=message_id, received_at=now, **fields)]
    batch = secrets.token_hex(4)
    return [
        StoredMessage(
            message_id=message_id,
            received_at=now,
            key=f"mg-{batch}-{index}",
            **_message(call, [person], call.recipient_variables.get(person[1].lower(), {})),
        )
        for index, person in enumerate(call.to)
    ]


def _new_id(domain: str, now: datetime) -> str:
    return f"{now:%Y%m%d%H%M%S}.{secrets.randbelow(10**6)}.{secrets.token_hex(8).upper()}@{domain}"


def build_mailgun_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    tokens = sandbox.options.server_tokens

    @router.post("/v3/{domain}/messages")
    async def send_message(request: Request, domain: str) -> Response:
        credentials = basic_credentials(request)
        if credentials is None or credentials[0] != "api":
            return PlainTextResponse("Forbidden", status_code=401)
        if not secret_matches(credentials[1], tokens):
            return PlainTextResponse("Forbidden", status_code=401)
        async with request.form(max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES) as form:
            try:
                call = _read(form)
            except _Refused as exc:
                return JSONResponse({"message": str(exc)}, status_code=400)
        now = datetime.now(UTC)
        message_id = _new_id(domain, now)
        for message in _messages(call, message_id, now):
            sandbox.accept(message)
        return JSONResponse({"id": f"<{message_id}>", "message": "Queued. Thank you."})

    return router
