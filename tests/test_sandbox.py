"""The sandbox ESP over real loopback HTTP: Postmark's API shapes, the inbox, and webhooks."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from distro.sandbox import Sandbox, SandboxOptions, WebhookOptions, create_sandbox_app
from distro.sandbox.webhooks import DELIVERY, HARD_BOUNCE, choose_outcome
from distro.web.server import ServerThread, bind_socket
from tests.waiting import wait_until

TOKEN = "sandbox-test-token"
HOOK_USER = "hooks"
HOOK_PASSWORD = "s3cret-hook-password"


class Receiver:
    """A tiny webhook endpoint that records what it gets and can fail the first N posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.posts: list[dict[str, Any]] = []  # every POST, including refused ones
        self.app = FastAPI()
        self.app.post("/hooks")(self.hook)

    async def hook(self, request: Request) -> JSONResponse:
        expected = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
        authorized = request.headers.get("authorization") == f"Basic {expected}"
        payload = await request.json()
        with self.lock:
            failing = self.fail_first > 0
            self.fail_first -= 1 if failing else 0
            status = 401 if not authorized else 500 if failing else 200
            self.posts.append({"payload": payload, "authorized": authorized, "status": status})
        return JSONResponse({"ok": status == 200}, status_code=status)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p["payload"] for p in self.posts if p["status"] == 200]


@dataclass
class Env:
    url: str
    sandbox: Sandbox
    receiver: Receiver
    http: httpx.Client


def _start(receiver: Receiver, attempts: int = 5) -> Iterator[Env]:
    with ServerThread(receiver.app, bind_socket("127.0.0.1", 0)) as hooks:
        options = SandboxOptions(
            server_tokens=frozenset({TOKEN, "second-token"}),
            webhooks=WebhookOptions(
                urls={"postmark": hooks.url + "/hooks"},
                basic_username=HOOK_USER,
                basic_password=HOOK_PASSWORD,
                attempts=attempts,
            ),
        )
        app, sandbox = create_sandbox_app(options)
        try:
            with (
                ServerThread(app, bind_socket("127.0.0.1", 0)) as server,
                httpx.Client(base_url=server.url, timeout=10) as http,
            ):
                yield Env(server.url, sandbox, receiver, http)
        finally:
            sandbox.close()


@pytest.fixture
def env() -> Iterator[Env]:
    yield from _start(Receiver())


@pytest.fixture
def flaky_env() -> Iterator[Env]:
    yield from _start(Receiver(fail_first=1))


