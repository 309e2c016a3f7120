"""Amazon SES v2 SendEmail, ``POST /v2/email/outbound-emails``, signed with SigV4.

Errors follow AWS's REST-JSON convention: the type in the ``x-amzn-ErrorType`` header and
``{"message": ...}`` as the body; a bad signature is a 403 (see ``sigv4``), a bad request a 400
``BadRequestException``. ``Content.Simple`` (with optional ``Headers``) and ``Content.Raw``
(base64 MIME) are stored as one message for every destination; ``EmailTags`` are what SES
events echo back.

Deviations: no identity (sender) verification and no sending quota; templates are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from distro.providers.base import MESSAGE_ID_KEY
from distro.sandbox.addresses import parse_mailbox
from distro.sandbox.ses_mime import parse_raw
from distro.sandbox.sigv4 import SignedRequest, verify
from distro.sandbox.store import StoredMessage

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox

SENDING_PATH = re.compile(r"/v2/email/outbound-emails")
SERVICE = "ses"
MAX_RECIPIENTS = 50
MAX_HEADERS = 15
_TAG_NAME = re.compile(r"[A-Za-z0-9_\-]{1,256}")
_TAG_VALUE = re.compile(r"[A-Za-z0-9_\-.@]{1,256}")

_FAULTS = {
    429: ("TooManyRequestsException", "Too Many Requests"),
    500: ("InternalFailure", "The request processing has failed because of an unknown error."),
    503: ("ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
}


def aws_error(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message},
        status_code=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """An injected failure in SES's REST-JSON error shape."""
    error_type, message = _FAULTS.get(status, ("InternalFailure", "Error"))
    response = aws_error(status, error_type, message)
    if status == 429:
        response.headers["Retry-After"] = str(retry_after)
    return response


class _BadRequest(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Email:
    from_: str
    to: str
    cc: str
    bcc: str
    recipients: tuple[str, ...]
    reply_to: str
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...]
    tags: Mapping[str, str]


