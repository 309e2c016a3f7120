"""Every route of the app as `distro serve` builds it (its sandbox mounted), called over real HTTP
without credentials, against an explicit allow-list of the routes that may answer so.

There is no staff login yet: a route's credential is its own proof (a webhook's signature, a
signed link token, the sandbox's server token). Each route is listed below with that proof, or
with the reason it may answer anyone. A route that is not listed fails the test, so a new route
must be placed here, with its protection written down.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import Engine
from starlette.routing import BaseRoute, Mount

from distro.assemble import build_app
from distro.tracking.links import LinkPurpose, LinkSigner
from tests.conftest import LiveDistro, make_settings
from tests.test_webhooks_support import handed_over


@dataclass(frozen=True)
class Open:
    """May answer anyone: why that is safe."""

    why: str
    #: Served only by an app bound to loopback (or started with --expose-sandbox).
    loopback_only: bool = False


@dataclass(frozen=True)
class Proof:
    """Refused without this route's own proof."""

    proof: str


UNSUBSCRIBE = Proof("signed unsubscribe token naming one message (HMAC-SHA256)")
WEBHOOK = Proof(
    "the provider's own: Basic auth (Postmark, sandbox), ECDSA over timestamp + body "
    "(SendGrid), HMAC of timestamp + token (Mailgun), SNS signature and topic (SES), "
    "Svix signature (Resend); a provider with no secret configured is refused"
)
SANDBOX_API = Proof("the sandbox's server token or API key (SigV4 signature for SES)")
SANDBOX_LOCAL = "the sandbox's inbox, message API and keys: loopback only, unless --expose-sandbox"

