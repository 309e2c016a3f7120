"""Turn a release and a recipient into the email a provider receives.

``Composer`` is built once per send: it loads the templates and renders the release's Markdown
once; ``compose`` then personalises for one recipient and adds the per-recipient links and the
RFC 8058 one-click unsubscribe headers.
"""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from distro.config import Settings
from distro.models import Contact, Release
from distro.providers.base import OutboundEmail
from distro.rendering import PreparedRelease, RenderedEmail, markdown_to_html
from distro.tracking.links import LinkPurpose, LinkSigner


def release_context(release: Release) -> dict[str, Any]:
    """What templates see as ``release``: stored fields plus the HTML rendered once."""
    return {
        "id": release.id,
        "slug": release.slug,
        "title": release.title,
        "subtitle": release.subtitle,
        "dateline": release.dateline,
        "release_date": release.release_date,
        "language": release.language,
        "body_text": release.body_md.strip(),
        "body_html": Markup(markdown_to_html(release.body_md)),  # noqa: S704 (escapes raw HTML)
        "boilerplate": release.boilerplate.strip(),
        "boilerplate_html": Markup(markdown_to_html(release.boilerplate)),  # noqa: S704
        "media_contacts": release.media_contacts,
        "asset_links": release.asset_links,
    }


def contact_context(contact: Contact) -> dict[str, Any]:
    """What templates see as ``contact``: every contact field, custom ones under ``custom``."""
    return {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "outlet": contact.outlet,
        "title": contact.title,
        "region": contact.region,
        "country": contact.country,
        "language": contact.language,
        "timezone": contact.timezone,
        "custom": dict(contact.custom),
    }


class Composer:
    def __init__(
        self,
        settings: Settings,
        environment: jinja2.Environment,
        signer: LinkSigner,
        release: Release,
        template: str,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.release = release
        sending = settings.sending
        self.prepared = PreparedRelease(
            environment,
            template,
            {
                "release": release_context(release),
                "language": release.language,
                "sender": {"name": sending.from_name, "postal_address": sending.postal_address},
            },
        )
        self.base_url = settings.server.base_url

    def links(self, message_id: int) -> dict[str, str]:
        token = self.signer.sign(LinkPurpose.UNSUBSCRIBE, message_id)
        return {"unsubscribe": f"{self.base_url}/u/{token}"}

    def render(self, message_id: int, contact: Contact) -> RenderedEmail:
        return self.prepared.personalise(
            {"contact": contact_context(contact), "links": self.links(message_id)}
        )

    def compose(self, message_id: int, contact: Contact) -> OutboundEmail:
        rendered = self.render(message_id, contact)
        unsubscribe = self.links(message_id)["unsubscribe"]
        sending = self.settings.sending
        return OutboundEmail(
            message_id=message_id,
            to_email=contact.email,
            to_name=f"{contact.first_name} {contact.last_name}".strip(),
            from_email=sending.from_email,
            from_name=sending.from_name,
            reply_to=sending.reply_to,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            tag=f"release-{self.release.id}",
            idempotency_key=f"distro-message-{message_id}",
        )
