"""Injected faults on every API's sending endpoints, observed by a real httpx client."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from distro.sandbox import FaultOptions, SandboxOptions, create_sandbox_app
from distro.sandbox.fault_middleware import ConnectionDropped, drop_connection
from distro.sandbox.faults import Fault, FaultInjector
from distro.web.server import ServerThread, bind_socket
from tests.cli_support import run
from tests.sandbox_support import (
    TOKEN,
    LiveSandbox,
    bearer,
    live_sandbox,
    mailgun_auth,
    seeded,
    ses_post,
)
from tests.waiting import wait_until

Send = Callable[[LiveSandbox, httpx.Client], httpx.Response]


def _postmark(live: LiveSandbox, http: httpx.Client) -> httpx.Response:
    body = {
        "From": "p@acme.example",
        "To": "pm@news.example",
        "Subject": "s",
        "TextBody": "t",
        "Metadata": {"distro_message_id": "1"},
    }
    return http.post("/email", json=body, headers={"X-Postmark-Server-Token": TOKEN})


def _sendgrid(live: LiveSandbox, http: httpx.Client) -> httpx.Response:
    body = {
        "from": {"email": "p@acme.example"},
        "subject": "s",
        "content": [{"type": "text/plain", "value": "t"}],
        "personalizations": [
            {"to": [{"email": "sg@news.example"}], "custom_args": {"distro_message_id": "2"}}
        ],
    }
    return http.post("/v3/mail/send", json=body, headers=bearer())


def _mailgun(live: LiveSandbox, http: httpx.Client) -> httpx.Response:
    data = {
        "from": "p@acme.example",
        "to": "mg@news.example",
        "subject": "s",
        "text": "t",
        "v:distro_message_id": "3",
    }
    return http.post("/v3/mg.acme.example/messages", data=data, headers=mailgun_auth())


def _ses(live: LiveSandbox, http: httpx.Client) -> httpx.Response:
    body = {
        "FromEmailAddress": "p@acme.example",
        "Destination": {"ToAddresses": ["ses@news.example"]},
        "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
        "EmailTags": [{"Name": "distro_message_id", "Value": "4"}],
    }
    return ses_post(LiveSandbox(live.url, live.sandbox, http), body)


def _resend(live: LiveSandbox, http: httpx.Client) -> httpx.Response:
    body = {
        "from": "p@acme.example",
        "to": "rs@news.example",
        "subject": "s",
        "text": "t",
        "tags": [{"name": "distro_message_id", "value": "5"}],
    }
    return http.post("/emails", json=body, headers=bearer())


SENDS: dict[str, Send] = {
    "postmark": _postmark,
    "sendgrid": _sendgrid,
    "mailgun": _mailgun,
    "ses": _ses,
    "resend": _resend,
}
CUSTOM_IDS = {
    "pm@news.example": "1",
    "sg@news.example": "2",
    "mg@news.example": "3",
    "ses@news.example": "4",
    "rs@news.example": "5",
}


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Records uvicorn logs at ERROR or above (a drop must not look like a crash)."""
    found: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record)

    handler = Collect(level=logging.ERROR)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def faults_seen(live: LiveSandbox) -> dict[str, int]:
    counts: dict[str, int] = live.http.get("/api/messages").json()["faults"]
    return {kind: n for kind, n in counts.items() if n}


# --- error answers -----------------------------------------------------------------------------

RATE_LIMIT_SHAPES: dict[str, Callable[[httpx.Response], Any]] = {
    "postmark": lambda r: r.json()["ErrorCode"] == 429,
    "sendgrid": lambda r: (
        r.json()["errors"][0]["message"] == "too many requests"
        and r.headers["X-RateLimit-Remaining"] == "0"
    ),
    "mailgun": lambda r: "message" in r.json(),
    "ses": lambda r: r.headers["x-amzn-ErrorType"] == "TooManyRequestsException",
    "resend": lambda r: (
        r.json()["name"] == "rate_limit_exceeded" and r.headers["ratelimit-remaining"] == "0"
    ),
}


def test_429_in_each_providers_shape_with_retry_after() -> None:
    with live_sandbox(FaultOptions(rate_429=1.0, retry_after_seconds=7)) as live:
        for api, send in SENDS.items():
            response = send(live, live.http)
            assert response.status_code == 429, api
            assert response.headers["Retry-After"] == "7", api
            assert RATE_LIMIT_SHAPES[api](response), (api, response.text)
        assert len(live.sandbox.store) == 0
        assert faults_seen(live) == {"429": 5}
        # Endpoints that send nothing are never faulted.
        assert live.http.get("/").status_code == 200


@pytest.mark.parametrize(
    ("status", "options"), [(500, FaultOptions(rate_500=1.0)), (503, FaultOptions(rate_503=1.0))]
)
def test_server_errors(status: int, options: FaultOptions) -> None:
    with live_sandbox(options) as live:
        for api, send in SENDS.items():
            assert send(live, live.http).status_code == status, api
        assert len(live.sandbox.store) == 0
        assert faults_seen(live) == {str(status): 5}


# --- slow answers ------------------------------------------------------------------------------


