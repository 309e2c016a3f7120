"""SendGrid v3 Mail Send bodies: validation with SendGrid's error wording and fields, and the
resolution of each personalization into the message its recipients get.

SendGrid reports every problem it finds at once, each as ``{message, field, help}``, so these
checks collect instead of stopping at the first. Wording follows SendGrid's published error list
(docs "Mail Send errors" and the support article on validation errors).

Deviation: stored (legacy or dynamic) templates are not emulated; a ``template_id`` is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distro.providers.addresses import display_address
from distro.sandbox.addresses import is_valid_address

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_SUBSTITUTIONS = 100  # per personalization
MAX_SUBSTITUTION_BYTES = 10_000  # keys and values of one personalization together
MAX_CUSTOM_ARGS_BYTES = 10_000  # custom_args of one personalization, with the request's
HELP = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
_KINDS = ("to", "cc", "bcc")


@dataclass(frozen=True, slots=True)
class SendGridError:
    message: str
    field: str | None
    help: str | None = HELP

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "field": self.field, "help": self.help}


@dataclass(frozen=True, slots=True)
class Personalized:
    """The message one personalization's recipients get, after substitutions."""

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
    custom_args: Mapping[str, str] = field(default_factory=dict)
    tag: str = ""


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), "string")


class _Checker:
    def __init__(self) -> None:
        self.errors: list[SendGridError] = []

    def fail(self, message: str, where: str | None) -> None:
        self.errors.append(SendGridError(message, where))

    def strings(self, raw: Any, where: str) -> dict[str, str]:
        """An object of string values (headers, custom_args, substitutions)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(f"Invalid type. Expected: object, given: {_type_name(raw)}.", where)
            return {}
        good: dict[str, str] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                good[str(key)] = value
            else:
                self.fail(
                    f"Invalid type. Expected: string, given: {_type_name(value)}.",
                    f"{where}.{key}",
                )
        return good

    def mailbox(self, raw: Any, where: str, missing: str) -> tuple[str, str] | None:
        """``(name, address)`` of an ``{email, name}`` object."""
        if not isinstance(raw, dict) or not isinstance(raw.get("email"), str):
            self.fail(missing, where)
            return None
        address = raw["email"].strip()
        name = raw.get("name")
        if not is_valid_address(address):
            self.fail("Does not contain a valid address.", f"{where}.email")
            return None
        return (name if isinstance(name, str) else ""), address


def _display(mailboxes: list[tuple[str, str]]) -> str:
    return ", ".join(display_address(*m) for m in mailboxes)


@dataclass
class _Content:
    text: str = ""
    html: str = ""


def _content(check: _Checker, raw: Any) -> _Content:
    found = _Content()
    if not isinstance(raw, list) or not raw:
        check.fail(
            "Unless a valid template_id is provided, the content parameter is required. There "
            "must be at least one defined content block. We typically suggest both text/plain "
            "and text/html blocks are included, but only one block is required.",
            "content",
        )
        return found
    seen: set[str] = set()
    for index, block in enumerate(raw):
        where = f"content.{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        value = block.get("value") if isinstance(block, dict) else None
        if not isinstance(value, str) or not value:
            check.fail(
                "The content value must be a string at least one character in length.",
                f"{where}.value",
            )
        if not isinstance(kind, str) or not kind.strip():
            check.fail("The content type must be a string at least one character.", f"{where}.type")
            continue
        kind = kind.strip().lower()
        if kind in seen and kind in ("text/plain", "text/html"):
            check.fail("If present, text/plain and text/html may only be provided once.", where)
        if kind == "text/plain" and seen:
            check.fail(
                "If present, text/plain must be first, followed by text/html, followed by any "
                "other content.",
                f"{where}.type",
            )
        seen.add(kind)
        if isinstance(value, str):
            if kind == "text/plain":
                found.text = value
            elif kind == "text/html":
                found.html = value
    return found


def _recipients(
    check: _Checker, raw: Mapping[str, Any], where: str, seen: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """to/cc/bcc of one personalization; ``seen`` spans the whole request (address -> field)."""
    found: dict[str, list[tuple[str, str]]] = {kind: [] for kind in _KINDS}
    here: dict[str, str] = {}
    for kind in _KINDS:
        value = raw.get(kind)
        if value is None and kind != "to":
            continue
        if not isinstance(value, list) or (kind == "to" and not value):
            check.fail(
                f"The {kind} array is required for all personalization objects, and must have "
                "at least one email object with a valid email address."
                if kind == "to"
                else f"The {kind} parameter must be an array of email objects.",
                f"{where}.{kind}",
            )
            continue
        for index, item in enumerate(value):
            spot = f"{where}.{kind}.{index}"
            mailbox = check.mailbox(
                item,
                spot,
                f"Each {kind} object must at least have an email address and may also "
                'contain a name. e.g. {"email" : "example@example.com"} or {"email" : '
                '"example@example.com", "name" : "Example Recipient"}.',
            )
            if mailbox is None:
                continue
            address = mailbox[1].lower()
            if address in here:
                check.fail(
                    "Each email address in the personalization block should be unique between "
                    f"to, cc, and bcc. We found the first duplicate instance of [{mailbox[1]}] in "
                    f"the {where}.{kind} field.",
                    where,
                )
            elif address in seen:
                check.fail(
                    "Each unique email address in the personalizations array should only be "
                    f"included once. You have included [{mailbox[1]}] more than once.",
                    f"{spot}.email",
                )
            here[address] = spot
            seen.setdefault(address, spot)
            found[kind].append(mailbox)
    return found


def _size(values: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in values.items())


def _check_sizes(
    check: _Checker, where: str, substitutions: Mapping[str, str], custom_args: Mapping[str, str]
) -> None:
    if len(substitutions) > MAX_SUBSTITUTIONS:
        check.fail(
            f"You may not include more than {MAX_SUBSTITUTIONS} substitutions per "
            "personalization object.",
            f"{where}.substitutions",
        )
    if _size(substitutions) > MAX_SUBSTITUTION_BYTES:
        check.fail(
            "The total collective size of your substitutions may not exceed "
            f"{MAX_SUBSTITUTION_BYTES} bytes per personalization object.",
            f"{where}.substitutions",
        )
    if _size(custom_args) > MAX_CUSTOM_ARGS_BYTES:
        check.fail(
            f"The total size of custom arguments may not exceed {MAX_CUSTOM_ARGS_BYTES} bytes "
            "per personalization.",
            f"{where}.custom_args",
        )


def _substitute(text: str, substitutions: Mapping[str, str]) -> str:
    for tag, value in substitutions.items():
        text = text.replace(tag, value)
    return text


@dataclass(frozen=True, slots=True)
class _Shared:
    """What a request gives every personalization unless the personalization overrides it."""

    sender: tuple[str, str] | None
    reply_to: tuple[str, str] | None
    subject: str
    content: _Content
    headers: Mapping[str, str]
    custom_args: Mapping[str, str]
    tag: str


def _shared(check: _Checker, body: Mapping[str, Any]) -> _Shared:
    sender = check.mailbox(
        body.get("from"),
        "from",
        "The from object must be provided for every email send. It is an object that requires "
        "the email parameter, but may also contain a name parameter.",
    )
    if body.get("template_id") is not None:
        check.fail("The sandbox does not emulate stored templates: send content.", "template_id")
    content = _content(check, body.get("content"))
    reply_to = body.get("reply_to")
    reply = (
        None
        if reply_to is None
        else check.mailbox(reply_to, "reply_to", "The reply_to email must be valid.")
    )
    categories = body.get("categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        check.fail("The categories parameter must be an array of strings.", "categories")
        categories = []
    elif len(categories) > MAX_CATEGORIES:
        check.fail(
            f"You cannot have more than {MAX_CATEGORIES} categories per request.", "categories"
        )
    subject = body.get("subject")
    return _Shared(
        sender=sender,
        reply_to=reply,
        subject=subject if isinstance(subject, str) else "",
        content=content,
        headers=check.strings(body.get("headers"), "headers"),
        custom_args=check.strings(body.get("custom_args"), "custom_args"),
        tag=categories[0] if categories else "",
    )


def _personalized(
    check: _Checker, item: Mapping[str, Any], where: str, shared: _Shared, seen: dict[str, str]
) -> Personalized | None:
    """One personalization's message; None when it has a problem (recorded in ``check``)."""
    people = _recipients(check, item, where, seen)
    subject = _own_subject(item) or shared.subject
    substitutions = check.strings(item.get("substitutions"), f"{where}.substitutions")
    own_headers = check.strings(item.get("headers"), f"{where}.headers")
    custom_args = {
        **shared.custom_args,
        **check.strings(item.get("custom_args"), f"{where}.custom_args"),
    }
    _check_sizes(check, where, substitutions, custom_args)
    own_from = item.get("from")
    sender = (
        shared.sender
        if own_from is None
        else check.mailbox(own_from, f"{where}.from", "The from email must be valid.")
    )
    if sender is None or not subject:
        return None

    def fill(text: str) -> str:
        return _substitute(text, substitutions)

    headers = {**shared.headers, **own_headers}
    return Personalized(
        from_=display_address(*sender),
        to=_display(people["to"]),
        cc=_display(people["cc"]),
        bcc=_display(people["bcc"]),
        recipients=tuple(a.lower() for kind in _KINDS for _n, a in people[kind]),
        reply_to=fill(display_address(*shared.reply_to)) if shared.reply_to else "",
        subject=fill(subject),
        text=fill(shared.content.text),
        html=fill(shared.content.html),
        headers=tuple((k, fill(v)) for k, v in headers.items()),
        custom_args=custom_args,
        tag=shared.tag,
    )