def message(to: str = "jo@news.example", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "From": "Press Office <press@acme.example>",
        "To": to,
        "Subject": "Embargoed: Acme launches",
        "TextBody": "Hello",
        "HtmlBody": "<p>Hello</p>",
        "MessageStream": "broadcast",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def post(env: Env, path: str, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"X-Postmark-Server-Token": token} if token is not None else {}
    return env.http.post(path, json=body, headers=headers)


# --- authentication and request-level errors ---------------------------------------------


@pytest.mark.parametrize(
    ("token", "wording"), [(None, "No Account or Server API tokens"), ("wrong", "was invalid")]
)
def test_missing_or_unknown_token_is_refused(env: Env, token: str | None, wording: str) -> None:
    for path, body in (("/email", message()), ("/email/batch", [message()])):
        response = post(env, path, body, token=token)
        assert response.status_code == 401
        assert response.json()["ErrorCode"] == 10
        assert wording in response.json()["Message"]
    assert len(env.sandbox.store) == 0


def test_every_configured_token_is_accepted(env: Env) -> None:
    assert post(env, "/email", message(), token="second-token").status_code == 200


def test_invalid_json_answers_422_with_code_402(env: Env) -> None:
    for path in ("/email", "/email/batch"):
        response = env.http.post(
            path,
            content=b'{"From": ',
            headers={"X-Postmark-Server-Token": TOKEN, "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json() == {"ErrorCode": 402, "Message": "Received invalid JSON input."}


def test_non_json_content_type_answers_code_409(env: Env) -> None:
    response = env.http.post(
        "/email", content=b"From=a", headers={"X-Postmark-Server-Token": TOKEN}
    )
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 409


def test_batch_must_be_an_array(env: Env) -> None:
    response = post(env, "/email/batch", message())
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 403


def test_oversize_batch_is_refused_whole(env: Env) -> None:
    batch = [message(to=f"j{i}@news.example") for i in range(501)]
    response = post(env, "/email/batch", batch)
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 410
    assert len(env.sandbox.store) == 0


def test_batch_of_exactly_500_is_accepted(env: Env) -> None:
    batch = [message(to=f"j{i}@news.example") for i in range(500)]
    response = post(env, "/email/batch", batch)
    assert response.status_code == 200
    assert [r["ErrorCode"] for r in response.json()] == [0] * 500
    assert len(env.sandbox.store) == 500


# --- per-message validation ----------------------------------------------------------------

INVALID_MESSAGES = [
    pytest.param(message(From=None), "Invalid 'From' address: ''.", id="no-from"),
    pytest.param(message(From="not an address"), "'From'", id="bad-from"),
    pytest.param(message(to=""), "Zero recipients specified", id="no-to"),
    pytest.param(
        message(to="nope"),
        "Error parsing 'To': Illegal email address 'nope'. It must contain the '@' symbol.",
        id="to-without-at",
    ),
    pytest.param(message(to="jo@bad_domain!"), "Illegal email domain", id="bad-domain"),
    pytest.param(message(Cc="x"), "Error parsing 'Cc'", id="bad-cc"),
    pytest.param(
        message(to=", ".join(f"r{i}@news.example" for i in range(51))),
        "maximum of 50 recipients",
        id="51-recipients",
    ),
    pytest.param(
        message(
            to=", ".join(f"r{i}@news.example" for i in range(30)),
            Bcc=", ".join(f"b{i}@news.example" for i in range(21)),
        ),
        "maximum of 50 recipients",
        id="to-plus-bcc-over-50",
    ),
    pytest.param(
        message(TextBody=None, HtmlBody=None),
        "Provide either email TextBody or HtmlBody or both.",
        id="no-body",
    ),
    pytest.param(message(Headers={"X-A": "b"}), "'Headers'", id="headers-not-list"),
    pytest.param(message(Headers=[{"Name": "X-A"}]), "'Headers'", id="header-without-value"),
    pytest.param(message(Metadata={"a": {"b": "c"}}), "'Metadata'", id="nested-metadata"),
    pytest.param(message(Metadata=["a"]), "'Metadata'", id="metadata-not-object"),
    pytest.param(message(TrackLinks="Always"), "'TrackLinks'", id="bad-tracklinks"),
    pytest.param(message(Subject=5), "'Subject'", id="subject-not-string"),
]


@pytest.mark.parametrize(("body", "wording"), INVALID_MESSAGES)
def test_single_invalid_message_answers_422_code_300(
    env: Env, body: dict[str, Any], wording: str
) -> None:
    response = post(env, "/email", body)
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 300
    assert wording in response.json()["Message"]
    assert len(env.sandbox.store) == 0


def test_exactly_50_recipients_is_fine(env: Env) -> None:
    to = ", ".join(f"r{i}@news.example" for i in range(50))
    assert post(env, "/email", message(to=to)).json()["ErrorCode"] == 0


def test_accepted_message_answer_and_store(env: Env) -> None:
    body = message(
        to='"Jo, Reporter" <Jo@News.example>',
        Cc="desk@news.example",
        Headers=[{"Name": "List-Unsubscribe", "Value": "<https://x.example/u/t>"}],
        Metadata={"distro_message_id": "42"},
        Tag="release-7",
    )
    response = post(env, "/email", body)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"To", "SubmittedAt", "MessageID", "ErrorCode", "Message"}
    assert (answer["To"], answer["ErrorCode"], answer["Message"]) == (body["To"], 0, "OK")
    assert uuid.UUID(answer["MessageID"])

    full = env.http.get(f"/api/messages/{answer['MessageID']}").json()
    assert full["From"] == "Press Office <press@acme.example>"
    assert full["Recipients"] == ["jo@news.example", "desk@news.example"]
    assert full["Headers"] == body["Headers"]
    assert full["Metadata"] == {"distro_message_id": "42"}
    assert (full["Tag"], full["MessageStream"], full["Cc"]) == (
        "release-7",
        "broadcast",
        "desk@news.example",
    )


def test_batch_with_invalid_messages_answers_in_position(env: Env) -> None:
    batch = [
        message(to="a@news.example"),
        message(to="nope"),
        message(to="b@news.example", TextBody=None, HtmlBody=None),
        "not an object",
        message(to="c@news.example"),
    ]
    response = post(env, "/email/batch", batch)
    assert response.status_code == 200
    results = response.json()
    assert [r["ErrorCode"] for r in results] == [0, 300, 300, 403, 0]
    assert results[0]["To"] == "a@news.example"
    assert results[4]["To"] == "c@news.example"
    assert "MessageID" not in results[1]
    assert env.sandbox.store.recipient_counts() == {"a@news.example": 1, "c@news.example": 1}


# --- JSON listing --------------------------------------------------------------------------


def test_listing_counts_filters_and_clears(env: Env) -> None:
    post(env, "/email/batch", [message(to="a@news.example"), message(to="b@news.example")])
    post(env, "/email", message(to="A@news.example", Subject="second"))

    listing = env.http.get("/api/messages").json()
    assert listing["count"] == 3
    assert listing["recipients"] == {"a@news.example": 2, "b@news.example": 1}
    assert listing["apis"] == {"postmark": 3}
    assert listing["messages"][0]["Subject"] == "second"  # newest first

    only_a = env.http.get("/api/messages", params={"to": "a@news.example"}).json()
    assert only_a["count"] == 2
    assert only_a["recipients"] == {"a@news.example": 2}
    assert all("a@news.example" in m["To"].lower() for m in only_a["messages"])

    assert env.http.get("/api/messages/not-a-message").status_code == 404
    assert env.http.delete("/api/messages").json() == {"deleted": 3}
    empty = env.http.get("/api/messages").json()
    assert (empty["count"], empty["recipients"], empty["messages"]) == (0, {}, [])
    assert empty["apis"] == {}
    assert set(empty["faults"]) == {"429", "500", "503", "slow", "drop_before", "drop_after"}


# --- inbox pages ---------------------------------------------------------------------------


def test_inbox_and_message_pages_escape_content(env: Env) -> None:
    evil = "<script>alert(1)</script> & more"
    html_body = '<p onclick="x()">Hi "there"</p><script>steal()</script>'
    answer = post(
        env, "/email", message(Subject=evil, HtmlBody=html_body, TextBody="Plain <b>text</b>")
    ).json()
    post(env, "/email", message(Subject="Older? no, newer"))

    inbox = env.http.get("/")
    assert inbox.status_code == 200
    assert inbox.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)" not in inbox.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in inbox.text
    assert f'href="/messages/{answer["MessageID"]}"' in inbox.text
    assert inbox.text.index("Older? no, newer") < inbox.text.index("&lt;script&gt;alert(1)")

    page = env.http.get(f"/messages/{answer['MessageID']}")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Plain &lt;b&gt;text&lt;/b&gt;" in page.text
    escaped_body = (
        "&lt;p onclick=&#34;x()&#34;&gt;Hi &#34;there&#34;&lt;/p&gt;"
        "&lt;script&gt;steal()&lt;/script&gt;"
    )
    assert f'<iframe sandbox title="HTML part of the message" srcdoc="{escaped_body}">' in page.text
    assert "press@acme.example" in page.text

    assert env.http.get("/messages/unknown").status_code == 404


def test_empty_inbox_renders(env: Env) -> None:
    page = env.http.get("/")
    assert page.status_code == 200
    assert "No messages yet" in page.text


def test_mounted_app_links_stay_under_the_mount() -> None:
    app, sandbox = create_sandbox_app(SandboxOptions(server_tokens=frozenset({TOKEN})))
    parent = FastAPI()
    parent.mount("/sandbox", app)
    try:
        with (
            ServerThread(parent, bind_socket("127.0.0.1", 0)) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            sent = http.post(
                "/sandbox/email", json=message(), headers={"X-Postmark-Server-Token": TOKEN}
            ).json()
            inbox = http.get("/sandbox/")
            assert f'href="/sandbox/messages/{sent["MessageID"]}"' in inbox.text
            assert http.get(f"/sandbox/messages/{sent['MessageID']}").status_code == 200
            assert http.get("/sandbox/api/messages").json()["count"] == 1
    finally:
        sandbox.close()


# --- webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        ("bounce@news.example", HARD_BOUNCE),
        ("Bounce+42@news.example", HARD_BOUNCE),
        ("bouncer@news.example", DELIVERY),
        ("no.bounce@news.example", DELIVERY),
        ("jo@bounce.example", DELIVERY),
    ],
)
def test_choose_outcome(address: str, outcome: str) -> None:
    assert choose_outcome(address) == outcome