ROUTES: dict[tuple[str, str], Open | Proof] = {
    ("GET", "/"): Open("landing page: names no data"),
    ("GET", "/healthz"): Open("health check: status and version only"),
    ("GET", "/u/{token}"): UNSUBSCRIBE,
    ("POST", "/u/{token}"): UNSUBSCRIBE,
    ("POST", "/u/{token}/beats"): UNSUBSCRIBE,
    ("POST", "/u/{token}/resubscribe"): UNSUBSCRIBE,
    ("POST", "/webhooks/{wire_format}"): WEBHOOK,
    ("GET", "/releases/{slug}"): Open(
        "a release's web copy is public once sent and its embargo lifted; before that it is a "
        "404 without a signed web-copy token naming one of its messages"
    ),
    ("GET", "/o/{token}.gif"): Proof("signed open token (without one: a 404 pixel, nothing kept)"),
    ("GET", "/c/{click_token}/{link_token}"): Proof(
        "signed click token naming the message, and a link token signing the target URL for "
        "that message's send"
    ),
    ("POST", "/sandbox/email"): SANDBOX_API,
    ("POST", "/sandbox/email/batch"): SANDBOX_API,
    ("GET", "/sandbox/messages/outbound"): SANDBOX_API,
    ("GET", "/sandbox/messages/outbound/{message_id}/details"): SANDBOX_API,
    ("POST", "/sandbox/v3/mail/send"): SANDBOX_API,
    ("POST", "/sandbox/v3/{domain}/messages"): SANDBOX_API,
    ("POST", "/sandbox/v2/email/outbound-emails"): SANDBOX_API,
    ("POST", "/sandbox/emails"): SANDBOX_API,
    ("POST", "/sandbox/emails/batch"): SANDBOX_API,
    ("GET", "/sandbox/keys"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("GET", "/sandbox/keys/sns-cert.pem"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("GET", "/sandbox/api/messages"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("GET", "/sandbox/api/messages/{ref}"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("DELETE", "/sandbox/api/messages"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("GET", "/sandbox/"): Open(SANDBOX_LOCAL, loopback_only=True),
    ("GET", "/sandbox/messages/{ref}"): Open(SANDBOX_LOCAL, loopback_only=True),
}


def routes_of(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, mounted apps included (HEAD left out: GET's twin)."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            yield from routes_of(route.routes, prefix + route.path)
            continue
        path = context.path
        assert path is not None, route
        for method in sorted((context.methods or set()) - {"HEAD"}):
            yield method, prefix + path


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def app_of(live: LiveDistro) -> FastAPI:
    app = live.server.server.config.app
    assert isinstance(app, FastAPI)
    return app


def test_every_route_is_listed_with_its_protection(live: LiveDistro) -> None:
    found = list(routes_of(app_of(live).routes))
    assert len(found) == len(set(found))
    assert set(found) == set(ROUTES), (
        f"not listed: {sorted(set(found) - set(ROUTES))}; "
        f"listed but gone: {sorted(set(ROUTES) - set(found))}"
    )


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def probes(live: LiveDistro) -> Iterator[tuple[str, str]]:
    """(method, URL path) for every route the app has, listed or not: each parameter filled
    with a made-up value, and the webhook route once per wire format distro accepts."""
    for method, path in routes_of(app_of(live).routes):
        if path == "/webhooks/{wire_format}":
            for wire_format in app_of(live).state.context.webhooks:
                yield method, f"/webhooks/{wire_format}"
        else:
            yield method, fill(path, "probe")


def test_only_listed_routes_answer_without_credentials(live: LiveDistro) -> None:
    answered: dict[str, int] = {}
    refused: dict[str, int] = {}
    with httpx.Client(base_url=live.url, timeout=30) as http:
        for method, url in probes(live):
            response = http.request(method, url, json={"probe": True} if method != "GET" else None)
            (answered if response.status_code < 400 else refused)[f"{method} {url}"] = (
                response.status_code
            )
    allowed = {
        f"{method} {fill(path, 'probe')}"
        for (method, path), access in ROUTES.items()
        if isinstance(access, Open)
    }
    unexpected = {call: status for call, status in answered.items() if call not in allowed}
    assert not unexpected, f"answered without credentials: {unexpected}"
    assert set(refused) >= {
        f"{m} {fill(p, 'probe')}" for (m, p), a in ROUTES.items() if isinstance(a, Proof)
    } - {"POST /webhooks/probe"}


def test_links_signed_with_another_key_are_refused(live: LiveDistro) -> None:
    """The token routes refuse a well-formed token for a real message, signed with a key that
    is not the server's: what an empty or guessed key would let anyone make."""
    (message,) = handed_over(live.engine, live.settings, "sandbox", ["jo@wire.example"])
    assert message.id is not None
    forger = LinkSigner("another-key-nobody-configured-0123456789")
    forged = {purpose: forger.sign(purpose, message.id) for purpose in LinkPurpose}
    target = "https://example.org/"
    with httpx.Client(base_url=live.url, timeout=30) as http:
        answers = {
            "unsubscribe page": http.get(f"/u/{forged[LinkPurpose.UNSUBSCRIBE]}"),
            "unsubscribe": http.post(f"/u/{forged[LinkPurpose.UNSUBSCRIBE]}"),
            "beats": http.post(f"/u/{forged[LinkPurpose.UNSUBSCRIBE]}/beats", data={}),
            "resubscribe": http.post(f"/u/{forged[LinkPurpose.UNSUBSCRIBE]}/resubscribe"),
            "pixel": http.get(f"/o/{forged[LinkPurpose.OPEN]}.gif"),
            "click": http.get(
                f"/c/{forged[LinkPurpose.CLICK]}/{forger.sign_link(message.send_id, target)}",
                params={"u": target},
            ),
        }
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 404)


def test_loopback_only_routes_are_absent_from_an_app_bound_beyond_loopback(
    engine: Engine,
) -> None:
    settings = make_settings(
        str(engine.url),
        server={"host": "0.0.0.0"},  # noqa: S104
        sending={"provider": "pm"},
        providers={"pm": {"type": "postmark", "server_token": "t"}},
    )
    app, _sandbox = build_app(settings, engine, "http://127.0.0.1:8000")
    found = set(routes_of(app.routes))
    local = {
        key for key, access in ROUTES.items() if isinstance(access, Open) and access.loopback_only
    }
    assert local
    assert not found & local
    assert found == set(ROUTES) - {key for key in ROUTES if key[1].startswith("/sandbox/")}
