"""Reading provider webhook bodies: the small checks every format's parser shares.

Parsers raise ``ValueError`` naming the field and the problem; the webhook layer turns that into
a 400 (logged with the body). A batch format keeps the events it could read and reports the rest
in ``Parsed.skipped``, so one odd element does not send a thousand good ones back for retrying.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from distro.tracking.events import NormalisedEvent

#: An RFC 3463 enhanced status code inside SMTP text ("550 5.1.1 user unknown" -> "5.1.1").
ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


class Parsed(NamedTuple):
    """What one webhook body said: the events read, and why any elements were not."""

    events: list[NormalisedEvent]
    skipped: list[str]


def load_json(body: bytes) -> Any:
    """The body as JSON; ValueError saying why not."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not a JSON object")
    return value


def optional_object(value: Any) -> dict[str, Any]:
    """A nested object, or an empty one for a missing (or oddly typed) field."""
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str:
    """A field as text: "" for missing, numbers written out."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def required(payload: Mapping[str, Any], key: str, where: str = "") -> str:
    value = payload.get(key)
    if value in (None, ""):
        raise ValueError(f"{where + '.' if where else ''}{key} is missing")
    return text(value)


def own_id(value: Any) -> int | None:
    """Our message id as echoed back ("123", 123, ["123"]); None for anything else."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value) or None
    return None


def epoch(value: Any, where: str) -> datetime:
    """A Unix timestamp (seconds, possibly fractional) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{where} is missing or not a Unix time")
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{where} is not a Unix time: {value!r}") from None


def iso(value: Any, where: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` allowed) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{where} has no time zone: {value!r}")
    return moment.astimezone(UTC)


def enhanced_status(*texts: str) -> str:
    """The first enhanced status code (5.1.1) found in the texts, or ""."""
    for candidate in texts:
        found = ENHANCED_STATUS.search(candidate)
        if found:
            return found[1]
    return ""


def compact(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` without empty strings (keys the provider had nothing for)."""
    return {key: value for key, value in detail.items() if value != ""}