def test_delivery_and_bounce_webhooks(env: Env) -> None:
    body = message(
        to="jo@news.example, bounce+7@news.example",
        Metadata={"distro_message_id": "9"},
        Tag="rel",
    )
    message_id = post(env, "/email", body).json()["MessageID"]
    assert env.sandbox.wait_idle(10)

    assert [p["authorized"] for p in env.receiver.posts] == [True, True]
    by_type = {p["RecordType"]: p for p in env.receiver.accepted()}
    assert set(by_type) == {"Delivery", "Bounce"}

    delivery = by_type["Delivery"]
    assert delivery["MessageID"] == message_id
    assert delivery["Recipient"] == "jo@news.example"
    assert delivery["Metadata"] == {"distro_message_id": "9"}
    assert (delivery["Tag"], delivery["MessageStream"]) == ("rel", "broadcast")
    assert isinstance(delivery["ServerID"], int)
    assert delivery["Details"]
    assert delivery["DeliveredAt"].endswith("+00:00")

    bounce = by_type["Bounce"]
    assert (bounce["Type"], bounce["TypeCode"], bounce["Inactive"]) == ("HardBounce", 1, True)
    assert bounce["Email"] == "bounce+7@news.example"
    assert bounce["MessageID"] == message_id
    assert bounce["Metadata"] == {"distro_message_id": "9"}
    assert isinstance(bounce["ID"], int)
    assert bounce["BouncedAt"].endswith("+00:00")
    assert "550" in bounce["Details"]


