"""Reading an SES ``Content.Raw`` message (a whole MIME message) into the parts the inbox shows.

The standard library's ``email`` package parses it with the modern policy, so encoded words,
transfer encodings and multipart nesting come out decoded.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from dataclasses import dataclass
from email.parser import BytesParser

#: Headers shown in their own fields, not repeated in the header list.
_STRUCTURAL = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "content-type",
        "mime-version",
        "content-transfer-encoding",
    }
)


@dataclass(frozen=True, slots=True)
class RawMessage:
    from_: str
    to: str
    cc: str
    bcc: str
    reply_to: str
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...]
    #: Every address in To, Cc and Bcc, for when the request names no Destination.
    addresses: tuple[str, ...]


def _part_text(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if not isinstance(part, email.message.EmailMessage):
        return ""
    content = part.get_content()
    # MIME on the wire ends lines with CRLF; a mail client shows plain line breaks.
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


def parse_raw(data: bytes) -> RawMessage:
    """The fields of one MIME message; raises ValueError when it cannot be read as one."""
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    if not isinstance(message, email.message.EmailMessage) or not message.keys():
        raise ValueError("no MIME headers found")

    def header(name: str) -> str:
        return str(message.get(name, ""))

    to, cc, bcc = header("To"), header("Cc"), header("Bcc")
    addresses = tuple(
        address for _name, address in email.utils.getaddresses([to, cc, bcc]) if address
    )
    return RawMessage(
        from_=header("From"),
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=header("Reply-To"),
        subject=header("Subject"),
        text=_part_text(message, "plain"),
        html=_part_text(message, "html"),
        headers=tuple(
            (name, str(value)) for name, value in message.items() if name.lower() not in _STRUCTURAL
        ),
        addresses=addresses,
    )
