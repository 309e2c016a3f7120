"""An ``OutboundEmail`` as the MIME message a mail client receives (previews, .eml, SMTP, SES).

Every header value is one line (``distro.single_line``): values built from data cannot add
headers, and the email package, which refuses a line break in a value, never fails on them."""

from __future__ import annotations

import email.policy
import email.utils
from datetime import datetime
from email.message import EmailMessage

from distro.providers.base import OutboundEmail
from distro.single_line import single_line


def to_mime(outbound: OutboundEmail, *, when: datetime | None = None) -> EmailMessage:
    """multipart/alternative with the text part first (clients show the last part they can)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = outbound.sender
    message["To"] = outbound.recipient
    if outbound.reply_to:
        message["Reply-To"] = single_line(outbound.reply_to)
    message["Subject"] = single_line(outbound.subject)
    message["Date"] = email.utils.format_datetime(when) if when else email.utils.formatdate()
    domain = outbound.from_email.rpartition("@")[2] or "distro.invalid"
    message["Message-ID"] = email.utils.make_msgid(f"distro.{outbound.message_id}", domain)
    for name, value in outbound.headers.items():
        message[name] = single_line(value)
    message.set_content(outbound.text)
    message.add_alternative(outbound.html, subtype="html")
    return message
