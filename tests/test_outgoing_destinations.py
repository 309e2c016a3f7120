"""Outgoing webhooks never reach an internal address: refused when registered (CLI and service)
and on every delivery, checked against the address actually connected to, so a name that
resolves elsewhere later (DNS rebinding) gains nothing. Resolvers are injected: they are the
network edge. Receivers listen on loopback; no test connects anywhere else."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from sqlalchemy import Engine

from distro.errors import ValidationError
from distro.models import EventType
from distro.outgoing.delivery import Deliverer
from distro.outgoing.destinations import (
    Address,
    Destinations,
    PinnedTransport,
    non_global_reason,
)
from distro.outgoing.endpoints import add_endpoint, delivery_log
from distro.outgoing.post import ANSWER_CHARS
from tests.cli_support import run, run_json
from tests.test_outgoing_webhooks import (
    SERVER_KEY,
    Receiver,
    Reply,
    hook_settings,
    register,
    store,
)
from tests.test_outgoing_webhooks_cli import ALLOW_LOOPBACK, one_line_error
from tests.tls_support import self_signed

PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
KEY = "[outgoing_webhooks] allow_private_addresses = true"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


class Dns:
    """A resolver answering from a table; each name's answers are used in turn, the last one
    repeating (a rebinding name answers differently the second time)."""

    def __init__(self, **names: list[list[Address]]) -> None:
        self.names = {name.replace("_", "."): answers for name, answers in names.items()}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[Address]:
        self.asked.append(host)
        answers = self.names.get(host)
        if answers is None:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return answers.pop(0) if len(answers) > 1 else answers[0]


# --- which addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.7", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "a shared address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 (an address to refuse)
        ("::", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::ffff:127.0.0.1", "a loopback address (as 127.0.0.1)"),
        ("::ffff:169.254.169.254", "a link-local address (as 169.254.169.254)"),
        ("2002:7f00:1::", "a loopback address (as 127.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "a link-local address (as 169.254.169.254)"),
        ("192.0.2.1", "a private address"),
    ],
)
def test_internal_addresses_are_named(address: str, reason: str) -> None:
    assert non_global_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert non_global_reason(ipaddress.ip_address(address)) is None


# --- at registration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://localhost:8080/in", "localhost is a name for this machine"),
        ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 is a loopback address (as 127.0.0.1)"),
        ("http://0.0.0.0:8000/", "0.0.0.0 is the unspecified address"),
        ("http://2130706433/", "2130706433 (127.0.0.1) is a loopback address"),
    ],
    ids=["postgres", "metadata", "localhost", "mapped", "unspecified", "decimal"],
)
def test_hooks_add_refuses_internal_destinations(
    strict_workspace: Path, url: str, named: str
) -> None:
    error = one_line_error(run(strict_workspace, "hooks", "add", url))
    assert f"URL {url!r}: {named}" in error
    assert f"unless {KEY}" in error
    assert run_json(strict_workspace, "hooks", "list", "--json") == []


@pytest.fixture(scope="module")
def strict_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised folder with the default configuration, for tests that change nothing."""
    folder = tmp_path_factory.mktemp("strict-hooks")
    assert run(folder, "init").returncode == 0
    return folder


def test_hooks_add_accepts_them_when_the_configuration_allows(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ALLOW_LOOPBACK, encoding="utf-8")
    assert run(tmp_path, "init").returncode == 0
    added = run_json(tmp_path, "hooks", "add", "http://127.0.0.1:5432/", "--json")
    assert added["url"] == "http://127.0.0.1:5432/"


def test_every_answer_of_a_name_is_checked_at_registration(engine: Engine) -> None:
    dns = Dns(
        hooks_partner_example=[[PUBLIC]],
        split_partner_example=[[PUBLIC, ipaddress.ip_address("10.1.2.3")]],
    )
    strict = Destinations(resolver=dns)
    hook, _ = add_endpoint(
        engine, "https://hooks.partner.example/in", SERVER_KEY, destinations=strict
    )
    assert hook.id is not None
    with pytest.raises(ValidationError) as caught:
        add_endpoint(engine, "https://split.partner.example/in", SERVER_KEY, destinations=strict)
    assert "split.partner.example (10.1.2.3) is a private address" in str(caught.value)
    with pytest.raises(ValidationError, match=r"nowhere\.partner\.example does not resolve"):
        add_endpoint(engine, "https://nowhere.partner.example/", SERVER_KEY, destinations=strict)
    # An internationalised name is resolved (and later sent as SNI) in its DNS form.
    dns.names["xn--bcher-kva.partner.example"] = [[ipaddress.ip_address("192.168.0.9")]]
    with pytest.raises(ValidationError, match=r"xn--bcher-kva\.partner\.example \(192"):
        add_endpoint(engine, "https://bücher.partner.example/", SERVER_KEY, destinations=strict)


# --- on delivery ----------------------------------------------------------------------------------


