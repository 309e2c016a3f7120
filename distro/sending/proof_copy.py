"""`distro send test`: one proof copy to one address, now, marked as a test, and recorded.

Called a proof copy in the code (the copy an editor checks before the real send) so that the
module is not taken for a test by its name; what users see still says "test": the command, the
[TEST] subject and the note on the recorded send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine
from sqlmodel import Session, select

from distro.config import Settings
from distro.errors import ProviderError, ValidationError
from distro.models import Contact, Send, SendKind
from distro.models.types import utcnow
from distro.providers import build_provider
from distro.releases.service import get_release
from distro.sending.compose import composer_for
from distro.sending.send_states import initial_status


@dataclass(frozen=True)
class SentCopy:
    """A test copy the provider accepted, and the send that records it."""

    send_id: int
    to: str
    provider: str
    provider_message_id: str | None
    subject: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "send_id": self.send_id,
            "to": self.to,
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "subject": self.subject,
        }


def send_proof_copy(
    engine: Engine,
    settings: Settings,
    release_id: int,
    address: str,
    *,
    provider: str | None = None,
    advance_copy: bool = False,
) -> SentCopy:
    """Compose for ``address`` (as that contact, if it is one) and hand it over directly.

    A proof copy bypasses the outbox on purpose: it is one message, sent now, and its subject says
    [TEST]. It is recorded as a send marked ``is_test`` so that the history shows who got what.
    """
    try:
        email = validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError(f"--to {address!r}: {exc}") from None
    provider_name = provider or settings.sending.provider
    with Session(engine, expire_on_commit=False) as session:
        release = get_release(session, release_id)
        contact = session.exec(select(Contact).where(Contact.email == email)).first()
    composer = composer_for(settings, release, advance_copy=advance_copy)
    outbound = composer.compose(0, contact or Contact(email=email), test=True)
    adapter = build_provider(settings, provider_name)
    try:
        (result,) = adapter.send_batch([outbound])
    finally:
        adapter.close()
    if not result.accepted:
        raise ProviderError(f"{provider_name} refused the test copy: {result.error}")
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        record = Send(
            release_id=release_id,
            provider=provider_name,
            scheduled_at=now,
            started_at=now,
            finished_at=now,
            status=initial_status(SendKind.TEST),  # recorded once it went
            is_test=True,
            kind=SendKind.TEST,
            embargo_notice=advance_copy,
            recipients=1,
            note=f"test copy to {email} (provider id {result.provider_message_id})",
        )
        session.add(record)
        session.commit()
    assert record.id is not None
    return SentCopy(record.id, email, provider_name, result.provider_message_id, outbound.subject)
