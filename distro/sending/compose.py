"""Turn a release and a recipient into the email a provider receives.

``Composer`` is built once per send, always through ``composer_for`` (the engine, scheduling's
check render, test copies and previews): it renders the release's Markdown and prepares the
templates (see ``distro.rendering``); ``compose`` then fills in one recipient's values, signed
links and the RFC 8058 one-click unsubscribe headers.

A tracked send (``tracked_send``: its id, when its switch and ``tracking.enabled`` are on;
previews and test copies are never tracked) has its links rewritten to the click redirect and
the open pixel added, once per send at preparation; each recipient then costs two signatures,
their click and open tokens, however many links there are (see ``distro.tracking.rewrite``).

What templates see:
    release   the release's fields, ``body_html`` / ``boilerplate_html`` rendered once
    sender    name, email, postal_address
    embargo   None, or {notice, lift, lift_short} on an embargoed advance copy
    contact   email, first_name, last_name, full_name, outlet, title, region, country,
              language, timezone, custom.NAME (a missing custom field reads as "")
    recipient greeting ("Dear Amara," / "Hello,"), at_outlet (" at Harbor Herald" or ""),
              embargo_local (the lift in their zone, or "")
    links     unsubscribe, view_online (signed per recipient; never rewritten for tracking)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from distro.config import Settings, secret_key
from distro.models import Contact, Release
from distro.moments import zone
from distro.providers.base import OutboundEmail
from distro.releases import embargo
from distro.releases.views import ReleaseView
from distro.rendering import (
    TRACKING,
    OpenFields,
    PreparedRelease,
    RenderedEmail,
    make_environment,
    markdown_to_html,
)
from distro.single_line import single_line
from distro.tracking.links import LinkPurpose, LinkSigner
from distro.tracking.rewrite import LinkRewriter
from distro.urls import allowed_or_empty


def release_context(release: Release | ReleaseView) -> dict[str, Any]:
    """What templates see as ``release``: stored fields plus the HTML rendered once."""
    return {
        "id": release.id,
        "slug": release.slug,
        "title": release.title,
        "subtitle": release.subtitle,
        "dateline": release.dateline,
        "release_date": release.release_date,
        "date_text": f"{release.release_date:%B} {release.release_date.day}, "
        f"{release.release_date:%Y}"
        if release.release_date
        else "",
        "language": release.language,
        "body_text": release.body_md.strip(),
        "body_html": Markup(markdown_to_html(release.body_md)),  # noqa: S704 (escapes raw HTML)
        "boilerplate": release.boilerplate.strip(),
        "boilerplate_html": Markup(markdown_to_html(release.boilerplate)),  # noqa: S704
        "media_contacts": [
            {key: str(person.get(key) or "") for key in ("name", "role", "phone", "email")}
            for person in release.media_contacts
        ],
        # A link stored before distro checked links (distro.urls) is shown as its label only:
        # a refused URL is never written into an href, nor into the text part.
        "asset_links": [
            {"label": str(asset.get("label") or ""), "url": allowed_or_empty(asset.get("url"))}
            for asset in release.asset_links
        ],
    }


class ContactFields(Protocol):
    """What composing needs of a contact: a ``Contact`` or a light row loaded for sending."""

    @property
    def email(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def outlet(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def custom(self) -> Mapping[str, Any]: ...


def contact_values(contact: ContactFields) -> dict[str, Any]:
    return {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": f"{contact.first_name} {contact.last_name}".strip(),
        "outlet": contact.outlet,
        "title": contact.title,
        "region": contact.region,
        "country": contact.country,
        "language": contact.language,
        "timezone": contact.timezone,
        "custom": OpenFields({str(k): str(v) for k, v in contact.custom.items()}),
    }


SAMPLE_CONTACT = Contact(
    email="sample@example.org",
    first_name="Sample",
    last_name="Journalist",
    outlet="Sample Outlet",
    title="Reporter",
    region="Region",
    country="Country",
    language="en",
    timezone="UTC",
)


class Composer:
    def __init__(
        self,
        settings: Settings,
        environment: jinja2.Environment,
        signer: LinkSigner,
        release: Release,
        template: str,
        *,
        embargo_notice: bool = False,
        tracked_send: int | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.release = release
        self.base_url = settings.server.base_url
        sending = settings.sending
        self.notice = embargo_notice and release.embargo_at is not None
        self._local_lift: dict[str, str] = {}
        # Read per recipient: plain strings, not the release's instrumented ORM attributes.
        self._web_copy_url = f"{self.base_url}/releases/{release.slug}?t="
        self._tag = f"release-{release.id}"
        self.tracked = tracked_send is not None
        self.prepared = PreparedRelease(
            environment,
            template,
            {
                "release": release_context(release),
                "language": release.language,
                "sender": {
                    "name": sending.from_name,
                    "email": sending.from_email,
                    "postal_address": sending.postal_address,
                },
                "embargo": self._embargo_context(),
            },
            sample=self.values(0, SAMPLE_CONTACT),
            links=None
            if tracked_send is None
            else LinkRewriter(self.base_url, partial(signer.sign_link, tracked_send)),
        )

    def _embargo_context(self) -> dict[str, str] | None:
        if not self.notice or self.release.embargo_at is None:
            return None
        lift, zone_name = self.release.embargo_at, self.release.embargo_tz
        local = lift.astimezone(zone(zone_name))
        return {
            "notice": embargo.notice_text(lift, zone_name),
            "lift": embargo.lift_text(lift, zone_name),
            "lift_short": f"{local:%H:%M} {local:%Z} {local.day} {local:%b %Y}",
        }

    def _lift_where_they_are(self, zone_name: str) -> str:
        """' That is 12:00 EST where you are.' for a contact in another zone, else ''."""
        if not self.notice or not zone_name:
            return ""
        lift = self.release.embargo_at
        if lift is None:
            return ""
        if zone_name not in self._local_lift:
            try:
                theirs = lift.astimezone(zone(zone_name))
            except Exception:  # an unknown zone on a contact: say nothing rather than fail
                theirs = None
            ours = lift.astimezone(zone(self.release.embargo_tz))
            self._local_lift[zone_name] = (
                f" That is {theirs:%H:%M} {theirs:%Z} on {theirs:%A} where you are."
                if theirs is not None and theirs.utcoffset() != ours.utcoffset()
                else ""
            )
        return self._local_lift[zone_name]

    def links(self, message_id: int) -> dict[str, str]:
        return {
            "unsubscribe": f"{self.base_url}/u/"
            + self.signer.sign(LinkPurpose.UNSUBSCRIBE, message_id),
            "view_online": self._web_copy_url + self.signer.sign(LinkPurpose.WEB_COPY, message_id),
        }

    def values(self, message_id: int, contact: ContactFields) -> dict[str, Any]:
        return {
            "contact": contact_values(contact),
            "recipient": {
                "greeting": f"Dear {contact.first_name}," if contact.first_name else "Hello,",
                "at_outlet": f" at {contact.outlet}" if contact.outlet else "",
                "embargo_local": self._lift_where_they_are(contact.timezone),
            },
            "links": self.links(message_id),
        }

    def _personal(self, message_id: int, contact: ContactFields) -> dict[str, Any]:
        """``values`` plus, on a tracked send, the message's click and open tokens."""
        values = self.values(message_id, contact)
        if self.tracked:
            values[TRACKING] = {
                "click": self.signer.sign(LinkPurpose.CLICK, message_id),
                "open": self.signer.sign(LinkPurpose.OPEN, message_id),
            }
        return values

    def render(self, message_id: int, contact: ContactFields) -> RenderedEmail:
        return self.prepared.personalise(self._personal(message_id, contact))

    def compose(
        self, message_id: int, contact: ContactFields, *, test: bool = False
    ) -> OutboundEmail:
        values = self._personal(message_id, contact)
        rendered = self.prepared.personalise(values)
        sending = self.settings.sending
        headers = {
            "List-Unsubscribe": f"<{values['links']['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if test:
            headers["X-Distro-Test"] = "yes"
        return OutboundEmail(
            message_id=message_id,
            to_email=contact.email,
            to_name=single_line(values["contact"]["full_name"]),
            from_email=sending.from_email,
            from_name=sending.from_name,
            reply_to=sending.reply_to,
            subject=f"[TEST] {rendered.subject}" if test else rendered.subject,
            html=rendered.html,
            text=rendered.text,
            headers=headers,
            tag=self._tag,
            idempotency_key=f"distro-message-{message_id}",
        )


def composer_for(
    settings: Settings,
    release: Release,
    *,
    template: str = "release",
    advance_copy: bool = False,
    tracking: bool = False,
    send_id: int = 0,
    environment: jinja2.Environment | None = None,
    signer: LinkSigner | None = None,
) -> Composer:
    """The composer for ``release`` as configured: the staff template folder, links signed with
    the secret key, the embargo notice on an advance copy, and link tracking only when both the
    send's switch (``tracking``) and ``tracking.enabled`` are on.

    ``send_id`` is the send whose click and open tokens a tracked composer signs (0 for a render
    that is never sent). A long-lived caller (the sender) passes the ``environment`` and
    ``signer`` it built once, so templates are compiled once per process, not once per send.
    """
    if environment is None:
        environment = make_environment(settings.templates.folder)
    if signer is None:
        signer = LinkSigner(secret_key(settings))
    return Composer(
        settings,
        environment,
        signer,
        release,
        template,
        embargo_notice=advance_copy,
        tracked_send=send_id if tracking and settings.tracking.enabled else None,
    )
