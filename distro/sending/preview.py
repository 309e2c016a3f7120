"""What a contact would receive: a release composed exactly as a send composes it, not sent.

It lives with sending because it is the send's own composition (``distro.sending.compose``)
with a real contact or the sample one; releases do not depend on sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import select

from distro.config import Settings
from distro.db import reading_session
from distro.errors import ValidationError
from distro.models import Contact
from distro.providers.mime import to_mime
from distro.releases.service import get_release
from distro.sending.compose import SAMPLE_CONTACT, composer_for


@dataclass(frozen=True)
class Preview:
    """The whole MIME message, and the parts a person looks at."""

    message: EmailMessage

    def eml(self) -> str:
        """The message as a mail client gets it."""
        return self.message.as_string()

    def body(self, *, text: bool = False) -> str:
        """The HTML part, or the plain-text part with ``text``."""
        part = self.message.get_body(preferencelist=("plain",) if text else ("html",))
        assert part is not None  # compose always makes both
        return str(part.get_content())

    def headers(self) -> str:
        """The headers, one ``Name: value`` line each."""
        return "".join(f"{name}: {value}\n" for name, value in self.message.items())


def preview_release(
    engine: Engine,
    settings: Settings,
    release_id: int,
    *,
    contact_email: str | None = None,
    advance_copy: bool = False,
) -> Preview:
    """Release ``release_id`` as the contact with ``contact_email`` (or the sample contact)
    would receive it; with ``advance_copy``, as an embargoed advance copy with the notice.
    NotFoundError for an unknown release, ValidationError for an unknown contact."""
    with reading_session(engine) as session:
        release = get_release(session, release_id)
        recipient = SAMPLE_CONTACT
        if contact_email:
            found = session.exec(
                select(Contact).where(Contact.email == contact_email.strip().lower())
            ).first()
            if found is None:
                raise ValidationError(f"no contact {contact_email!r}")
            recipient = found
    composer = composer_for(settings, release, advance_copy=advance_copy)
    return Preview(to_mime(composer.compose(0, recipient)))
