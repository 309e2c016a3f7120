"""Postmark's per-message validation rules, with Postmark's own ErrorCodes and wording.

Pure functions (no I/O) so the API handlers stay thin and the rules are easy to extend. Messages
follow Postmark's public answers where they are known (support articles, client libraries and
django-anymail's parsing of them); where Postmark's exact wording is not public the message
names the rule in the same style.
"""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distro.sandbox.addresses import DOMAIN_PATTERN, MAILBOX_PATTERN

# Postmark ErrorCodes (https://postmarkapp.com/developer/api/overview#error-codes).
BAD_TOKEN = 10
INVALID_EMAIL_REQUEST = 300
INVALID_JSON = 402
INCOMPATIBLE_JSON = 403
JSON_REQUIRED = 409
TOO_MANY_BATCH_MESSAGES = 410

MAX_RECIPIENTS = 50
MAX_BATCH = 500
MAX_TAG_LENGTH = 1000
TRACK_LINKS = frozenset({"None", "HtmlAndText", "HtmlOnly", "TextOnly"})


@dataclass(frozen=True, slots=True)
class PostmarkError:
    """One refusal: an ErrorCode and Postmark's message."""

    code: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"ErrorCode": self.code, "Message": self.message}


class Invalid(Exception):
    """Raised inside validation; carries the PostmarkError to answer with."""

    def __init__(self, error: PostmarkError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class ValidMessage:
    """A message that passed validation, normalised for the store."""

    from_: str
    to: str
    cc: str
    bcc: str
    reply_to: str
    recipients: tuple[str, ...]
    subject: str
    html_body: str
    text_body: str
    headers: tuple[tuple[str, str], ...]
    metadata: Mapping[str, str]
    tag: str
    message_stream: str


def _invalid(message: str, code: int = INVALID_EMAIL_REQUEST) -> Invalid:
    return Invalid(PostmarkError(code, message))


def _string(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"Invalid '{name}' value: expected a string.")
    return value


# One plain mailbox, "Name <addr>" or "addr", with nothing that needs the full RFC 5322 parser
# (quotes, comments, escapes, groups, domain literals, lists). Almost every address is one.
_PLAIN = r'[^\s<>",;:()\[\]\\@]+@[^\s<>",;:()\[\]\\@]+'
_SIMPLE_MAILBOX = re.compile(rf'^\s*(?:[^<>",;:()\[\]\\@]*<({_PLAIN})>|({_PLAIN}))\s*$')


def _mailboxes(value: str) -> list[str]:
    if not value or value.isspace():
        return []
    simple = _SIMPLE_MAILBOX.match(value)
    if simple:
        return [simple[1] or simple[2]]
    return [address for _display, address in email.utils.getaddresses([value])]


def parse_addresses(field_name: str, value: str) -> list[str]:
    """The addr-specs (lower-cased) in an address list header, or Invalid like Postmark."""
    if not value:  # Cc, Bcc and ReplyTo are mostly absent
        return []
    found: list[str] = []
    for address in _mailboxes(value):
        address = address.strip()
        if not address:
            continue
        if "@" not in address:
            raise _invalid(
                f"Error parsing '{field_name}': Illegal email address '{address}'. "
                "It must contain the '@' symbol."
            )
        mailbox, _, domain = address.rpartition("@")
        if not DOMAIN_PATTERN.match(domain) or "." not in domain:
            raise _invalid(
                f"Error parsing '{field_name}': Illegal email domain '{domain}' "
                f"in address '{address}'."
            )
        if not MAILBOX_PATTERN.match(mailbox):
            raise _invalid(f"Invalid '{field_name}' address: '{address}'.")
        found.append(address.lower())
    if value.strip() and not found:
        raise _invalid(f"Invalid '{field_name}' address: '{value}'.")
    return found


@functools.lru_cache(maxsize=256)
def _parse_repeated(field_name: str, value: str) -> tuple[str, ...]:
    """``parse_addresses`` for fields every message of a send repeats (From, ReplyTo)."""
    return tuple(parse_addresses(field_name, value))


def _headers(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = raw.get("Headers")
    if value is None:
        return ()
    problem = 'Invalid \'Headers\' value: expected a list of {"Name": ..., "Value": ...} objects.'
    if not isinstance(value, list):
        raise _invalid(problem)
    headers: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise _invalid(problem)
        name, header_value = item.get("Name"), item.get("Value")
        if not isinstance(name, str) or not name.strip() or not isinstance(header_value, str):
            raise _invalid(problem)
        headers.append((name, header_value))
    return tuple(headers)


METADATA_PROBLEM = "Invalid 'Metadata' value: expected an object of string values."


def _metadata(raw: Mapping[str, Any]) -> dict[str, str]:
    value = raw.get("Metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(METADATA_PROBLEM)
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise _invalid(METADATA_PROBLEM)
    return value  # freshly parsed JSON: nobody else holds it


def _check_tracking(raw: Mapping[str, Any]) -> None:
    opens = raw.get("TrackOpens")
    if opens is not None and not isinstance(opens, bool):
        raise _invalid("Invalid 'TrackOpens' value: expected true or false.")
    links = raw.get("TrackLinks")
    if links is not None and links not in TRACK_LINKS:
        raise _invalid(
            f"Invalid 'TrackLinks' value: '{links}'. Use one of: {', '.join(sorted(TRACK_LINKS))}."
        )


def validate_message(raw: Any) -> ValidMessage:
    """Check one message the way Postmark does; raises Invalid with the first problem."""
    if not isinstance(raw, dict):
        raise _invalid("Incompatible JSON: each message must be a JSON object.", INCOMPATIBLE_JSON)
    sender = _string(raw, "From")
    senders = _parse_repeated("From", sender) if sender.strip() else ()
    if len(senders) != 1:
        raise _invalid(f"Invalid 'From' address: '{sender}'.")
    to, cc, bcc = _string(raw, "To"), _string(raw, "Cc"), _string(raw, "Bcc")
    to_addresses = parse_addresses("To", to)
    if not to_addresses:
        raise _invalid("Zero recipients specified")
    recipients = to_addresses + parse_addresses("Cc", cc) + parse_addresses("Bcc", bcc)
    if len(recipients) > MAX_RECIPIENTS:
        raise _invalid(
            f"Invalid email request: maximum of {MAX_RECIPIENTS} recipients allowed per "
            f"email message (To, Cc and Bcc together); this one has {len(recipients)}."
        )
    reply_to = _string(raw, "ReplyTo")
    _parse_repeated("ReplyTo", reply_to)
    html_body, text_body = _string(raw, "HtmlBody"), _string(raw, "TextBody")
    if not html_body and not text_body:
        raise _invalid("Provide either email TextBody or HtmlBody or both.")
    tag = _string(raw, "Tag")
    if len(tag) > MAX_TAG_LENGTH:
        raise _invalid(f"Invalid 'Tag' value: at most {MAX_TAG_LENGTH} characters.")
    _check_tracking(raw)
    return ValidMessage(
        from_=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        recipients=tuple(recipients),
        subject=_string(raw, "Subject"),
        html_body=html_body,
        text_body=text_body,
        headers=_headers(raw),
        metadata=_metadata(raw),
        tag=tag,
        message_stream=_string(raw, "MessageStream") or "outbound",
    )
