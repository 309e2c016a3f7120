"""End to end over loopback: distro sends through its SendGrid, Mailgun, SES and Resend adapters
to a separate sandbox, which posts each provider's webhooks in that provider's format and
signature back to distro, configured with the sandbox's public key and secrets. Every event must
be stored against its message, statuses and suppressions must follow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select

from distro.assemble import build_app
from distro.config import Settings
from distro.models import Message, MessageStatus
from distro.sandbox import Sandbox, SandboxOptions, WebhookOptions, create_sandbox_app
from distro.web.server import ServerThread, bind_socket, socket_url
from distro.worker import Worker
from tests.conftest import make_settings
from tests.sandbox_support import SES_KEY_ID, SES_REGION, SES_SECRET, TOKEN
from tests.test_webhooks_support import (
    MESSAGES,
    handed_over,
    stored_events,
    suppressions,
)
from tests.waiting import wait_until

#: Local part -> (event types distro should store, final status). SES and Resend report no
#: unsubscribes of their own.
OUTCOMES: dict[str, tuple[set[str], str]] = {
    "delivered": ({"delivered"}, MessageStatus.DELIVERED),
    "bounce": ({"bounced"}, MessageStatus.BOUNCED),
    "softbounce": ({"bounced"}, MessageStatus.BOUNCED),
    "complaint": ({"delivered", "complained"}, MessageStatus.COMPLAINED),
    "open": ({"delivered", "opened"}, MessageStatus.OPENED),
    "click": ({"delivered", "opened", "clicked"}, MessageStatus.CLICKED),
    "unsubscribe": ({"delivered", "unsubscribed"}, MessageStatus.UNSUBSCRIBED),
}
REPORTS_UNSUBSCRIBES = {"sg": True, "mg": True, "ses": False, "rs": False}


@dataclass
class Pair:
    settings: Settings
    engine: Engine
    sandbox: Sandbox


@pytest.fixture
def pair(engine: Engine) -> Iterator[Pair]:
    distro_sock, sandbox_sock = bind_socket("127.0.0.1", 0), bind_socket("127.0.0.1", 0)
    distro_url, sandbox_url = socket_url(distro_sock), socket_url(sandbox_sock)
    hooks = WebhookOptions(
        urls={
            api: f"{distro_url}/webhooks/{api}" for api in ("sendgrid", "mailgun", "ses", "resend")
        },
        public_base_url=sandbox_url,
        attempts=2,
    )
    sandbox_app, sandbox = create_sandbox_app(
        SandboxOptions(
            server_tokens=frozenset({TOKEN}),
            ses_credentials={SES_KEY_ID: SES_SECRET},
            webhooks=hooks,
        )
    )
    keys = sandbox.webhooks.keys
    providers: dict[str, dict[str, Any]] = {
        "sg": {
            "type": "sendgrid",
            "api_key": TOKEN,
            "webhook_public_key": keys.sendgrid_public_key,
        },
        "mg": {
            "type": "mailgun",
            "api_key": TOKEN,
            "domain": "mg.acme.example",
            "webhook_signing_key": hooks.mailgun_signing_key,
        },
        "ses": {
            "type": "ses",
            "region": SES_REGION,
            "access_key_id": SES_KEY_ID,
            "secret_access_key": SES_SECRET,
            "webhook_topic_arn": hooks.sns_topic_arn,
            "webhook_trusted_cert_url": keys.sns_cert_url,
        },
        "rs": {"type": "resend", "api_key": TOKEN, "webhook_secret": hooks.resend_secret},
    }
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        server={"public_url": distro_url},
        providers={name: {**p, "base_url": sandbox_url} for name, p in providers.items()},
        sending={"batch_size": 50},
    )
    app, mounted = build_app(settings, engine, distro_url)
    with ServerThread(sandbox_app, sandbox_sock), ServerThread(app, distro_sock):
        yield Pair(settings, engine, sandbox)
        sandbox.close()
    if mounted is not None:
        mounted.close()


def test_every_providers_webhooks_come_back_stored_and_matched(pair: Pair) -> None:
    engine = pair.engine
    messages: dict[str, list[Message]] = {}
    for provider in REPORTS_UNSUBSCRIBES:
        emails = [f"{local}+{provider}@news.example" for local in OUTCOMES]
        messages[provider] = handed_over(engine, pair.settings, provider, emails)
    with engine.begin() as conn:  # queued again, so that the worker really sends them
        conn.execute(
            MESSAGES.update().values(status=MessageStatus.QUEUED, provider_message_id=None)
        )
    worker = Worker(pair.settings, engine).start()
    try:
        wait_until(
            lambda: not _unsent(engine), timeout=60, waiting_for="the worker to send everything"
        )
    finally:
        worker.stop()
    assert pair.sandbox.wait_idle(60)

    events = stored_events(engine)
    assert events, "no webhook was stored"
    assert all(e.message_id is not None for e in events), [
        (e.provider, e.type, e.recipient) for e in events if e.message_id is None
    ]
    by_message: dict[int, set[str]] = {}
    for e in events:
        by_message.setdefault(e.message_id, set()).add(e.type)
    with engine.connect() as conn:
        status: dict[int | None, str] = dict(
            conn.execute(select(MESSAGES.c.id, MESSAGES.c.status)).all()
        )
    for provider, sent in messages.items():
        for message, (local, (kinds, final)) in zip(sent, OUTCOMES.items(), strict=True):
            if local == "unsubscribe" and not REPORTS_UNSUBSCRIBES[provider]:
                kinds, final = {"delivered"}, MessageStatus.DELIVERED
            got = by_message.get(message.id or 0, set()) - {"sent"}
            assert got == kinds, (provider, local, got)
            assert status[message.id] == final, (provider, local)
    providers = {e.provider for e in events}
    assert providers == set(REPORTS_UNSUBSCRIBES)
    suppressed = {email: reason for email, (reason, _event) in suppressions(engine).items()}
    expected = {}
    for provider, reports in REPORTS_UNSUBSCRIBES.items():
        expected[f"bounce+{provider}@news.example"] = "hard_bounce"
        expected[f"complaint+{provider}@news.example"] = "complaint"
        if reports:
            expected[f"unsubscribe+{provider}@news.example"] = "unsubscribed"
    assert suppressed == expected


def _unsent(engine: Engine) -> bool:
    with engine.connect() as conn:
        statuses = set(conn.scalars(select(MESSAGES.c.status)))
    return bool(statuses & {MessageStatus.QUEUED, MessageStatus.SENDING})
