"""Security headers on every answer distro serves: its pages, tracking, webhooks, errors (even an
unhandled error's 500), the mounted sandbox and the standalone one; and templates that need no
script, so the policy that allows none breaks nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from distro.assemble import build_app
from distro.db import make_engine
from distro.web.server import ServerThread, bind_socket, socket_url
from tests.conftest import LiveDistro, make_settings
from tests.sandbox_support import live_sandbox

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def policy(response: httpx.Response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    header = response.headers.get("content-security-policy", "")
    assert header, f"{response.request.url}: no Content-Security-Policy"
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def assert_secured(response: httpx.Response, *, img_src: str = "'self' https: data:") -> None:
    where = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert response.headers.get("x-frame-options") == "DENY", where
    directives = policy(response)
    assert directives["default-src"] == "'none'", where  # so no script from anywhere
    assert "script-src" not in directives, where
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["base-uri"] == "'none'", where
    assert directives["img-src"] == img_src, where


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def test_every_kind_of_answer_of_the_app_carries_the_headers(live: LiveDistro) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        answers = [
            http.get("/"),  # page
            http.get("/healthz"),  # JSON
            http.get("/u/not-a-token"),  # page, 404
            http.post("/u/not-a-token", content=b"List-Unsubscribe=One-Click"),
            http.get("/releases/no-such-release"),
            http.get("/o/not-a-token.gif"),  # the pixel
            http.get("/c/a/b", params={"u": "https://example.org/"}),
            http.post("/webhooks/postmark", json={"RecordType": "Delivery"}),  # 401
            http.post("/webhooks/no-such-format", json={}),
            http.get("/no/such/page"),  # Starlette's own 404
            http.put("/"),  # 405
            http.post("/webhooks/postmark", content=b"x" * (live.settings.limits.webhook_body + 1)),
        ]
    assert [a.status_code for a in answers] == [
        200, 200, 404, 404, 404, 404, 404, 401, 404, 404, 405, 413,
    ]  # fmt: skip
    for answer in answers:
        assert_secured(answer)


def test_an_unhandled_error_still_carries_the_headers(tmp_path: Path) -> None:
    """Starlette's error handler answers 500 outside the app's own middleware; ours wraps it."""
    broken = make_engine("postgresql://nobody@127.0.0.1:9/nothing")  # nothing listens on 9
    sock = bind_socket("127.0.0.1", 0)
    url = socket_url(sock)
    settings = make_settings(f"sqlite:///{tmp_path / 'unused.db'}")
    app, sandbox = build_app(settings, broken, url)
    try:
        with ServerThread(app, sock, log_level="critical"):
            answer = httpx.get(f"{url}/healthz", timeout=30)
    finally:
        if sandbox is not None:
            sandbox.close()
    assert answer.status_code == 500
    assert_secured(answer)


def test_the_mounted_sandbox_has_its_own_policy(live: LiveDistro) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        answers = [
            http.get("/sandbox/"),
            http.get("/sandbox/messages/nope"),
            http.get("/sandbox/api/messages"),
            http.get("/sandbox/keys"),
            http.post("/sandbox/email", json={}),  # no token: 401
        ]
    assert [a.status_code for a in answers] == [200, 404, 200, 200, 401]
    for answer in answers:
        # Its inbox frames each email (<iframe sandbox srcdoc>, no script): their images show.
        assert_secured(answer, img_src="* data:")


def test_the_standalone_sandbox_carries_the_headers_too() -> None:
    with live_sandbox() as live:
        for answer in (live.http.get("/"), live.http.get("/keys"), live.http.post("/email")):
            assert_secured(answer, img_src="* data:")


PAGES = sorted((TEMPLATES / "web").rglob("*.html"))
SCRIPT = re.compile(r"<script|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_page_template_needs_a_script(page: Path) -> None:
    """The policy runs no script at all; a page that needs one gets a static file instead."""
    found = SCRIPT.search(page.read_text(encoding="utf-8"))
    assert found is None, f"{page}: {found.group(0) if found else ''}"


def test_every_page_template_is_checked() -> None:
    names = {str(p.relative_to(TEMPLATES / "web")) for p in PAGES}
    assert {"base.html", "release.html", "unsubscribe.html", "sandbox/message.html"} <= names