def test_webhook_is_retried_after_a_500(flaky_env: Env) -> None:
    message_id = post(flaky_env, "/email", message()).json()["MessageID"]
    assert flaky_env.sandbox.wait_idle(10)
    statuses = [(p["payload"]["MessageID"], p["status"]) for p in flaky_env.receiver.posts]
    assert statuses == [(message_id, 500), (message_id, 200)]


def is_dispatcher(thread: threading.Thread) -> bool:
    """A thread of a sandbox's webhook dispatcher (distro.sandbox.webhooks)."""
    return thread.name.startswith("sandbox-webhooks")


def test_webhooks_give_up_after_the_configured_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    before = set(threading.enumerate())
    dead = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{dead.getsockname()[1]}/hooks"
    dead.close()  # nothing listens there: every attempt is a connection error
    app, sandbox = create_sandbox_app(
        SandboxOptions(
            server_tokens=frozenset({TOKEN}),
            webhooks=WebhookOptions(urls={"postmark": url}, attempts=2),
        )
    )
    try:
        with ServerThread(app, bind_socket("127.0.0.1", 0)) as server:
            response = httpx.post(
                server.url + "/email", json=message(), headers={"X-Postmark-Server-Token": TOKEN}
            )
            assert response.json()["ErrorCode"] == 0
            assert sandbox.wait_idle(10)
    finally:
        flushed: list[bool] = []
        wait_idle = sandbox.webhooks.wait_idle

        def noting(timeout: float) -> bool:
            flushed.append(wait_idle(timeout))
            return flushed[-1]

        monkeypatch.setattr(sandbox.webhooks, "wait_idle", noting)
        sandbox.close()
    # Closing does not sit out either of its bounded waits: nothing was left to flush (giving
    # up ended every job) and each dispatcher thread stopped when told, before its join ran out.
    assert flushed == [True]
    assert not [t for t in set(threading.enumerate()) - before if is_dispatcher(t)]


def test_no_webhook_url_means_no_threads() -> None:
    app, sandbox = create_sandbox_app(SandboxOptions(server_tokens=frozenset({TOKEN})))
    before = {t.name for t in threading.enumerate()}
    with ServerThread(app, bind_socket("127.0.0.1", 0)) as server:
        httpx.post(
            server.url + "/email", json=message(), headers={"X-Postmark-Server-Token": TOKEN}
        )
    assert sandbox.wait_idle(0.1)
    assert not {t.name for t in threading.enumerate()} - before - {"distro-http"}
    sandbox.close()
    assert len(sandbox.store) == 1


def test_close_stops_dispatcher_threads(env: Env) -> None:
    post(env, "/email", message())
    assert any(t.name.startswith("sandbox-webhooks") for t in threading.enumerate())
    env.sandbox.close()
    assert len(env.receiver.accepted()) == 1  # flushed before stopping
    wait_until(
        lambda: not any(is_dispatcher(t) for t in threading.enumerate()),
        timeout=10,
        waiting_for="the dispatcher threads to end",
    )


# --- standalone ----------------------------------------------------------------------------


def test_run_standalone_serves_until_interrupted() -> None:
    probe = bind_socket("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    script = (
        "from distro.sandbox import SandboxOptions, run_standalone\n"
        f"run_standalone('127.0.0.1', {port}, SandboxOptions(frozenset({{'{TOKEN}'}})))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def post_once_listening() -> list[httpx.Response]:
        try:
            return [
                httpx.post(
                    f"http://127.0.0.1:{port}/email",
                    json=message(),
                    headers={"X-Postmark-Server-Token": TOKEN},
                )
            ]
        except httpx.ConnectError:  # not listening yet
            assert process.poll() is None, process.communicate()[0]
            return []

    try:
        (answer,) = wait_until(
            post_once_listening, timeout=20, waiting_for="the standalone sandbox to start"
        )
        assert answer.json()["ErrorCode"] == 0
        assert httpx.get(f"http://127.0.0.1:{port}/api/messages").json()["count"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output