def _object(value: Any, name: str, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _BadRequest(f"{name} is required and must be an object.")
    return value


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadRequest(f"{name} must be a string.")
    return value


def _addresses(destination: Mapping[str, Any], name: str) -> list[str]:
    value = destination.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise _BadRequest(f"{name} must be a list of email addresses.")
    for address in value:
        if parse_mailbox(address) is None:
            raise _BadRequest(f"Illegal address: {address!r} in {name}.")
    return list(value)


def _tags(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise _BadRequest("EmailTags must be a list of {Name, Value} objects.")
    tags: dict[str, str] = {}
    for item in raw:
        name = item.get("Name") if isinstance(item, dict) else None
        value = item.get("Value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not _TAG_NAME.fullmatch(name):
            raise _BadRequest(
                f"Invalid tag name {name!r}: use 1 to 256 ASCII letters, numbers, underscores "
                "or dashes."
            )
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            raise _BadRequest(
                f"Invalid tag value {value!r}: use 1 to 256 ASCII letters, numbers, "
                "underscores, dashes, at signs or periods."
            )
        tags[name] = value
    return tags


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_HEADERS:
        raise _BadRequest(f"Headers must be a list of at most {MAX_HEADERS} {{Name, Value}}.")
    found: list[tuple[str, str]] = []
    for item in raw:
        name = item.get("Name") if isinstance(item, dict) else None
        value = item.get("Value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip() or not isinstance(value, str):
            raise _BadRequest("Each header needs a string Name and Value.")
        found.append((name, value))
    return tuple(found)


def _simple(body: Mapping[str, Any], simple: Mapping[str, Any]) -> _Email:
    sender = _text(body.get("FromEmailAddress"), "FromEmailAddress")
    if not sender or parse_mailbox(sender) is None:
        raise _BadRequest("FromEmailAddress is required and must be a valid email address.")
    destination = _object(body.get("Destination"), "Destination")
    subject = _object(simple.get("Subject"), "Content.Simple.Subject")
    content = _object(simple.get("Body"), "Content.Simple.Body")
    text = _text(_object(content.get("Text"), "Body.Text", False).get("Data"), "Body.Text.Data")
    html = _text(_object(content.get("Html"), "Body.Html", False).get("Data"), "Body.Html.Data")
    if not text and not html:
        raise _BadRequest("Content.Simple.Body needs Text or Html data.")
    to, cc, bcc = (
        _addresses(destination, n) for n in ("ToAddresses", "CcAddresses", "BccAddresses")
    )
    return _Email(
        from_=sender,
        to=", ".join(to),
        cc=", ".join(cc),
        bcc=", ".join(bcc),
        recipients=tuple(a for a in (*to, *cc, *bcc)),
        reply_to=", ".join(_addresses(body, "ReplyToAddresses")),
        subject=_text(subject.get("Data"), "Subject.Data"),
        text=text,
        html=html,
        headers=_headers(simple.get("Headers")),
        tags=_tags(body.get("EmailTags")),
    )


def _raw(body: Mapping[str, Any], raw: Mapping[str, Any]) -> _Email:
    try:
        data = base64.b64decode(_text(raw.get("Data"), "Content.Raw.Data"), validate=True)
        mime = parse_raw(data)
    except (binascii.Error, ValueError) as exc:
        raise _BadRequest(f"Content.Raw.Data is not a base64-encoded MIME message: {exc}") from None
    sender = _text(body.get("FromEmailAddress"), "FromEmailAddress") or mime.from_
    if parse_mailbox(sender) is None:
        raise _BadRequest("The message has no valid From address.")
    destination = _object(body.get("Destination"), "Destination", required=False)
    named = [
        a
        for n in ("ToAddresses", "CcAddresses", "BccAddresses")
        for a in _addresses(destination, n)
    ]
    return _Email(
        from_=sender,
        to=mime.to or ", ".join(_addresses(destination, "ToAddresses")),
        cc=mime.cc,
        bcc=mime.bcc,
        recipients=tuple(named) if destination else mime.addresses,
        reply_to=mime.reply_to,
        subject=mime.subject,
        text=mime.text,
        html=mime.html,
        headers=mime.headers,
        tags=_tags(body.get("EmailTags")),
    )


def read_send_email(body: Any) -> _Email:
    """The message a SendEmail body describes; raises _BadRequest with SES's reason."""
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object.")
    content = _object(body.get("Content"), "Content")
    kinds = [k for k in ("Simple", "Raw", "Template") if content.get(k) is not None]
    if len(kinds) != 1:
        raise _BadRequest("Content must have exactly one of Simple, Raw or Template.")
    if kinds[0] == "Template":
        raise _BadRequest("The sandbox does not emulate SES templates: send Simple or Raw content.")
    found = (
        _simple(body, _object(content["Simple"], "Content.Simple"))
        if kinds[0] == "Simple"
        else _raw(body, _object(content["Raw"], "Content.Raw"))
    )
    if not found.recipients:
        raise _BadRequest("The message must have at least one recipient.")
    if len(found.recipients) > MAX_RECIPIENTS:
        raise _BadRequest(f"Recipient count exceeds {MAX_RECIPIENTS}.")
    return found


def _message_id() -> str:
    """An id shaped like SES's: a millisecond clock, a UUID, a sequence."""
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


def _stored(found: _Email) -> StoredMessage:
    return StoredMessage(
        message_id=_message_id(),
        received_at=datetime.now(UTC),
        from_=found.from_,
        to=found.to,
        recipients=tuple(
            mailbox[1].lower() for a in found.recipients if (mailbox := parse_mailbox(a))
        ),
        cc=found.cc,
        bcc=found.bcc,
        reply_to=found.reply_to,
        subject=found.subject,
        html_body=found.html,
        text_body=found.text,
        headers=found.headers,
        message_stream="",
        api="ses",
        custom_id=found.tags.get(MESSAGE_ID_KEY, ""),
        custom_args=found.tags,
    )


def build_ses_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    credentials = sandbox.options.ses_credentials

    @router.post("/v2/email/outbound-emails")
    async def send_email(request: Request) -> JSONResponse:
        raw_body = await request.body()
        signed = SignedRequest(
            method=request.method,
            url=str(request.url),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=raw_body,
        )
        refusal = verify(signed, credentials, SERVICE)
        if refusal is not None:
            return aws_error(403, refusal.error_type, refusal.message)
        try:
            body: Any = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            return aws_error(400, "BadRequestException", "The request body is not valid JSON.")
        try:
            found = read_send_email(body)
        except _BadRequest as exc:
            return aws_error(400, "BadRequestException", str(exc))
        stored = _stored(found)
        sandbox.accept(stored)
        return JSONResponse({"MessageId": stored.message_id})

    return router
