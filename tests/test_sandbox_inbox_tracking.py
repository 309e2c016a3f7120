"""Looking at a message in the sandbox inbox records nothing: a release is sent for real through
the mounted sandbox, the inbox page is fetched over loopback, and every image and link the page
shows is then fetched the way a browser (and a developer clicking) would; no open or click is
stored, and the message still reads with its link to the real target."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from distro.models import Event, EventType, SendStatus
from distro.models.types import utcnow
from distro.reports import build_report
from distro.sandbox.inert import inert_html, inert_text
from distro.sending.scheduling import Audience, schedule_send
from distro.worker import Worker
from tests.conftest import LiveDistro
from tests.factories import add_contacts, add_release
from tests.waiting import wait_until

TARGET = "https://archive.example/papers?year=2026&lang=en"


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


@pytest.fixture
def worker(live: LiveDistro) -> Iterator[Worker]:
    running = Worker(live.settings, live.engine).start()
    yield running
    running.stop()


def tracking_events(engine: Engine) -> int:
    with Session(engine) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Event)
                .where(col(Event.type).in_([EventType.OPENED, EventType.CLICKED]))
            )
            or 0
        )


def urls_in(page: str) -> list[str]:
    """Every src and href of the page and of the HTML shown in its iframe, and the URLs of the
    text part, as a browser (or a reader copying them) would have them."""
    shown = [html.unescape(page)]
    shown += [html.unescape(doc) for doc in re.findall(r'srcdoc="([^"]*)"', page)]
    found: list[str] = []
    for document in shown:
        found += [html.unescape(u) for u in re.findall(r'(?:src|href)="([^"]*)"', document)]
        found += re.findall(r"https?://[^\s\"'<>]+", document)
    return found


def test_viewing_an_inbox_message_records_no_open_or_click(
    live: LiveDistro, worker: Worker
) -> None:
    add_contacts(live.engine, 1, "press", domain="x.example")
    release = add_release(live.engine, body=f"Read [the archive]({TARGET}).")
    assert release.id is not None
    send = schedule_send(
        live.engine,
        live.settings,
        release_id=release.id,
        audience=Audience(["press"]),
        now=utcnow(),
    )
    send_id = send.id
    assert send_id is not None
    wait_until(lambda: build_report(live.engine, send_id).status == SendStatus.SENT)
    assert live.sandbox is not None
    assert live.sandbox.wait_idle(30)

    with httpx.Client(base_url=live.url, timeout=10) as http:
        (stored,) = http.get("/sandbox/api/messages").json()["messages"]
        sent = http.get(f"/sandbox/api/messages/{stored['Ref']}").json()
        assert "/o/" in sent["HtmlBody"]
        assert "/c/" in sent["HtmlBody"]
        before = tracking_events(live.engine)

        inbox = http.get("/sandbox/")
        assert inbox.status_code == 200
        page = http.get(f"/sandbox/messages/{stored['Ref']}")
        assert page.status_code == 200
        urls = urls_in(page.text)
        ours = [u for u in urls if u.startswith(live.url)]
        for url in ours:  # what a browser loads, and a developer clicks
            http.get(url, follow_redirects=False)
        assert before == tracking_events(live.engine) == 0
        assert not [u for u in ours if "/o/" in u or "/c/" in u]
        assert TARGET in urls  # the link still reads, straight to its target


def test_inert_keeps_the_message_and_drops_only_tracking() -> None:
    sent = (
        '<p>Hi <img src="https://cdn.example/logo.png" alt="Logo"></p>'
        '<a href="https://d.example/c/12.abc/9.def?u=https%3A//t.example/a%3Fx%3D1%26y%3D2">a</a>'
        '<a href="https://other.example/page">b</a>'
        '<img src="https://d.example/o/12.xyz.gif" width="1" height="1" alt=""></body>'
    )
    shown = inert_html(sent)
    assert '<img src="https://cdn.example/logo.png" alt="Logo">' in shown
    assert "/o/" not in shown
    assert "/c/" not in shown
    assert 'href="https://t.example/a?x=1&amp;y=2"' in shown
    assert 'href="https://other.example/page"' in shown
    text = "See https://d.example/c/1.a/2.b?u=https%3A//t.example/z. And https://keep.example/q"
    assert inert_text(text) == "See https://t.example/z. And https://keep.example/q"
