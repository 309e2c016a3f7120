"""Our own tracking links: rewriting at compose time (exact, fast path equal to a full render,
distro's own links and mailto: left alone), and, over loopback HTTP with the real sender and
sandbox, the open pixel and the click redirect recording events, refusing every forged or
tampered link (no open redirect), and the switch per send, globally and on the command line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from distro.config import secret_key
from distro.db import make_engine
from distro.models import Contact, Event, Message, MessageStatus, Release, ReleaseStatus, Send
from distro.models.types import utcnow
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkPurpose, LinkSigner
from distro.tracking.rewrite import LinkRewriter, target_of
from distro.web.tracking import PIXEL
from distro.worker import Worker
from tests.cli_support import run
from tests.conftest import LiveDistro, make_settings
from tests.factories import add_contacts, add_release
from tests.waiting import wait_until

BASE = "https://press.example.org"
SETTINGS = make_settings("sqlite://", server={"public_url": BASE})
SECRET = SETTINGS.server.secret_key.get_secret_value()
SEND = 5
MESSAGE = 1001
TRACKED = [
    "https://archive.example.org/about",
    "https://archive.example.org/search?q=harbor&year=1901",
    "https://example.org/caf\u00e9/men\u00fc",
    "https://harborlibrary.example/photos.zip",
    "https://harborlibrary.example/facts.pdf",
]
BODY = f"""The archive opens [today]({TRACKED[0]}). Search it [here]({TRACKED[1]}), read
[the menu]({TRACKED[2]}), or see [our earlier release]({BASE}/releases/earlier) and
[write to us](mailto:press@harborlibrary.example).
"""
CLICK_LINK = re.compile(
    re.escape(BASE)
    + r"/c/([A-Za-z0-9_.\-]+)/([A-Za-z0-9_.\-]+)\?u=([A-Za-z0-9%:/_.\-~]*[A-Za-z0-9%/_\-~])"
)  # a URL in text never ends in punctuation: what follows it is the sentence's
PIXEL_TAG = re.compile(r'<img src="' + re.escape(BASE) + r'/o/([A-Za-z0-9_.\-]+)\.gif"[^>]*>')


def release() -> Release:
    return Release(
        id=42,
        slug="harbor-archive",
        title="Harbor City Library opens its archive",
        body_md=BODY,
        boilerplate="The library serves 180,000 residents.",
        media_contacts=[{"name": "Priya Raman", "email": "press@harborlibrary.example"}],
        asset_links=[
            {"label": "Photos", "url": TRACKED[3]},
            {"label": "", "url": TRACKED[4]},  # shown as its URL in both parts
        ],
        status=ReleaseStatus.APPROVED,
    )


AMARA = Contact(id=7, email="amara@news.example", first_name="Amara", outlet="Harbor Herald")


def composer(tracked: int | None, environment: Any = None, rel: Release | None = None) -> Composer:
    return Composer(
        SETTINGS,
        environment or make_environment(),
        LinkSigner(SECRET),
        rel or release(),
        "release",
        tracked_send=tracked,
    )


def as_attribute(url: str) -> str:
    """``url`` as the HTML serialiser writes it in an attribute."""
    return url.replace("&", "&amp;").replace('"', "&quot;")


def untracked(html: str, text: str) -> tuple[str, str, list[str], list[str]]:
    """Both parts with every click link put back to its target and the pixel taken out, after
    checking each link's tokens; also the targets of each part, in order of appearance."""
    signer = LinkSigner(SECRET)
    targets: dict[bool, list[str]] = {True: [], False: []}

    def back(match: re.Match[str], in_html: bool) -> str:
        url = unquote(match[3])
        assert signer.verify(LinkPurpose.CLICK, match[1]) == MESSAGE
        assert signer.verify_link(match[2], url) == SEND
        targets[in_html].append(url)
        return as_attribute(url) if in_html else url

    html = CLICK_LINK.sub(lambda m: back(m, True), html)
    text = CLICK_LINK.sub(lambda m: back(m, False), text)
    pixels = PIXEL_TAG.findall(html)
    assert len(pixels) == 1
    assert signer.verify(LinkPurpose.OPEN, pixels[0]) == MESSAGE
    html = PIXEL_TAG.sub("", html)
    return html, text, targets[True], targets[False]