def test_slow_answer_times_the_client_out_but_the_message_is_accepted() -> None:
    with live_sandbox(FaultOptions(rate_slow=1.0, slow_seconds=0.6)) as live:
        with (
            httpx.Client(base_url=live.url, timeout=0.15) as impatient,
            pytest.raises(httpx.ReadTimeout),
        ):
            _resend(live, impatient)
        wait_until(
            lambda: len(live.sandbox.store) > 0,
            timeout=10,
            waiting_for="the slow request to be accepted",
        )

        started = time.monotonic()
        assert _postmark(live, live.http).status_code == 200
        assert time.monotonic() - started >= 0.6
        assert faults_seen(live) == {"slow": 2}


# --- dropped connections -----------------------------------------------------------------------


def test_drop_before_accepting_is_a_transport_error_and_stores_nothing() -> None:
    with server_errors() as logged, live_sandbox(FaultOptions(rate_drop_before=1.0)) as live:
        for api, send in SENDS.items():
            with (
                pytest.raises(httpx.TransportError) as caught,
                httpx.Client(base_url=live.url, timeout=5) as http,
            ):
                send(live, http)
            assert isinstance(caught.value, httpx.RemoteProtocolError | httpx.ReadError), api
        assert len(live.sandbox.store) == 0
        assert faults_seen(live) == {"drop_before": 5}
    assert logged == []


def test_drop_after_accepting_stores_the_message_but_loses_the_answer() -> None:
    with server_errors() as logged, live_sandbox(FaultOptions(rate_drop_after=1.0)) as live:
        for api, send in SENDS.items():
            with (
                pytest.raises(httpx.TransportError),
                httpx.Client(base_url=live.url, timeout=5) as http,
            ):
                send(live, http)
            assert any(m.api == api for m in live.sandbox.store.messages()), api
        ids = {m.recipients[0]: m.custom_id for m in live.sandbox.store.messages()}
        assert ids == CUSTOM_IDS
        assert faults_seen(live) == {"drop_after": 5}
    assert logged == []


def test_drop_works_when_mounted_inside_another_app() -> None:
    app, sandbox = create_sandbox_app(
        SandboxOptions(server_tokens=frozenset({TOKEN}), faults=FaultOptions(rate_drop_after=1.0))
    )
    parent = FastAPI()
    parent.mount("/sandbox", app)
    try:
        with ServerThread(parent, bind_socket("127.0.0.1", 0)) as server:
            with (
                pytest.raises(httpx.TransportError),
                httpx.Client(base_url=server.url + "/sandbox", timeout=5) as http,
            ):
                _postmark(LiveSandbox(server.url, sandbox, http), http)
            assert len(sandbox.store) == 1
            counts = httpx.get(server.url + "/sandbox/api/messages").json()["faults"]
            assert counts["drop_after"] == 1
    finally:
        sandbox.close()


def test_resend_idempotency_makes_a_lost_answer_safe_to_retry() -> None:
    """The exactly-once story: the answer is lost, the retry under the same key sends nothing."""

    options = seeded(FaultOptions(rate_drop_after=0.5), Fault.DROP_AFTER, None)
    with live_sandbox(options) as live:
        body = {"from": "p@acme.example", "to": "rs@news.example", "subject": "s", "text": "t"}
        headers = bearer() | {"Idempotency-Key": "release-7/message-5"}
        with pytest.raises(httpx.TransportError), httpx.Client(base_url=live.url) as http:
            http.post("/emails", json=body, headers=headers)
        retried = live.http.post("/emails", json=body, headers=headers)
        assert retried.status_code == 200
        (message,) = live.sandbox.store.messages()
        assert retried.json() == {"id": message.message_id}


def test_drop_without_a_reachable_transport_aborts_mid_answer() -> None:
    """Under a server whose receive/send do not expose a transport, the drop starts an answer
    and raises, so the server closes the connection: never a complete (500) answer."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(ConnectionDropped):
        asyncio.run(drop_connection(receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]


# --- decisions ---------------------------------------------------------------------------------


def test_a_seed_repeats_the_fault_sequence() -> None:
    options = FaultOptions(rate_429=0.2, rate_500=0.1, rate_drop_after=0.2, rate_slow=0.1, seed=7)
    injectors = [FaultInjector(options), FaultInjector(options)]
    runs = [[injector.decide() for _ in range(200)] for injector in injectors]
    assert runs[0] == runs[1]
    kinds = {fault for fault in runs[0] if fault is not None}
    assert kinds == {Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.DROP_AFTER, Fault.SLOW}
    assert 50 < runs[0].count(None) < 110  # about 40% answered normally
    counts = injectors[0].counts()
    assert counts["429"] == runs[0].count(Fault.RATE_LIMITED)
    assert counts["503"] == counts["drop_before"] == 0


def test_no_faults_configured_means_none_injected() -> None:
    injector = FaultInjector(FaultOptions())
    assert not injector.enabled
    assert {injector.decide() for _ in range(100)} == {None}
    assert set(injector.counts().values()) == {0}


def test_cli_help_lists_the_fault_flags(tmp_path: Path) -> None:
    done = run(
        tmp_path, "sandbox", "--help", env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    )
    assert done.returncode == 0, done.stderr
    for flag in (
        "--fault-429",
        "--fault-500",
        "--fault-503",
        "--fault-slow",
        "--slow-seconds",
        "--fault-drop-before",
        "--fault-drop-after",
        "--fault-seed",
        "--webhook-base",
        "--no-webhooks",
    ):
        assert flag in done.stdout, flag
