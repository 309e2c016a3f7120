"""A sandbox served over real loopback HTTP for tests, and helpers to talk to its APIs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from distro.sandbox import FaultOptions, Sandbox, SandboxOptions, create_sandbox_app
from distro.sandbox.faults import Fault, FaultInjector
from distro.web.server import ServerThread, bind_socket

TOKEN = "sandbox-test-token"
SES_KEY_ID = "AKIASANDBOXTEST0001"
SES_SECRET = "sandbox/secret+key+for+tests"
SES_REGION = "eu-west-1"
SES_PATH = "/v2/email/outbound-emails"


@dataclass
class LiveSandbox:
    url: str
    sandbox: Sandbox
    http: httpx.Client


@contextmanager
def live_sandbox(faults: FaultOptions | None = None) -> Iterator[LiveSandbox]:
    """A sandbox accepting TOKEN and the SES test key, posting no webhooks."""
    options = SandboxOptions(
        server_tokens=frozenset({TOKEN}),
        ses_credentials={SES_KEY_ID: SES_SECRET},
        faults=faults or FaultOptions(),
    )
    app, sandbox = create_sandbox_app(options)
    try:
        with (
            ServerThread(app, bind_socket("127.0.0.1", 0)) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            yield LiveSandbox(server.url, sandbox, http)
    finally:
        sandbox.close()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mailgun_auth(password: str = TOKEN, user: str = "api") -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def ses_headers(
    url: str,
    body: bytes,
    key_id: str = SES_KEY_ID,
    secret: str = SES_SECRET,
    region: str = SES_REGION,
    service: str = "ses",
) -> dict[str, str]:
    """The headers botocore would send for a signed SES v2 POST of ``body`` to ``url``."""
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def ses_post(live: LiveSandbox, body: Any, **signing: str) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = ses_headers(live.url + SES_PATH, raw, **signing)
    return live.http.post(SES_PATH, content=raw, headers=headers)


def custom_ids(live: LiveSandbox) -> dict[str, str]:
    """Recipient address -> custom id of every stored message (one recipient each)."""
    found: dict[str, str] = {}
    for message in live.sandbox.store.messages():
        for recipient in message.recipients:
            assert recipient not in found, f"{recipient} got more than one message"
            found[recipient] = message.custom_id
    return found


def seeded(options: FaultOptions, *wanted: Fault | None) -> FaultOptions:
    """``options`` with a seed whose first fault decisions are ``wanted``, in order."""
    for seed in range(10_000):
        candidate = replace(options, seed=seed)
        injector = FaultInjector(candidate)
        if [injector.decide() for _ in wanted] == list(wanted):
            return candidate
    raise AssertionError(f"no seed gives {wanted}")
