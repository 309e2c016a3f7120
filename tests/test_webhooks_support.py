"""Shared helpers for the webhook tests (no tests here): a live distro app whose SNS requests can
go through a mock transport, messages handed over to a named provider, and readers of what was
stored."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from distro.assemble import build_app
from distro.audience.lists import add_members, get_or_create_list
from distro.config import Settings
from distro.models import Contact, Event, Message, MessageStatus, Suppression
from distro.models.types import utcnow
from distro.sending.expand import fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.web.server import ServerThread, bind_socket, socket_url
from tests.conftest import make_settings
from tests.factories import add_release, messages_of

MESSAGES = Message.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
SUPPRESSIONS = Suppression.__table__  # type: ignore[attr-defined]


@dataclass
class Live:
    settings: Settings
    engine: Engine
    url: str
    server: ServerThread

    def post(self, wire_format: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhooks/{wire_format}", content=body, headers=headers, timeout=30
        )


LiveFactory = Callable[..., Live]


@pytest.fixture
def live_factory() -> Iterator[LiveFactory]:
    """Start the distro app on loopback: ``start(engine, transport=None, **config sections)``."""
    started: list[Live] = []

    def start(
        engine: Engine, *, transport: httpx.BaseTransport | None = None, **sections: Any
    ) -> Live:
        sock = bind_socket("127.0.0.1", 0)
        url = socket_url(sock)
        settings = make_settings(engine.url.render_as_string(hide_password=False), **sections)
        app, _sandbox = build_app(settings, engine, url, webhook_transport=transport)
        live = Live(settings, engine, url, ServerThread(app, sock).start())
        started.append(live)
        return live

    yield start
    for live in started:
        live.server.stop()


def handed_over(
    engine: Engine,
    settings: Settings,
    provider: str,
    emails: list[str],
    provider_ids: list[str] | None = None,
) -> list[Message]:
    """Messages of one fired send through ``provider`` to ``emails`` (in order), marked sent
    with the given provider message ids, as the sender leaves them."""
    with Session(engine, expire_on_commit=False) as session:
        contacts = [Contact(email=e, first_name="Jo", last_name="Reporter") for e in emails]
        session.add_all(contacts)
        session.flush()
        audience = get_or_create_list(session, f"list-{secrets.token_hex(4)}")
        add_members(session, audience, [c.id for c in contacts if c.id is not None])
        session.commit()
        list_name = audience.name
    release = add_release(engine)
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        engine,
        settings,
        release_id=release.id,
        audience=Audience([list_name]),
        now=now,
        provider=provider,
    )
    assert send.id is not None
    fire_send(engine, settings, send.id, now)
    messages = {m.email: m for m in messages_of(engine, send.id)}
    ordered = [messages[e.lower()] for e in emails]
    ids = provider_ids or [f"{provider}-{m.id}" for m in ordered]
    with engine.begin() as conn:
        for message, provider_id in zip(ordered, ids, strict=True):
            conn.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id == message.id)
                .values(status=MessageStatus.SENT, provider_message_id=provider_id, sent_at=now)
            )
    return [
        m.model_copy(update={"status": MessageStatus.SENT, "provider_message_id": p})
        for m, p in zip(ordered, ids, strict=True)
    ]


def stored_events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(EVENTS).order_by(EVENTS.c.id)))


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(EVENTS)) or 0)


def statuses(engine: Engine, messages: list[Message]) -> list[str]:
    with engine.connect() as conn:
        found: dict[int | None, str] = dict(
            conn.execute(
                select(MESSAGES.c.id, MESSAGES.c.status).where(
                    MESSAGES.c.id.in_([m.id for m in messages])
                )
            ).all()
        )
    return [found[m.id] for m in messages]


def suppressions(engine: Engine) -> dict[str, tuple[str, int | None]]:
    """email -> (reason, causing event id)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(SUPPRESSIONS.c.email, SUPPRESSIONS.c.reason, SUPPRESSIONS.c.event_id)
        )
        return {email: (reason, event_id) for email, reason, event_id in rows}
