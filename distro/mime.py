"""An ``OutboundEmail`` as the MIME message a mail client receives (previews, .eml, SMTP)."""

from __future__ import annotations

import email.policy
import email.utils
from datetime import datetime
from email.message import EmailMessage

from distro.providers.base import OutboundEmail


def to_mime(outbound: OutboundEmail, *, when: datetime | None = None) -> EmailMessage:
    """multipart/alternative with the text part first (clients show the last part they can)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = outbound.sender
    message["To"] = outbound.recipient
    if outbound.reply_to:
        message["Reply-To"] = outbound.reply_to
    message["Subject"] = outbound.subject
    message["Date"] = email.utils.format_datetime(when) if when else email.utils.formatdate()
    domain = outbound.from_email.rpartition("@")[2] or "distro.invalid"
    message["Message-ID"] = email.utils.make_msgid(f"distro.{outbound.message_id}", domain)
    for name, value in outbound.headers.items():
        message[name] = value
    message.set_content(outbound.text)
    message.add_alternative(outbound.html, subtype="html")
    return message