def _own_subject(item: Mapping[str, Any]) -> str:
    subject = item.get("subject")
    return subject if isinstance(subject, str) else ""


def read_mail_send(body: Any) -> tuple[list[Personalized], list[SendGridError]]:
    """The messages a Mail Send body asks for, or SendGrid's errors (then nothing is sent)."""
    check = _Checker()
    if not isinstance(body, dict):
        check.fail("Bad Request", None)
        return [], check.errors
    shared = _shared(check, body)
    raw = body.get("personalizations")
    if not isinstance(raw, list) or not raw:
        check.fail("You must have at least one personalization.", "personalizations")
        return [], check.errors
    if len(raw) > MAX_PERSONALIZATIONS:
        check.fail(
            f"The personalization block is limited to {MAX_PERSONALIZATIONS} personalizations "
            f"per API request. You have provided {len(raw)} personalizations. Please consider "
            "splitting this into multiple requests and resending your request.",
            "personalizations",
        )
        return [], check.errors
    seen: dict[str, str] = {}
    resolved: list[Personalized] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            check.fail("Each personalization must be an object.", f"personalizations.{index}")
            continue
        message = _personalized(check, item, f"personalizations.{index}", shared, seen)
        if message is not None:
            resolved.append(message)
    if not shared.subject and any(isinstance(i, dict) and not _own_subject(i) for i in raw):
        check.fail(
            "The subject is required. You can get around this requirement if you use a template "
            "with a subject defined or if every single personalization has a subject defined.",
            "subject",
        )
    if len(seen) > MAX_RECIPIENTS:
        check.fail(
            f"There is a limit of {MAX_RECIPIENTS} total recipients (to + cc + bcc) per request.",
            "personalizations",
        )
    return ([], check.errors) if check.errors else (resolved, [])