# ---------------------------------------------------------------------- rewriting


def test_rewriting_is_exact_and_leaves_our_links_and_mailto_alone() -> None:
    plain = composer(None).compose(MESSAGE, AMARA)
    tracked = composer(SEND).compose(MESSAGE, AMARA)
    html, text, in_html, in_text = untracked(tracked.html, tracked.text)
    assert html == plain.html  # nothing else changed, byte for byte
    assert text == plain.text
    assert tracked.headers == plain.headers  # List-Unsubscribe goes straight to us
    assert tracked.subject == plain.subject
    # Markdown percent-encodes the HTML link's path; the text part keeps the URL as written.
    encoded = "https://example.org/caf%C3%A9/men%C3%BC"
    assert in_html == [*TRACKED[:2], encoded, *TRACKED[3:]]
    # The text part: the body's Markdown, then each asset's label (the URL when it has none)
    # and URL.
    assert in_text == [*TRACKED[:3], TRACKED[3], TRACKED[4], TRACKED[4]]
    unsubscribe = plain.headers["List-Unsubscribe"].strip("<>")
    for part in (tracked.html, tracked.text):
        assert unsubscribe in part
        assert f"{BASE}/releases/harbor-archive?t=" in part  # the view-online link
        assert f"{BASE}/releases/earlier" in part
        assert "mailto:press@harborlibrary.example" in part or "press@harborlibrary" in part
    assert 'href="mailto:press@harborlibrary.example"' in tracked.html
    # The pixel is the last thing in the body.
    assert re.search(PIXEL_TAG.pattern + r"</body>", tracked.html)


def test_fast_path_equals_a_full_render_with_tracking() -> None:
    fast = composer(SEND)
    assert fast.prepared.fast
    full = composer(SEND)
    full.prepared.compiled = None  # every recipient rendered in full, then rewritten
    for message_id, contact in ((MESSAGE, AMARA), (7, Contact(email="x@y.example"))):
        assert fast.compose(message_id, contact) == full.compose(message_id, contact)


def test_each_recipient_gets_their_own_tokens_and_the_same_links() -> None:
    made = composer(SEND)
    first, second = made.compose(MESSAGE, AMARA), made.compose(MESSAGE + 1, AMARA)
    one, two = CLICK_LINK.findall(first.html), CLICK_LINK.findall(second.html)
    assert [(link, url) for _c, link, url in one] == [(link, url) for _c, link, url in two]
    assert {c for c, _l, _u in one} == {LinkSigner(SECRET).sign(LinkPurpose.CLICK, MESSAGE)}
    assert {c for c, _l, _u in two} == {LinkSigner(SECRET).sign(LinkPurpose.CLICK, MESSAGE + 1)}


def test_tracking_off_means_no_pixel_and_no_rewritten_links() -> None:
    email = composer(None).compose(MESSAGE, AMARA)
    for part in (email.html, email.text):
        assert "/c/" not in part
        assert "/o/" not in part
        assert TRACKED[0] in part


def test_links_holding_personal_values_and_odd_markup(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "release.subject.txt").write_text("{{ release.title }}")
    (tmp_path / "email" / "release.html").write_text(
        "<html><body>"
        '<a href="https://example.org/who?e={{ contact.email }}">personal</a>'
        '<a title="a > b" href="https://example.org/after-gt">after a ></a>'
        '<a class="x" HREF="HTTPS://Example.org/Upper">upper</a>'
        '<a href="http://example.org/plain">plain http</a>'
        '<a href="ftp://example.org/file">ftp</a>'
        '<a href="{{ links.unsubscribe }}">unsubscribe</a>'
        '<a href="#top">anchor</a>'
        "</body></html>"
    )
    (tmp_path / "email" / "release.txt").write_text(
        "https://example.org/who?e={{ contact.email }}\n"
        "See https://example.org/a. Or (https://example.org/b), [x](https://example.org/c)\n"
        "**https://example.org/d** and https://en.wikipedia.org/wiki/Harbor_(city)!\n"
        "Unsubscribe: {{ links.unsubscribe }}\n"
    )
    made = composer(SEND, make_environment(tmp_path))
    assert made.prepared.fast
    email = made.compose(MESSAGE, AMARA)
    html, text, in_html, in_text = untracked(email.html, email.text)
    assert in_html == [
        "https://example.org/after-gt",
        "HTTPS://Example.org/Upper",
        "http://example.org/plain",
    ]
    assert in_text == [
        "https://example.org/a",
        "https://example.org/b",
        "https://example.org/c",
        "https://example.org/d",
        "https://en.wikipedia.org/wiki/Harbor_(city)",
    ]
    assert 'href="https://example.org/who?e=amara@news.example"' in html
    assert "https://example.org/who?e=amara@news.example\n" in text
    assert 'href="ftp://example.org/file"' in html
    assert 'href="#top"' in html
    assert "(https://example.org/b), [x](https://example.org/c)\n**https://example.org/d**" in text