def test_a_hook_stored_before_is_refused_on_delivery_without_connecting(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.answer(Reply(200, body=b"internal: postgres 16.2 ready"))
    hook_id, _ = register(engine, receiver.url)  # as an older distro, or a looser config, did
    store(engine, EventType.DELIVERED, None, "ana@wire.example")
    deliverer = Deliverer(hook_settings(engine, allow_private_addresses=False), engine, SERVER_KEY)
    try:
        assert deliverer.run("worker") == 1
        ping = deliverer.ping(hook_id)
    finally:
        deliverer.close()
    assert receiver.requests == []
    assert not ping.ok
    assert ping.error is not None
    assert ping.error.startswith("refused: 127.0.0.1 is a loopback address")
    logged = delivery_log(engine, hook_id)
    assert [(row.ok, row.status_code) for row in logged] == [(False, None), (False, None)]
    assert all(KEY in (row.error or "") for row in logged)
    assert not any("postgres" in (row.error or "") for row in logged)


def test_hooks_test_refuses_a_stored_internal_hook(tmp_path: Path, receiver: Receiver) -> None:
    config = tmp_path / "config.toml"
    config.write_text(ALLOW_LOOPBACK, encoding="utf-8")
    assert run(tmp_path, "init").returncode == 0
    hook = run_json(tmp_path, "hooks", "add", receiver.url, "--json")
    config.write_text("", encoding="utf-8")  # the setting is read again on every delivery
    error = one_line_error(run(tmp_path, "hooks", "test", str(hook["id"])))
    assert f"ping to webhook {hook['id']} failed: refused: 127.0.0.1 is a loopback" in error
    assert KEY in error
    assert receiver.requests == []


def test_a_name_rebound_to_loopback_after_registration_is_refused(
    engine: Engine, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    dns = Dns(rebind_partner_example=[[PUBLIC], [LOOPBACK]])
    url = f"http://rebind.partner.example:{port}/hook"
    hook, _ = add_endpoint(engine, url, SERVER_KEY, destinations=Destinations(resolver=dns))
    store(engine, EventType.DELIVERED, None, "ana@wire.example")
    deliverer = Deliverer(
        hook_settings(engine, allow_private_addresses=False), engine, SERVER_KEY, resolver=dns
    )
    try:
        assert deliverer.run("worker") == 1
    finally:
        deliverer.close()
    assert receiver.requests == []
    assert hook.id is not None
    (row,) = delivery_log(engine, hook.id)
    assert row.error is not None
    assert "rebind.partner.example (127.0.0.1) is a loopback address" in row.error


def test_the_connection_goes_to_the_address_that_was_checked(engine: Engine) -> None:
    """The name resolves once per delivery; a second answer (loopback here) is never asked
    for, because the request is sent to the checked address with the name kept in Host/SNI."""
    dns = Dns(hooks_partner_example=[[PUBLIC], [PUBLIC], [LOOPBACK]])
    seen: list[tuple[str, str, Any]] = []

    def receiver_edge(request: httpx.Request) -> httpx.Response:
        seen.append(
            (request.url.host, request.headers["host"], request.extensions.get("sni_hostname"))
        )
        return httpx.Response(200)

    add_endpoint(
        engine,
        "https://hooks.partner.example/in",
        SERVER_KEY,
        destinations=Destinations(resolver=dns),
    )
    store(engine, EventType.DELIVERED, None, "ana@wire.example")
    deliverer = Deliverer(
        hook_settings(engine, allow_private_addresses=False),
        engine,
        SERVER_KEY,
        resolver=dns,
        transport=httpx.MockTransport(receiver_edge),
    )
    try:
        assert deliverer.run("worker") == 1
    finally:
        deliverer.close()
    assert seen == [("93.184.216.34", "hooks.partner.example", "hooks.partner.example")]
    assert dns.asked == ["hooks.partner.example", "hooks.partner.example"]  # add, then delivery


# --- TLS to a pinned address ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, list[str]]]:
    """An HTTPS server on loopback with a certificate for hooks.pinned.test only:
    (port, the certificate PEM to trust, the Host headers it saw)."""
    folder = tmp_path_factory.mktemp("pinned-tls")
    cert_file, key_file, pem = self_signed(
        folder, "hooks.pinned.test", x509.DNSName("hooks.pinned.test")
    )
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *_: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], pem, hosts
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_tls_is_verified_for_the_name_while_connecting_to_the_pinned_address(
    tls_receiver: tuple[int, str, list[str]],
) -> None:
    port, pem, hosts = tls_receiver
    dns = Dns(hooks_pinned_test=[[LOOPBACK]], other_pinned_test=[[LOOPBACK]])
    trusted = ssl.create_default_context(cadata=pem)
    transport = PinnedTransport(
        Destinations(allow_private=True, resolver=dns), httpx.HTTPTransport(verify=trusted)
    )
    with httpx.Client(transport=transport, trust_env=False) as client:
        answer = client.post(f"https://hooks.pinned.test:{port}/in", content=b"{}")
        assert answer.status_code == 204
        assert hosts == [f"hooks.pinned.test:{port}"]
        # Same address, another name: the certificate does not name it, so no request is made.
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
            client.post(f"https://other.pinned.test:{port}/in", content=b"{}")
    assert hosts == [f"hooks.pinned.test:{port}"]


# --- what the log keeps of an answer --------------------------------------------------------------


def test_an_answer_is_logged_short_and_on_one_line(engine: Engine, receiver: Receiver) -> None:
    body = b"\x1b[2J\x1b[31mdatabase dump:\r\nrow 1\n" + b"x" * 5000
    receiver.answer(Reply(500, body=body))
    hook_id, _ = register(engine, receiver.url)
    store(engine, EventType.DELIVERED, None, "ana@wire.example")
    deliverer = Deliverer(hook_settings(engine), engine, SERVER_KEY)
    try:
        assert deliverer.run("worker") == 1
    finally:
        deliverer.close()
    (row,) = delivery_log(engine, hook_id)
    assert row.error is not None
    assert row.error.startswith("HTTP 500: [2J [31mdatabase dump: row 1 xxx")
    assert len(row.error) == len("HTTP 500: ") + ANSWER_CHARS
    assert row.error.endswith("...")
    assert row.error.isprintable()
