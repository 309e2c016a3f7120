"""Mailgun's legacy webhooks: one event per POST as form fields, normalised.

Accounts set up before Mailgun's JSON webhooks (and "legacy" webhook URLs kept since) post
``application/x-www-form-urlencoded`` or ``multipart/form-data`` bodies: ``event``,
``recipient``, ``domain``, ``timestamp``, ``token``, ``signature`` (the same hex HMAC-SHA256 of
timestamp + token the JSON webhooks carry), ``Message-Id`` (``message-id`` on opens, clicks and
unsubscribes), ``message-headers`` (a JSON list of [name, value]) and each custom variable as a
field of its own, so our message id is the ``MESSAGE_ID_KEY`` field. Legacy events have no
event id: one is derived from what makes the event unique.

What each event becomes: ``delivered``, ``opened``, ``clicked``, ``unsubscribed`` and
``complained`` as named; ``bounced`` (a permanent failure reported by the receiving server) a
hard bounce; ``dropped`` a rejection when Mailgun did not even try ("Not delivering to a
previously bounced address": its own suppression lists), a soft bounce when it gave up
retrying (reason ``old`` or ``maxfails``) and a hard bounce otherwise (``hardfail``).

The body arrives already bounded by the route's body limit; fields are bounded here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

import orjson

from distro.errors import WebhookPayloadError
from distro.models import EventType
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking.event import BounceKind, NormalisedEvent, OptOutScope, Said
from distro.tracking.payloads import enhanced_status, epoch, own_id, required, text

#: Content types of the legacy form bodies.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: More fields than any legacy event has (custom variables included).
MAX_FIELDS = 500

SIMPLE: dict[str, EventType] = {
    "delivered": EventType.DELIVERED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.COMPLAINED,
}


def is_form(content_type: str) -> bool:
    """True for a legacy (form-encoded) body's Content-Type."""
    return content_type.partition(";")[0].strip().lower() in FORM_TYPES


def read_form(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a form body (the first of a repeated name; files left out);
    WebhookPayloadError saying why it cannot be read."""
    if content_type.partition(";")[0].strip().lower() == "multipart/form-data":
        return _multipart(content_type, body)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise WebhookPayloadError(f"form body is not UTF-8 (byte {exc.start})") from None
    except ValueError:
        raise WebhookPayloadError(f"form body has more than {MAX_FIELDS} fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    parsed = BytesParser(policy=HTTP).parsebytes(head + body)
    if not parsed.is_multipart():
        raise WebhookPayloadError("multipart body without a boundary or parts")
    fields: dict[str, str] = {}
    for index, part in enumerate(parsed.iter_parts()):
        if index >= MAX_FIELDS:
            raise WebhookPayloadError(f"form body has more than {MAX_FIELDS} fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # an attachment of a dropped or bounced message: nothing we read
        fields.setdefault(name, _part_text(part, name))
    return fields


def _part_text(part: Message, name: str) -> str:
    raw = part.get_payload(decode=True)
    data = raw if isinstance(raw, bytes) else b""
    try:
        return data.decode(part.get_content_charset() or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise WebhookPayloadError(f"form field {name[:100]!r} is not readable text") from None


def signature_fields(fields: Mapping[str, str]) -> tuple[str, str, str]:
    """(timestamp, token, signature); WebhookPayloadError if one is missing."""
    return (
        required(fields, "timestamp"),
        required(fields, "token"),
        required(fields, "signature"),
    )


def parse(fields: Mapping[str, str]) -> list[NormalisedEvent]:
    """Normalise one legacy webhook (already authenticated); WebhookPayloadError if it cannot
    be read. An event kind with nothing to record gives no event."""
    name = required(fields, "event")
    found = _classify(name, fields)
    if found is None:
        return []
    kind, said = found
    recipient = required(fields, "recipient")
    headers = _headers(fields.get("message-headers", ""))
    provider_id = (
        (fields.get("Message-Id") or fields.get("message-id") or headers.get("message-id", ""))
        .strip()
        .strip("<>")
    )
    timestamp = required(fields, "timestamp")
    url = said.get("click_url", "")
    return [
        NormalisedEvent(
            type=kind,
            provider_event_id=f"legacy:{name}:{provider_id}:{recipient.lower()}:{timestamp}:{url}",
            occurred_at=epoch(timestamp, "timestamp"),
            recipient=recipient,
            provider_message_id=provider_id or None,
            message_id=own_id(fields.get(MESSAGE_ID_KEY)) or _own_id_in_headers(headers),
            raw=dict(fields),
            **said,
        )
    ]


def _classify(name: str, fields: Mapping[str, str]) -> tuple[EventType, Said] | None:
    if name == "bounced":
        return _failure(EventType.BOUNCED, BounceKind.HARD, fields)
    if name == "dropped":
        reason = fields.get("reason", "")
        if fields.get("description", "").startswith("Not delivering to"):
            return _failure(EventType.REJECTED, None, fields)
        gave_up = reason in ("old", "maxfails")
        return _failure(EventType.BOUNCED, BounceKind.SOFT if gave_up else BounceKind.HARD, fields)
    kind = SIMPLE.get(name)
    if kind is None:
        return None
    if kind == EventType.DELIVERED:
        return kind, {}
    if kind == EventType.COMPLAINED:
        return kind, {"description": "Mailgun complaint"}
    said: Said = {
        "user_agent": fields.get("user-agent", ""),
        "ip": fields.get("ip", ""),
        "click_url": fields.get("url", "") if kind == EventType.CLICKED else "",
    }
    if kind == EventType.UNSUBSCRIBED:
        said["scope"] = OptOutScope.ALL
    return kind, said


def _failure(
    kind: EventType, bounce_kind: BounceKind | None, fields: Mapping[str, str]
) -> tuple[EventType, Said]:
    code = fields.get("code", "")
    message = fields.get("error") or fields.get("notification") or fields.get("description", "")
    response = f"{code} {message}".strip() if code else message
    said: Said = {
        "bounce_kind": bounce_kind,
        "reason": fields.get("reason", "") or ("bounce" if kind == EventType.BOUNCED else ""),
        "description": fields.get("description", "") or fields.get("notification", ""),
        "mta_response": response,
        "smtp_status": enhanced_status(response),
    }
    return kind, said


def _headers(value: str) -> dict[str, str]:
    """``message-headers`` ([[name, value], ...] as JSON) as lower-cased name -> first value;
    empty when absent or unreadable (it only helps find the message)."""
    try:
        listed = orjson.loads(value) if value else []
    except orjson.JSONDecodeError:
        return {}
    found: dict[str, str] = {}
    if isinstance(listed, list):
        for entry in listed:
            if isinstance(entry, list) and len(entry) == 2:
                found.setdefault(text(entry[0]).lower(), text(entry[1]))
    return found


def _own_id_in_headers(headers: Mapping[str, str]) -> int | None:
    """Our id in the ``X-Mailgun-Variables`` header Mailgun adds for custom variables."""
    try:
        variables = orjson.loads(headers.get("x-mailgun-variables", "") or "{}")
    except orjson.JSONDecodeError:
        return None
    return own_id(variables.get(MESSAGE_ID_KEY)) if isinstance(variables, dict) else None