def test_target_of_unwraps_our_redirects_only() -> None:
    rewriter = LinkRewriter(BASE, lambda url: "5.sig")
    url = "https://example.org/a?b=1&c=%20d"
    assert target_of(rewriter.click_url(url, "9.tok"), BASE) == url
    assert target_of(url, BASE) == url
    assert target_of(f"{BASE}/c/9.tok/5.sig", BASE) == f"{BASE}/c/9.tok/5.sig"


# ---------------------------------------------------------------------- over HTTP


HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


@dataclass
class Received:
    message_id: int
    send_id: int
    email: str
    html: str
    text: str
    headers: dict[str, str]


@contextmanager
def worker(live: LiveDistro) -> Iterator[Worker]:
    running = Worker(live.settings, live.engine).start()
    try:
        yield running
    finally:
        running.stop()


def send(live: LiveDistro, release_id: int, list_name: str, *, tracking: bool = True) -> int:
    made = schedule_send(
        live.engine,
        live.settings,
        release_id=release_id,
        audience=Audience([list_name]),
        now=utcnow(),
        tracking=tracking,
    )
    assert made.id is not None
    return made.id


def received(live: LiveDistro, send_id: int) -> list[Received]:
    """Each message of the send as the sandbox received it, once all were handed over."""

    def messages() -> list[Message]:
        with Session(live.engine) as session:
            return list(
                session.scalars(
                    select(Message).where(col(Message.send_id) == send_id).order_by(col(Message.id))
                )
            )

    wait_until(
        lambda: bool(messages()) and all(m.provider_message_id for m in messages()),
        timeout=60,
        waiting_for="every message to be handed over",
    )
    found = []
    for message in messages():
        assert message.id is not None
        body = httpx.get(
            f"{live.url}/sandbox/api/messages/{message.provider_message_id}", timeout=10
        ).json()
        found.append(
            Received(
                message.id,
                send_id,
                message.email,
                body["HtmlBody"],
                body["TextBody"],
                {h["Name"]: h["Value"] for h in body["Headers"]},
            )
        )
    return found


def events(engine: Engine, kind: str | None = None) -> list[Event]:
    with Session(engine) as session:
        query = select(Event).where(col(Event.provider) == "distro").order_by(col(Event.id))
        if kind:
            query = query.where(col(Event.type) == kind)
        return list(session.scalars(query))


def get(url: str, agent: str = HUMAN, **params: Any) -> httpx.Response:
    return httpx.get(
        url,
        headers={"User-Agent": agent},
        params=params or None,
        timeout=10,
        follow_redirects=False,
    )


def release_with_links(engine: Engine) -> int:
    made = add_release(
        engine,
        title="Archive opens",
        body=f"Read [the story]({TRACKED[0]}) and [search]({TRACKED[1]}).",
    )
    assert made.id is not None
    return made.id


