"""Small builders for test data, written through the same services the product uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.audience.lists import add_members, get_or_create_list
from distro.models import Contact, Message, Release, Suppression
from distro.models.types import utcnow
from distro.providers.base import OutboundEmail
from distro.releases.lifecycle import approve
from distro.releases.service import create_release


def add_contacts(
    engine: Engine, count: int, list_name: str = "press", *, domain: str = "news.example"
) -> list[Contact]:
    with Session(engine, expire_on_commit=False) as session:
        contacts = [
            Contact(
                email=f"reporter{i}@{domain}",
                first_name=f"First{i}",
                last_name=f"Last{i}",
                outlet=f"Outlet {i % 7}",
            )
            for i in range(count)
        ]
        session.add_all(contacts)
        session.flush()
        add_members(
            session, get_or_create_list(session, list_name), [c.id for c in contacts if c.id]
        )
        session.commit()
        return contacts


def add_release(
    engine: Engine,
    title: str = "Test release",
    body: str = "Body **text**.",
    embargo_at: datetime | None = None,
    *,
    approved: bool = True,
    embargo_tz: str = "UTC",
) -> Release:
    with Session(engine, expire_on_commit=False) as session:
        release = create_release(
            session, title=title, body_md=body, embargo_at=embargo_at, embargo_tz=embargo_tz
        )
        if approved:
            approve(release)
            session.add(release)
        session.commit()
        return release


def suppress(engine: Engine, email: str, reason: str = "do_not_contact") -> None:
    with Session(engine) as session:
        session.add(Suppression(email=email, reason=reason, created_at=utcnow()))
        session.commit()


def messages_of(engine: Engine, send_id: int) -> list[Message]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message).where(Message.send_id == send_id).order_by(col(Message.id))
            ).all()
        )


def outbound_email(
    message_id: int, to: str = "jo@news.example", *, unsubscribe: str = "", **fields: Any
) -> OutboundEmail:
    """An email as adapters receive it; ``unsubscribe`` adds the RFC 8058 header pair."""
    headers = (
        {"List-Unsubscribe": unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        if unsubscribe
        else {}
    )
    values: dict[str, Any] = {
        "message_id": message_id,
        "to_email": to,
        "subject": f"Release {message_id}",
        "html": f"<p>News {message_id}</p>",
        "text": f"News {message_id}",
        "from_email": "press@acme.example",
        "headers": headers,
        **fields,
    }
    return OutboundEmail(**values)
