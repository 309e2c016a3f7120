"""Each provider's webhook format: which events it reports, in what shape, signed how."""

from __future__ import annotations

from distro.sandbox.webhook_formats import mailgun, postmark, resend, sendgrid, ses
from distro.sandbox.webhook_formats.base import Format, FormatContext, Post

#: API name (see ``distro.sandbox.options.APIS``) -> the format its webhooks use.
FORMATS: dict[str, Format] = {
    "postmark": postmark.posts,
    "sendgrid": sendgrid.posts,
    "mailgun": mailgun.posts,
    "ses": ses.posts,
    "resend": resend.posts,
}

__all__ = ["FORMATS", "Format", "FormatContext", "Post"]