@pytest.fixture
def people_only(any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    """The app with the timing rule off, so a prompt test open counts as a person's (on SQLite
    and PostgreSQL)."""
    return live_distro_factory(any_engine, tracking={"machine_seconds": 0})


def test_pixel_and_redirect_record_opens_and_clicks(people_only: LiveDistro) -> None:
    live = people_only
    add_contacts(live.engine, 2, "press")
    release_id = release_with_links(live.engine)
    with worker(live):
        first, second = received(live, send(live, release_id, "press"))
    base = live.url
    pixel = re.findall(rf'<img src="({re.escape(base)}/o/[^"]+\.gif)"', first.html)
    assert len(pixel) == 1
    answer = get(pixel[0])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/gif"
    assert answer.content == PIXEL
    assert answer.content.startswith(b"GIF89a")
    assert "no-store" in answer.headers["cache-control"]
    assert get(pixel[0], "Mozilla/5.0").status_code == 200  # Apple's privacy proxy

    opens = events(live.engine, "opened")
    assert [e.message_id for e in opens] == [first.message_id] * 2
    assert opens[0].detail == {"user_agent": HUMAN, "ip": "127.0.0.1", "machine": False}
    assert opens[1].detail["machine"] is True
    assert opens[1].detail["machine_reason"] == "Apple Mail Privacy Protection proxy"
    assert opens[0].recipient == first.email

    links = re.findall(rf'href="({re.escape(base)}/c/[^"]+)"', first.html)
    assert len(links) == 2
    for link, target in zip(links, TRACKED[:2], strict=True):
        answer = get(link.replace("&amp;", "&"))
        assert answer.status_code == 302
        assert answer.headers["location"] == target
        assert "no-store" in answer.headers["cache-control"]
    clicks = events(live.engine, "clicked")
    assert [(e.message_id, e.detail["url"]) for e in clicks] == [
        (first.message_id, TRACKED[0]),
        (first.message_id, TRACKED[1]),
    ]
    assert all(e.detail["machine"] is False for e in clicks)
    with Session(live.engine) as session:
        assert session.get(Message, first.message_id).status == MessageStatus.CLICKED  # type: ignore[union-attr]
        assert session.get(Message, second.message_id).status != MessageStatus.CLICKED  # type: ignore[union-attr]

    # Distro's own links were not rewritten and work directly.
    unsubscribe = first.headers["List-Unsubscribe"].strip("<>")
    assert f'href="{unsubscribe}"' in first.html
    assert get(unsubscribe).status_code == 200
    (view,) = set(re.findall(rf'href="({re.escape(base)}/releases/[^"]+)"', first.html))
    assert get(view).status_code == 200
    # The text part's links go through the redirect too.
    text_links = CLICK_LINK.pattern.replace(re.escape(BASE), re.escape(base))
    assert [unquote(m[2]) for m in re.findall(text_links, first.text)] == TRACKED[:2]


def test_an_open_at_delivery_is_a_machine_open(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine)  # tracking.machine_seconds: the default 10
    add_contacts(engine, 1, "press")
    with worker(live):
        (message,) = received(live, send(live, release_with_links(engine), "press"))
    pixel = re.findall(rf'<img src="({re.escape(live.url)}/o/[^"]+\.gif)"', message.html)
    assert get(pixel[0]).status_code == 200
    (opened,) = events(engine, "opened")
    assert opened.detail["machine"] is True
    assert opened.detail["machine_reason"].endswith("s after delivery")


def parts(link: str) -> tuple[str, str, str]:
    """A click link's click token, link token and target."""
    split = urlsplit(link.replace("&amp;", "&"))
    _, _c, click, link_token = split.path.split("/")
    (target,) = parse_qs(split.query)["u"]
    return click, link_token, target


def test_no_open_redirect_and_no_event_for_forged_links(people_only: LiveDistro) -> None:
    live = people_only
    add_contacts(live.engine, 2, "press")
    add_contacts(live.engine, 1, "other", domain="other.example")
    release_id = release_with_links(live.engine)
    with worker(live):
        first, second = received(live, send(live, release_id, "press"))
        (elsewhere,) = received(live, send(live, release_id, "other"))
    base = live.url
    link = re.findall(rf'href="({re.escape(base)}/c/[^"]+)"', first.html)[0]
    click, link_token, target = parts(link)
    other_link = parts(re.findall(rf'href="({re.escape(base)}/c/[^"]+)"', first.html)[1])[1]
    signer = LinkSigner(secret_key(live.settings))

    def refused(click_token: str, token: str, *targets: str) -> None:
        url = f"{base}/c/{click_token}/{token}?" + "&".join(
            f"u={quote(t, safe='')}" for t in targets
        )
        answer = get(url)
        assert answer.status_code == 404, url
        assert "location" not in answer.headers
        assert "This link is not valid" in answer.text

    refused(click, link_token, "https://evil.example/")  # a foreign URL
    refused(click, link_token, target + "x")  # the URL tampered with
    refused(click, link_token, target.replace("https", "http"))
    refused(click, link_token)  # no URL
    refused(click, link_token, target, "https://evil.example/")  # two
    refused(click, other_link, target)  # another link's token
    value, _, signature = click.partition(".")
    forged = f"{value}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    refused(forged, link_token, target)
    refused(signer.sign(LinkPurpose.OPEN, first.message_id), link_token, target)  # open token
    refused(signer.sign(LinkPurpose.UNSUBSCRIBE, first.message_id), link_token, target)
    refused(
        click, LinkSigner("another-secret-" + "z" * 20).sign_link(first.send_id, target), target
    )
    refused(click, signer.sign_link(first.send_id + 1, target), target)  # the wrong send
    # A message of another send with this send's link token: not a URL of that message.
    refused(signer.sign(LinkPurpose.CLICK, elsewhere.message_id), link_token, target)
    # Even a URL we signed, if it is not http(s), is never a redirect.
    script = "javascript:alert(1)"
    refused(click, signer.sign_link(first.send_id, script), script)
    assert get(f"{base}/o/{click}.gif").status_code == 404  # a click token is no open token
    assert get(f"{base}/o/{first.message_id}.forged.gif").status_code == 404
    assert events(live.engine) == []

    # The other recipient of the same send has the same link: their token works with it.
    answer = get(
        f"{base}/c/{signer.sign(LinkPurpose.CLICK, second.message_id)}/{link_token}", u=target
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == target
    assert [e.message_id for e in events(live.engine, "clicked")] == [second.message_id]


def test_tracking_switched_off_for_one_send(people_only: LiveDistro) -> None:
    live = people_only
    add_contacts(live.engine, 1, "press")
    release_id = release_with_links(live.engine)
    with worker(live):
        (plain,) = received(live, send(live, release_id, "press", tracking=False))
        (tracked,) = received(live, send(live, release_id, "press"))
    with Session(live.engine) as session:
        assert [s.tracking for s in session.scalars(select(Send).order_by(col(Send.id)))] == [
            False,
            True,
        ]
    assert_untracked(plain, live.url)
    assert f"{live.url}/o/" in tracked.html
    assert f"{live.url}/c/" in tracked.html


def assert_untracked(message: Received, base: str) -> None:
    for part in (message.html, message.text):
        assert f"{base}/o/" not in part
        assert f"{base}/c/" not in part
        assert TRACKED[0] in part
    assert f'href="{TRACKED[0]}"' in message.html


def test_tracking_switched_off_globally(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine, tracking={"enabled": False})
    add_contacts(engine, 1, "press")
    with worker(live):
        (message,) = received(live, send(live, release_with_links(engine), "press"))
    assert_untracked(message, live.url)


def test_send_schedule_no_tracking_option(tmp_path: Path) -> None:
    (tmp_path / "press.csv").write_text("email\nana@harbor.example\n")
    for args in (
        ("init",),
        ("contacts", "import", "press.csv", "--list", "press"),
        ("release", "create", "--sample"),
        ("release", "approve", "1"),
        (
            "send",
            "schedule",
            "1",
            "--list",
            "press",
            "--no-tracking",
            "--at",
            "2099-01-01T09:00:00Z",
        ),
        ("send", "schedule", "1", "--list", "press", "--at", "2099-01-01T09:00:00Z"),
    ):
        done = run(tmp_path, *args)
        assert done.returncode == 0, done.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'distro.db'}")
    with Session(engine) as session:
        assert [s.tracking for s in session.scalars(select(Send).order_by(col(Send.id)))] == [
            False,
            True,
        ]
    engine.dispose()
