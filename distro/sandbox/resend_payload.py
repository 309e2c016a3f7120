"""Resend email objects: validation with Resend's error names and wording.

Resend answers a bad request with ``{"statusCode", "name", "message"}``: a missing field is
``missing_required_field``, a malformed one ``validation_error`` (both 422). Messages name the
field in backquotes, as Resend's do.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distro.sandbox.addresses import parse_mailbox

MAX_RECIPIENTS = 50
_TAG = re.compile(r"[A-Za-z0-9_\-]{1,256}")
_ADDRESS_FORMAT = "The email address needs to follow the `email@example.com` or " + (
    "`Name <email@example.com>` format."
)


class ResendInvalid(Exception):
    """A 422 refusal: ``name`` is Resend's error name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class ResendEmail:
    from_: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    reply_to: tuple[str, ...]
    subject: str
    html: str
    text: str
    headers: tuple[tuple[str, str], ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Bare, lower-cased addresses of to, cc and bcc."""
        return tuple(
            email.utils.parseaddr(value)[1].lower() for value in (*self.to, *self.cc, *self.bcc)
        )


def _missing(name: str) -> ResendInvalid:
    return ResendInvalid("missing_required_field", f"Missing `{name}` field.")


def _invalid(message: str) -> ResendInvalid:
    return ResendInvalid("validation_error", message)


def _string(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"The `{name}` field must be a string.")
    return value


def _addresses(raw: Mapping[str, Any], name: str, required: bool = False) -> tuple[str, ...]:
    value = raw.get(name)
    if value is None or value == [] or value == "":
        if required:
            raise _missing(name)
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _invalid(f"Invalid `{name}` field. {_ADDRESS_FORMAT}")
    for item in values:
        if parse_mailbox(item) is None:
            raise _invalid(f"Invalid `{name}` field. {_ADDRESS_FORMAT}")
    return tuple(v.strip() for v in values)


def _headers(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = raw.get("headers")
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid("The `headers` field must be an object of string values.")
    return tuple((str(k), v) for k, v in value.items())


def _tags(raw: Mapping[str, Any]) -> dict[str, str]:
    value = raw.get("tags")
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _invalid("The `tags` field must be an array of `{name, value}` objects.")
    tags: dict[str, str] = {}
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        tag_value = item.get("value", "") if isinstance(item, dict) else None
        if not isinstance(name, str) or not _TAG.fullmatch(name):
            raise _invalid(
                "Tags should only contain ASCII letters (a-z, A-Z), numbers (0-9), "
                "underscores (_), or dashes (-), and be at most 256 characters."
            )
        if not isinstance(tag_value, str) or (tag_value and not _TAG.fullmatch(tag_value)):
            raise _invalid(
                "Tag values should only contain ASCII letters (a-z, A-Z), numbers (0-9), "
                "underscores (_), or dashes (-), and be at most 256 characters."
            )
        tags[name] = tag_value
    return tags


def read_email(raw: Any) -> ResendEmail:
    """One email object; raises ResendInvalid with the first problem."""
    if not isinstance(raw, dict):
        raise _invalid("The request body must be a JSON object.")
    sender = _string(raw, "from")
    if not sender:
        raise _missing("from")
    if parse_mailbox(sender) is None:
        raise _invalid(f"Invalid `from` field. {_ADDRESS_FORMAT}")
    to = _addresses(raw, "to", required=True)
    if len(to) > MAX_RECIPIENTS:
        raise _invalid(f"Invalid `to` field. At most {MAX_RECIPIENTS} recipients are allowed.")
    subject = _string(raw, "subject")
    if not subject:
        raise _missing("subject")
    html, text = _string(raw, "html"), _string(raw, "text")
    if not html and not text:
        raise _missing("html` or `text")
    return ResendEmail(
        from_=sender,
        to=to,
        cc=_addresses(raw, "cc"),
        bcc=_addresses(raw, "bcc"),
        reply_to=_addresses(raw, "reply_to"),
        subject=subject,
        html=html,
        text=text,
        headers=_headers(raw),
        tags=_tags(raw),
    )
