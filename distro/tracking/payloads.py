"""Reading provider webhook bodies: the small checks every format's parser shares.

Parsers raise ``WebhookPayloadError`` (distro's own error type) naming the field and the problem;
the webhook layer turns that into a 400 (logged with the body). Anything else escaping a parser
is a bug: ``tests/test_webhook_parsers_properties.py`` drives every parser with arbitrary and
mutated bodies to keep it so. A batch format keeps the events it could read and reports the rest
in ``Parsed.skipped``, so one odd element does not send a thousand good ones back for retrying.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from distro.errors import WebhookPayloadError
from distro.tracking.event import NormalisedEvent

#: An RFC 3463 enhanced status code inside SMTP text ("550 5.1.1 user unknown" -> "5.1.1").
ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


class Parsed(NamedTuple):
    """What one webhook body said: the events read, and why any elements were not."""

    events: list[NormalisedEvent]
    skipped: list[str]


def load_json(body: bytes) -> Any:
    """The body as JSON; WebhookPayloadError saying why not."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookPayloadError(f"body is not JSON: {exc}") from None


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"{where} is not a JSON object")
    return value


def optional_object(value: Any) -> dict[str, Any]:
    """A nested object, or an empty one for a missing (or oddly typed) field."""
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str:
    """A field as text: "" for missing, numbers written out."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def strings(value: Any) -> list[str]:
    """A list field of text (addresses, mostly) as its non-empty entries written out; a lone
    string is a list of one, anything else none (never the characters of a string, the keys of
    an object)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [entry for entry in map(text, value) if entry]


def required(payload: Mapping[str, Any], key: str, where: str = "") -> str:
    value = payload.get(key)
    if value in (None, ""):
        raise WebhookPayloadError(f"{where + '.' if where else ''}{key} is missing")
    return text(value)


_LARGEST_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL store


def own_id(value: Any) -> int | None:
    """Our message id as echoed back ("123", 123, ["123"]); None for anything else."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # JSON numbers come in up to 2**64 - 1: past any database integer
        return value if 0 < value <= _LARGEST_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value) or None
    return None


def epoch(value: Any, where: str) -> datetime:
    """A Unix timestamp (seconds, possibly fractional) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WebhookPayloadError(f"{where} is missing or not a Unix time")
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookPayloadError(f"{where} is not a Unix time: {_shown(value)}") from None


def iso(value: Any, where: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` allowed) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise WebhookPayloadError(f"{where} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WebhookPayloadError(f"{where} is not an ISO 8601 time: {_shown(value)}") from None
    if moment.tzinfo is None:
        raise WebhookPayloadError(f"{where} has no time zone: {_shown(value)}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a moment before year 1 in UTC
        raise WebhookPayloadError(f"{where} is out of range: {_shown(value)}") from None


def _shown(value: Any) -> str:
    """A refused value as an error message quotes it: bounded, whatever the body held."""
    return repr(value)[:100]


def enhanced_status(*texts: str) -> str:
    """The first enhanced status code (5.1.1) found in the texts, or ""."""
    for candidate in texts:
        found = ENHANCED_STATUS.search(candidate)
        if found:
            return found[1]
    return ""
