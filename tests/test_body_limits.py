"""Request body limits per class of route, enforced as bodies stream in, before any handler reads
or authenticates them; and a real `distro serve` whose memory stays flat under large bodies."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from distro.config import load_settings
from distro.errors import ConfigError
from tests.cli_support import free_port, run, start, stop, wait_http
from tests.conftest import LiveDistro

MiB = 1 << 20
CHUNK = b"x" * (64 << 10)


def raw_post(
    url: str,
    path: str,
    size: int,
    *,
    chunked: bool,
    headers: dict[str, str] | None = None,
    chunk: bytes = CHUNK,
) -> tuple[int, dict[str, str], bytes]:
    """POST ``size`` bytes to ``path``, streamed, reading the answer as soon as it comes.

    A server that answers before the body is complete (as a limit should) is heard at once;
    the rest is not sent. Returns (status, lower-cased headers, body).
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{framing}\r\n{extra}\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < size and not select.select([sock], [], [], 0)[0]:
                piece = chunk[: size - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if sent >= size and chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped listening: its answer is already on the way
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise AssertionError(f"connection closed before an answer: {data!r}")
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return int(status_line.split()[1]), headers, body[:length]


@pytest.fixture
def live(engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(engine)


def assert_refused(answer: tuple[int, dict[str, str], bytes], limit: int) -> None:
    status, headers, body = answer
    assert status == 413, (status, body)
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413
    assert f"at most {limit} bytes" in problem["detail"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_webhook_body_over_its_limit_is_refused_before_authentication(
    live: LiveDistro, chunked: bool
) -> None:
    limit = live.settings.limits.webhook_body
    assert_refused(raw_post(live.url, "/webhooks/mailgun", limit + 1, chunked=chunked), limit)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_webhook_body_at_its_limit_reaches_the_handler(live: LiveDistro, chunked: bool) -> None:
    limit = live.settings.limits.webhook_body
    status, _, body = raw_post(live.url, "/webhooks/postmark", limit, chunked=chunked)
    assert status == 401, body  # read whole, then refused for want of credentials


def test_the_forms_take_far_less_than_webhooks(live: LiveDistro) -> None:
    limit = live.settings.limits.form_body
    assert limit < live.settings.limits.webhook_body
    # Declared: refused before the handler runs, whatever the token. (A chunked body is counted
    # as the handler reads it; this one would not read it, its token being no good.)
    answer = raw_post(live.url, "/u/some-token/beats", limit + 1, chunked=False)
    assert_refused(answer, limit)
    small = httpx.post(f"{live.url}/u/some-token/beats", data={"beat": "energy"}, timeout=10)
    assert small.status_code == 404  # read, and the token found wanting


def test_every_other_route_takes_only_a_small_body(live: LiveDistro) -> None:
    limit = live.settings.limits.other_body
    assert_refused(raw_post(live.url, "/releases/anything", limit + 1, chunked=False), limit)
    assert_refused(raw_post(live.url, "/no/such/route", limit + 1, chunked=False), limit)


def test_the_mounted_sandbox_takes_provider_sized_batches(live: LiveDistro) -> None:
    """The sandbox emulates providers whose own limits are large (Postmark: 50 MB a batch)."""
    token = live.settings.provider("sandbox").server_token.get_secret_value()  # type: ignore[union-attr]
    text = "y" * (2 * MiB)  # over the webhook limit's half, far over the form and other limits
    batch = [
        {"From": "news@acme.example", "To": f"r{i}@wire.example", "Subject": "s", "TextBody": text}
        for i in range(3)
    ]
    answer = httpx.post(
        f"{live.url}/sandbox/email/batch",
        json=batch,
        headers={"X-Postmark-Server-Token": token},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert [item["ErrorCode"] for item in answer.json()] == [0, 0, 0]
    limit = live.settings.limits.sandbox_body
    assert_refused(raw_post(live.url, "/sandbox/email/batch", limit + 1, chunked=False), limit)


def test_limits_come_from_config(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine, limits={"webhook_body": "1KiB", "form_body": 100})
    assert_refused(raw_post(live.url, "/webhooks/postmark", 1025, chunked=True), 1024)
    status, _, _ = raw_post(live.url, "/webhooks/postmark", 1024, chunked=True)
    assert status == 401
    assert_refused(raw_post(live.url, "/u/token", 101, chunked=False), 100)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"lots"', "could not parse"),
        ("0", "greater than or equal to 1"),
        ('"2GiB"', "less than or equal to 1073741824"),
    ],
)
def test_a_bad_limit_names_the_key_and_the_file(tmp_path: Path, value: str, reason: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[limits]\nwebhook_body = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "limits.webhook_body:" in message
    assert reason in message
    assert str(path) in message


# --- memory under attack, on a real `distro serve` ------------------------------------------


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    (line,) = (line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


def reset_peak_rss(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    # Without it the peak since start-up is the baseline: a looser, still valid check.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A `distro serve` process with the shipped defaults: its URL and pid."""
    assert run(tmp_path, "init").returncode == 0
    port = free_port()
    process = start(tmp_path, "serve", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz")
        yield url, process.pid
    finally:
        stop(process)


def test_parallel_50mb_posts_are_refused_with_flat_memory(served: tuple[str, int]) -> None:
    """The probe: eight parallel unauthenticated 50 MB POSTs to /webhooks/mailgun took the
    server from 143 MB to 579 MB. Half declare their length, half are chunked."""
    url, pid = served
    size = 50 * MiB
    # Warm up every path taken below, so the baseline holds what they load.
    raw_post(url, "/webhooks/mailgun", size, chunked=False)
    raw_post(url, "/webhooks/mailgun", size, chunked=True)
    reset_peak_rss(pid)
    baseline = peak_rss_kib(pid)

    answers: list[Any] = []
    lock = threading.Lock()

    def attack(chunked: bool) -> None:
        answer = raw_post(url, "/webhooks/mailgun", size, chunked=chunked)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=attack, args=(i % 2 == 1,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    growth_mib = (peak_rss_kib(pid) - baseline) / 1024

    assert [status for status, _, _ in answers] == [413] * 8
    # At most one webhook limit (4 MiB) per chunked request is held before it is refused.
    assert growth_mib < 40, f"the server grew by {growth_mib:.0f} MiB"
